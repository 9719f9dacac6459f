using System.Net;
using System.Net.Sockets;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// The debug listener's Prometheus endpoint on a real host: after a push and a pull it exports Berth's series, the
/// runtime's and Kestrel's connection meter, and nothing from the framework's per-request meters, the HTTP client's
/// (this test process's own client makes those measurements) or the event-counter listener.
/// </summary>
public sealed class PrometheusMetricsTests : IAsyncLifetime
{
    /// <summary>The families the endpoint may export, by name prefix.</summary>
    private static readonly string[] AllowedFamilies =
    [
        "berth_",
        "system_runtime_dotnet_", // the System.Runtime meter
        "microsoft_aspnetcore_server_kestrel_kestrel_", // Kestrel's meter (per connection)
        "process_", "dotnet_", // prometheus-net's process figures
        "prometheus_net_", // prometheus-net's own counts of what it exports
    ];

    private readonly AuthSandbox _sandbox = new();
    private AuthTestServer _server = null!;
    private int _debugPort;

    public async Task InitializeAsync()
    {
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            _debugPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        _server = await _sandbox.StartAsync("", $"""
              debug:
                addr: 127.0.0.1:{_debugPort}
                prometheus:
                  enabled: true
                  path: /metrics

            """);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _sandbox.Dispose();
    }

    [Fact]
    public async Task Metrics_AfterPushAndPull_ExportBerthRuntimeAndKestrelSeriesOnly()
    {
        using var client = _server.Client();
        var image = await client.PushImageAsync("metrics/app", "v1");
        using (var pull = await client.GetAsync(new Uri($"/v2/metrics/app/blobs/{image.Layer.Digest}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        }

        using var scraper = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_debugPort}"), Timeout = TimeSpan.FromSeconds(30) };
        var text = "";
        var complete = await Eventually.TrueAsync(async () =>
        {
            text = await scraper.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            return text.Contains("berth_http_requests{method=\"PUT\",route=\"Manifest\",status=\"201\"}", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(20));
        Assert.True(complete, "the manifest push is not counted:\n" + text);

        var families = text.Split('\n')
            .Where(line => line.StartsWith("# TYPE ", StringComparison.Ordinal))
            .Select(line => line.Split(' ')[2])
            .ToList();
        Assert.Contains(families, name => name == "berth_storage_operation_duration");
        Assert.Contains(families, name => name == "berth_http_request_duration");
        Assert.Contains(families, name => name.StartsWith("system_runtime_dotnet_gc_", StringComparison.Ordinal));
        Assert.Contains(families, name => name == "microsoft_aspnetcore_server_kestrel_kestrel_active_connections");
        Assert.Contains(families, name => name == "process_cpu_seconds_total");

        var foreign = families.Where(name => !AllowedFamilies.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal))).ToList();
        Assert.True(foreign.Count == 0, "exported beyond Berth's, the runtime's and Kestrel's meters: " + string.Join(", ", foreign));
    }
}
