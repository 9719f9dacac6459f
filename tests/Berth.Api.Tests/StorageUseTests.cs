using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// htpasswd with rules (anonymous pull of <c>public/**</c>, alice pulls and pushes <c>team/**</c>, admin everything), a quota
/// on <c>team/**</c>, Prometheus on the debug listener; admin pushes three images that share one layer.
/// </summary>
public sealed partial class StorageUseFixture : IAsyncLifetime
{
    public const int SharedLayerSize = 3_000;

    private readonly AuthSandbox _sandbox = new();

    public AuthTestServer Server { get; private set; } = null!;

    public int DebugPort { get; private set; }

    /// <summary>Per repository: what it links (config, own layer, shared layer, manifest) and its own layer's size.</summary>
    public Dictionary<string, (long Bytes, long Exclusive)> Expected { get; } = [];

    public long SharedLayer => SharedLayerSize;

    /// <summary>When the last push finished: a walk started after it sees all three images.</summary>
    public DateTimeOffset PushedAt { get; private set; }

    public async Task InitializeAsync()
    {
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            DebugPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var htpasswd = _sandbox.WriteHtpasswd(("admin", "admin-pw"), ("alice", "alice-pw"));
        Server = await _sandbox.StartAsync($"""
            auth:
              htpasswd:
                realm: Usage Realm
                path: '{htpasswd}'
            access:
              rules:
                - repositories: ["public/**"]
                  anonymous: [pull]
                - repositories: ["team/**"]
                  users: [alice]
                  actions: [pull, push]
                - repositories: ["**"]
                  users: [admin]
                  actions: ["*"]
            quotas:
              - repositories: ["team/**"]
                limit: 1MiB
            usage:
              maxage: 1s
            """, $"""
              debug:
                addr: 127.0.0.1:{DebugPort}
                prometheus:
                  enabled: true
                  path: /metrics

            """);
        Assert.NotEqual(DebugPort, Server.BaseAddress.Port);

        using var admin = Server.Client("admin", "admin-pw");
        var shared = Oci.RandomBytes(SharedLayerSize);
        foreach (var (repository, ownLayer) in new[] { ("public/app", 1_000), ("team/app", 2_000), ("secret/app", 4_000) })
        {
            var configBytes = Oci.ConfigJson();
            var config = await admin.PushBlobAsync(repository, configBytes, Oci.ImageConfig);
            var own = await admin.PushBlobAsync(repository, Oci.RandomBytes(ownLayer), Oci.ImageLayer);
            var sharedLayer = await admin.PushBlobAsync(repository, shared, Oci.ImageLayer);
            var manifest = Oci.Manifest(config, [own, sharedLayer]);
            await admin.PushManifestAsync(repository, "v1", Oci.ImageManifest, manifest);
            var exclusive = configBytes.Length + ownLayer + manifest.Length;
            Expected[repository] = (exclusive + SharedLayerSize, exclusive);
        }

        PushedAt = DateTimeOffset.UtcNow;
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        _sandbox.Dispose();
    }
}

public sealed partial class StorageUseTests(StorageUseFixture fixture) : IClassFixture<StorageUseFixture>
{
    private readonly AuthTestServer _server = fixture.Server;

    [Fact]
    public async Task Usage_ForAdmin_ListsEveryRepositoryBothWays_WithTotalsAndWhenTaken()
    {
        using var admin = _server.Client("admin", "admin-pw");
        var before = DateTimeOffset.UtcNow.AddMinutes(-5);

        var usage = await UsageAsync(admin);

        var rows = Rows(usage);
        Assert.Equal(["public/app", "secret/app", "team/app"], rows.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, (bytes, exclusive)) in fixture.Expected)
        {
            Assert.Equal(bytes, rows[name].GetProperty("bytes").GetInt64());
            Assert.Equal(4, rows[name].GetProperty("blobs").GetInt32());
            Assert.Equal(exclusive, rows[name].GetProperty("exclusiveBytes").GetInt64());
            Assert.Equal(3, rows[name].GetProperty("exclusiveBlobs").GetInt32());
        }

