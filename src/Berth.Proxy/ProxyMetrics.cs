using System.Diagnostics.Metrics;

namespace Berth.Proxy;

/// <summary>The pull-through cache's counters (meter <c>Berth.Proxy</c>, exported with the others at <c>/metrics</c>).</summary>
internal static class ProxyMetrics
{
    public const string MeterName = "Berth.Proxy";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Lookups = Meter.CreateCounter<long>("cache.lookups",
        description: "Proxied blob and manifest requests, by upstream, kind (blob, manifest) and result (hit, miss)");

    private static readonly Counter<long> UpstreamRequests = Meter.CreateCounter<long>("upstream.requests",
        description: "Requests sent to upstreams, by upstream and status (0 when no answer came)");

    private static readonly Counter<long> BytesFetched = Meter.CreateCounter<long>("upstream.fetched.bytes", unit: "By",
        description: "Blob bytes received from upstreams");

    private static readonly Counter<long> BytesServedFromCache = Meter.CreateCounter<long>("cache.served.bytes", unit: "By",
        description: "Proxied blob bytes served from the cache without asking the upstream");

    private static readonly Counter<long> Coalesced = Meter.CreateCounter<long>("coalesced",
        description: "Requests that joined a fetch another request had already started, by upstream and kind");

    private static readonly Counter<long> StaleServes = Meter.CreateCounter<long>("stale.serves",
        description: "Tags answered from the cache because the upstream failed");

    public static void RecordLookup(string upstream, string kind, bool hit) =>
        Lookups.Add(1, new("upstream", upstream), new("kind", kind), new("result", hit ? "hit" : "miss"));

    public static void RecordUpstreamRequest(string upstream, int status) =>
        UpstreamRequests.Add(1, new("upstream", upstream), new("status", status));

    public static void RecordFetched(string upstream, long bytes) => BytesFetched.Add(bytes, new KeyValuePair<string, object?>("upstream", upstream));

    public static void RecordServedFromCache(string upstream, long bytes) =>
        BytesServedFromCache.Add(bytes, new KeyValuePair<string, object?>("upstream", upstream));

    public static void RecordCoalesced(string upstream, string kind) => Coalesced.Add(1, new("upstream", upstream), new("kind", kind));

    public static void RecordStaleServe(string upstream) => StaleServes.Add(1, new KeyValuePair<string, object?>("upstream", upstream));
}
