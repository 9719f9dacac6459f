using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Berth.Server.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests;

/// <summary>
/// The start-up summary <c>berth serve</c> logs once it listens. Checked through the structured fields of the log
/// entry rather than its wording, so rephrasing the message does not break the tests.
/// </summary>
public sealed class StartupSummaryTests : IDisposable
{
    private const int StartupSummaryEventId = 3006;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "berth-startup-tests-" + Guid.NewGuid().ToString("N"));

    public StartupSummaryTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Serve_FilesystemHtpasswdDeleteAndDebug_LogsOneSummaryWithTheRealAddressesAndSettings()
    {
        var root = Path.Combine(_directory, "data");
        var htpasswd = Path.Combine(_directory, "htpasswd");
        await File.WriteAllTextAsync(htpasswd, $"alice:{BCrypt.Net.BCrypt.HashPassword("a", 4)}\n");
        var debugPort = FreePort();
        var loaded = LoadYaml($"""
            version: 0.1
            storage:
              filesystem:
                rootdirectory: {root}
              delete:
                enabled: true
            auth:
              htpasswd:
                realm: Registry
                path: {htpasswd}
            http:
              addr: 127.0.0.1:0
              secret: startup-summary-tests
              debug:
                addr: 127.0.0.1:{debugPort}
                prometheus:
                  enabled: true

            """);

        var summary = await StartAndCaptureSummaryAsync(loaded);

        // Port 0 was resolved: the summary names the port clients can reach.
        var address = Assert.Single(Split(summary["Addresses"]));
        Assert.StartsWith("http://127.0.0.1:", address, StringComparison.Ordinal);
        Assert.NotEqual(0, new Uri(address).Port);
        Assert.NotEqual(debugPort, new Uri(address).Port);
        Assert.Equal("off", summary["Tls"]);
        Assert.Equal("filesystem", summary["StorageDriver"]);
        Assert.Equal(root, summary["StorageLocation"]);
        Assert.Contains("htpasswd", summary["Auth"], StringComparison.Ordinal);
        Assert.Contains(htpasswd, summary["Auth"], StringComparison.Ordinal);
        Assert.Equal("on", summary["Delete"]);
        Assert.Equal("off", summary["ReadOnly"]);
        Assert.Contains($"127.0.0.1:{debugPort}", summary["DebugListener"], StringComparison.Ordinal);
        Assert.Contains("/metrics", summary["DebugListener"], StringComparison.Ordinal);
        Assert.Equal(BerthCommandLine.Version, summary["Version"]);
    }

    [Fact]
    public async Task Serve_InMemoryAnonymousReadOnly_SaysSoAndHasNoDebugListener()
    {
        var loaded = LoadYaml("""
            version: 0.1
            storage:
              inmemory: {}
              maintenance:
                readonly:
                  enabled: true
            http:
              addr: 127.0.0.1:0
              secret: startup-summary-tests

            """);

        var summary = await StartAndCaptureSummaryAsync(loaded);

        Assert.Equal("inmemory", summary["StorageDriver"]);
        Assert.StartsWith("none", summary["Auth"], StringComparison.Ordinal);
        Assert.Equal("off", summary["Delete"]);
        Assert.Equal("on", summary["ReadOnly"]);
        Assert.Equal("off", summary["DebugListener"]);
    }

    [Fact]
    public void Describe_S3WithEndpointAndPrefix_NamesBucketPrefixAndServer()
    {
        var loaded = LoadYaml("""
            version: 0.1
            storage:
              s3:
                regionendpoint: http://127.0.0.1:9000
                bucket: registry
                rootdirectory: /berth
                accesskey: AKIAQ3EGQ7ZZXQ5ZR2LQ
                secretkey: never-in-a-log-line
            http:
              tls:
                certificate: /etc/berth/cert.pem
                key: /etc/berth/key.pem

            """);

        var summary = StartupSummary.Describe(loaded.Configuration, ["https://[::]:5000"], tlsEnabled: true);

        Assert.Equal("s3", summary.StorageDriver);
        Assert.Contains("registry", summary.StorageLocation, StringComparison.Ordinal);
        Assert.Contains("/berth", summary.StorageLocation, StringComparison.Ordinal);
        Assert.Contains("http://127.0.0.1:9000", summary.StorageLocation, StringComparison.Ordinal);
        Assert.Equal("on", summary.Tls);
        Assert.DoesNotContain("never-in-a-log-line", summary.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("AKIA", summary.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_TokenAuth_NamesRealmAndService()
    {
        var loaded = LoadYaml("""
            version: 0.1
            auth:
              token:
                realm: https://auth.example.test/token
                service: registry.example.test
                issuer: example-issuer
                rootcertbundle: /etc/berth/token.pem

            """);

        var summary = StartupSummary.Describe(loaded.Configuration, [], tlsEnabled: false);

        Assert.StartsWith("token", summary.Auth, StringComparison.Ordinal);
        Assert.Contains("https://auth.example.test/token", summary.Auth, StringComparison.Ordinal);
        Assert.Contains("registry.example.test", summary.Auth, StringComparison.Ordinal);
        // Before Kestrel binds, the configured address is all there is to say.
        Assert.Equal(":5000", summary.Addresses);
    }

    [Theory]
    [InlineData("", "none")]
    [InlineData("  cache:\n    blobdescriptor: inmemory\n", "inmemory (10000 entries)")]
    [InlineData("  cache:\n    blobdescriptor: redis\nredis:\n  addr: redis.internal:6379\n  db: 2\n  password: not-in-the-summary\n", "redis (redis.internal:6379, db 2)")]
    public void Describe_BlobDescriptorCache_NamesKindAndWhere(string cacheYaml, string expected)
    {
        var loaded = LoadYaml("version: 0.1\nstorage:\n  inmemory:\n" + cacheYaml);

        var summary = StartupSummary.Describe(loaded.Configuration, [], tlsEnabled: false);

        Assert.Equal(expected, summary.BlobDescriptorCache);
        Assert.DoesNotContain("not-in-the-summary", summary.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "registry")]
    [InlineData("proxy:\n  remoteurl: https://registry-1.docker.io\n  tagcheckinterval: 1m\n",
        "pull-through cache of https://registry-1.docker.io/ (read-only for clients; tags checked every 1m; content kept 168h)")]
    [InlineData("proxy:\n  remoteurl: https://registry-1.docker.io\n  ttl: 0s\n",
        "pull-through cache of https://registry-1.docker.io/ (read-only for clients; tags checked every 30s; content kept until deleted)")]
    [InlineData("proxy:\n  upstreams:\n    - prefix: ghcr\n      remoteurl: https://ghcr.io\n",
        "registry, mirroring ghcr/ from https://ghcr.io/ (ns ghcr.io)")]
    public void DescribeMode_ProxySection_SaysWhatTheRegistryIs(string proxyYaml, string expected)
    {
        var loaded = LoadYaml("version: 0.1\nstorage:\n  inmemory:\n" + proxyYaml);

        Assert.Equal(expected, StartupSummary.Describe(loaded.Configuration, [], tlsEnabled: false).Mode);
    }

    /// <summary>Starts the host on its loopback port, returns the fields of the summary entry, and stops it.</summary>
    private static async Task<IReadOnlyDictionary<string, string>> StartAndCaptureSummaryAsync(ConfigurationLoadResult loaded)
    {
        using var capture = new CapturingLoggerProvider();
        await using var app = RegistryHost.Build(loaded.Configuration, loaded.Warnings);
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(capture);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        await app.StartAsync(timeout.Token);
        try
        {
            var summaries = capture.Entries.Where(entry => entry.EventId.Id == StartupSummaryEventId).ToList();
            var summary = Assert.Single(summaries);
            Assert.Equal(LogLevel.Information, summary.Level);
            return summary.Fields;
        }
        finally
        {
            await app.StopAsync(timeout.Token);
        }
    }

    private static string[] Split(string addresses) => addresses.Split(", ", StringSplitOptions.RemoveEmptyEntries);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed record CapturedEntry(EventId EventId, LogLevel Level, IReadOnlyDictionary<string, string> Fields);

    /// <summary>Keeps every entry's structured fields (the named placeholders of its message template).</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<CapturedEntry> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new CapturingLogger(Entries);

        public void Dispose()
        {
        }

        private sealed class CapturingLogger(ConcurrentQueue<CapturedEntry> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var fields = (state as IEnumerable<KeyValuePair<string, object?>> ?? [])
                    .ToDictionary(pair => pair.Key, pair => Convert.ToString(pair.Value, System.Globalization.CultureInfo.InvariantCulture) ?? "");
                entries.Enqueue(new CapturedEntry(eventId, logLevel, fields));
            }
        }
    }
}