        var total = usage.GetProperty("total");
        Assert.Equal(3, total.GetProperty("repositories").GetInt32());
        Assert.Equal(fixture.Expected.Values.Sum(e => e.Exclusive) + fixture.SharedLayer, total.GetProperty("bytes").GetInt64());
        Assert.Equal(10, total.GetProperty("blobs").GetInt32());
        Assert.Equal(fixture.Expected.Values.Sum(e => e.Bytes), total.GetProperty("repositoryBytes").GetInt64());
        var takenAt = DateTimeOffset.Parse(usage.GetProperty("takenAt").GetString()!, CultureInfo.InvariantCulture);
        Assert.InRange(takenAt, before, DateTimeOffset.UtcNow);

        // The quota of team/** counts the image: every blob its manifest reaches.
        var quota = rows["team/app"].GetProperty("quota");
        Assert.Equal("quotas.0", quota.GetProperty("rule").GetString());
        Assert.Equal(1L << 20, quota.GetProperty("limitBytes").GetInt64());
        Assert.Equal(fixture.Expected["team/app"].Bytes, quota.GetProperty("usedBytes").GetInt64());
        Assert.False(rows["public/app"].TryGetProperty("quota", out _));
    }

    [Fact]
    public async Task Usage_Anonymous_SeesOnlyWhatAnonymousMayPull_EvenInTheTotals()
    {
        using var anonymous = _server.Client();

        var usage = await UsageAsync(anonymous);

        var row = Assert.Single(Rows(usage));
        Assert.Equal("public/app", row.Key);
        var total = usage.GetProperty("total");
        Assert.Equal(1, total.GetProperty("repositories").GetInt32());
        Assert.Equal(fixture.Expected["public/app"].Bytes, total.GetProperty("bytes").GetInt64());
        Assert.Equal(4, total.GetProperty("blobs").GetInt32());
    }

    [Fact]
    public async Task Usage_ForAlice_HidesWhatSheMayNotPull_AndDeduplicatesWhatSheSees()
    {
        using var alice = _server.Client("alice", "alice-pw");

        var usage = await UsageAsync(alice);

        var rows = Rows(usage);
        Assert.Equal(["public/app", "team/app"], rows.Keys.Order(StringComparer.Ordinal));
        var total = usage.GetProperty("total");
        Assert.Equal(fixture.Expected["public/app"].Exclusive + fixture.Expected["team/app"].Exclusive + fixture.SharedLayer,
            total.GetProperty("bytes").GetInt64());
        Assert.Equal(7, total.GetProperty("blobs").GetInt32());
        Assert.Equal(fixture.Expected["public/app"].Bytes + fixture.Expected["team/app"].Bytes, total.GetProperty("repositoryBytes").GetInt64());
    }

    [Fact]
    public async Task Usage_WithAWrongPassword_IsChallengedWithAnOciBody()
    {
        using var wrong = _server.Client("alice", "not-her-password");

        using var response = await wrong.GetAsync(new Uri("/api/v1/usage", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Basic realm=\"Usage Realm\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        var error = Assert.Single(await OciAssert.ErrorBodyAsync(response));
        Assert.Equal("UNAUTHORIZED", error.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("POST", "/api/v1/usage", "GET, HEAD")]
    [InlineData("DELETE", "/api/v1/usage", "GET, HEAD")]
    [InlineData("PUT", "/", "GET")]
    [InlineData("DELETE", "/sign-in", "GET, POST")]
    public async Task BerthsOwnEndpoints_AMethodTheyDoNotServe_Is405WithAnOciBodyAndAllow(string method, string path, string allow)
    {
        using var admin = _server.Client("admin", "admin-pw");
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));

        using var response = await admin.SendAsync(request);

        var error = Assert.Single(await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED"));
        Assert.Contains(method, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(allow, string.Join(", ", response.Content.Headers.Allow));
    }

    [Fact]
    public async Task Metrics_OnTheDebugListener_ExportTotalsRepositoriesAndQuotas()
    {
        using var scraper = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{fixture.DebugPort}"), Timeout = TimeSpan.FromSeconds(30) };
        using var admin = _server.Client("admin", "admin-pw");
        // Reading the quota once makes its figure known to the gauges (they never read storage on a scrape).
        await UsageAsync(admin);
        var text = "";

        // The first scrape may start the walk; its figures appear on a later one.
        var complete = await Eventually.TrueAsync(async () =>
        {
            text = await scraper.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            return Sample(text, "berth_usage_bytes", null) is not null
                && Sample(text, "berth_usage_repository_bytes", "team/app") is not null
                && Sample(text, "berth_quota_used_bytes", "team/app") is not null;
        }, TimeSpan.FromSeconds(20));

        Assert.True(complete, "usage series missing:\n" + string.Join('\n', text.Split('\n').Where(line => line.Contains("berth_", StringComparison.Ordinal))));
        Assert.Equal(fixture.Expected.Values.Sum(e => e.Exclusive) + fixture.SharedLayer, Sample(text, "berth_usage_bytes", null));
        Assert.Equal(10, Sample(text, "berth_usage_blobs", null));
        Assert.Equal(3, Sample(text, "berth_usage_repositories", null));
        Assert.Equal(fixture.Expected["secret/app"].Bytes, Sample(text, "berth_usage_repository_bytes", "secret/app"));
        Assert.Equal(fixture.Expected["secret/app"].Exclusive, Sample(text, "berth_usage_repository_exclusive_bytes", "secret/app"));
        Assert.Equal(1L << 20, Sample(text, "berth_quota_limit_bytes", "team/app"));
        Assert.Equal(fixture.Expected["team/app"].Bytes, Sample(text, "berth_quota_used_bytes", "team/app"));

        // The registry listener does not serve them.
        using var onRegistry = await admin.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.NotEqual(HttpStatusCode.OK, onRegistry.StatusCode);
    }

    /// <summary>
    /// The figures of a walk started after the fixture's pushes. The endpoint answers from the last walk and starts the
    /// next one when that is older than <c>usage.maxage</c> (1s here), so a walk begun before the pushes (the debug
    /// listener's first metrics collection starts one) may answer first; ask again until a later one has (at most 15 s).
    /// </summary>
    private async Task<JsonElement> UsageAsync(HttpClient client)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            using var response = await client.GetAsync(new Uri("/api/v1/usage", UriKind.Relative));
            var text = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
                continue;
            }

            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            using var body = JsonDocument.Parse(text);
            var takenAt = DateTimeOffset.Parse(body.RootElement.GetProperty("takenAt").GetString()!, CultureInfo.InvariantCulture);
            if (takenAt >= fixture.PushedAt || DateTime.UtcNow >= deadline)
            {
                return body.RootElement.Clone();
            }

            await Task.Delay(200);
        }
    }

    private static Dictionary<string, JsonElement> Rows(JsonElement usage) =>
        usage.GetProperty("repositories").EnumerateArray().ToDictionary(row => row.GetProperty("name").GetString()!, row => row);

    /// <summary>The value of <paramref name="metric"/> (with that repository label, or without labels), or null.</summary>
    private static double? Sample(string exposition, string metric, string? repository)
    {
        foreach (var line in exposition.Split('\n'))
        {
            var match = SampleLine().Match(line);
            if (!match.Success || match.Groups["name"].Value != metric)
            {
                continue;
            }

            var labels = match.Groups["labels"].Value;
            var matches = repository is null
                ? labels.Length == 0
                : labels.Contains($"repository=\"{repository}\"", StringComparison.Ordinal);
            if (matches)
            {
                return double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    [GeneratedRegex(@"^(?<name>[a-z_]+)(\{(?<labels>[^}]*)\})? (?<value>[0-9.eE+-]+)")]
    private static partial Regex SampleLine();
}
