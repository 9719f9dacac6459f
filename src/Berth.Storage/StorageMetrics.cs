using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Berth.Storage;

/// <summary>The storage layer's instruments (meter <c>Berth.Storage</c>).</summary>
public static class StorageMetrics
{
    public const string MeterName = "Berth.Storage";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Histogram<double> OperationDuration = Meter.CreateHistogram<double>(
        "operation.duration", unit: "s", description: "Storage driver call latency");

    private static readonly Counter<long> OperationErrors = Meter.CreateCounter<long>(
        "operation.errors", description: "Storage driver calls that failed (not-found excluded)");

    private static readonly Counter<long> CacheLookups = Meter.CreateCounter<long>(
        "blob_descriptor_cache.lookups", description: "Blob descriptor cache lookups by cache kind and result (hit or miss)");

    internal static void RecordCacheLookup(string kind, bool hit)
    {
        if (kind != "none")
        {
            CacheLookups.Add(1, new TagList { { "cache", kind }, { "result", hit ? "hit" : "miss" } });
        }
    }

    internal static void Record(string driver, string operation, long startTimestamp, bool failed)
    {
        var tags = new TagList { { "driver", driver }, { "operation", operation } };
        OperationDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
        if (failed)
        {
            OperationErrors.Add(1, tags);
        }
    }
}
