using System.Net;
using System.Text;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// htpasswd with a strict failed-login limiter (3 failures per hour, no slow-down) behind a trusted "proxy"
/// (127.0.0.1 itself), so each test is its own client through <c>X-Forwarded-For</c>.
/// </summary>
public sealed class LimitedRegistryFixture : IAsyncLifetime
{
    private readonly AuthSandbox _sandbox = new();

    public AuthTestServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var path = _sandbox.WriteHtpasswd(("alice", "alice-pw"));
        Server = await _sandbox.StartAsync($"""
            auth:
              htpasswd:
                realm: Limited
                path: '{path}'
            access:
              failedlogins:
                threshold: 3
                limit: 3
                window: 1h
                trustedproxies: [127.0.0.1]
            """);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        _sandbox.Dispose();
    }
}

public sealed class AuthHardeningTests(LimitedRegistryFixture fixture) : IClassFixture<LimitedRegistryFixture>
{
    private readonly AuthTestServer _server = fixture.Server;
    private static int s_nextClient;

    /// <summary>A client address no other test uses: the limiter's memory outlives each test.</summary>
    private static string NewClientAddress()
    {
        var n = Interlocked.Increment(ref s_nextClient);
        return $"198.51.{n / 250}.{(n % 250) + 1}";
    }

    private static string Basic(string user, string password) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));

    private async Task<HttpResponseMessage> GetAsync(string path, string client, string? authorization)
    {
        using var http = _server.Client();
        var headers = new List<(string, string)> { ("X-Forwarded-For", client) };
        if (authorization is not null)
        {
            headers.Add(("Authorization", authorization));
        }

        return await http.SendAsync(HttpMethod.Get, path, null, [.. headers]);
    }

    [Fact]
    public async Task RepeatedFailedLogins_Are429WithRetryAfter_OtherClientsUnaffected()
    {
        var attacker = NewClientAddress();
        for (var i = 0; i < 3; i++)
        {
            using var failed = await GetAsync("/v2/", attacker, Basic("alice", $"guess-{i}"));
            await OciAssert.ErrorAsync(failed, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        }

        // Even the right password is refused now: guessing must stop, not continue at the same pace.
        using var throttled = await GetAsync("/v2/", attacker, Basic("alice", "alice-pw"));
        using var bystander = await GetAsync("/v2/", NewClientAddress(), Basic("alice", "alice-pw"));

        await OciAssert.ErrorAsync(throttled, HttpStatusCode.TooManyRequests, "TOOMANYREQUESTS");
        Assert.True(int.Parse(throttled.Header("Retry-After")!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        await OciAssert.StatusAsync(bystander, HttpStatusCode.OK);
    }

    [Fact]
    public async Task ParallelGuesses_AreCountedAsTheyArrive()
    {
        var attacker = NewClientAddress();
        var attempts = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => GetAsync("/v2/", attacker, Basic("alice", $"parallel-{i}"))));
        var statuses = attempts.Select(r => (int)r.StatusCode).ToList();
        foreach (var attempt in attempts)
        {
            attempt.Dispose();
        }

        Assert.All(statuses, status => Assert.True(status is 401 or 429, $"status {status}"));
        Assert.Contains(429, statuses);
        using var after = await GetAsync("/v2/", attacker, Basic("alice", "alice-pw"));
        Assert.Equal(HttpStatusCode.TooManyRequests, after.StatusCode);
    }

    [Fact]
    public async Task SuccessfulLogins_NeverThrottle()
    {
        var client = NewClientAddress();
        for (var i = 0; i < 20; i++)
        {
            using var response = await GetAsync("/v2/", client, Basic("alice", "alice-pw"));
            await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        }
    }

    public static TheoryData<string> MalformedAuthorization => new()
    {
        "Basic",
        "Basic ",
        "Basic !!!!",
        "Basic " + Convert.ToBase64String("no-colon"u8.ToArray()),
        "Basic " + Convert.ToBase64String(":password-only"u8.ToArray()),
        "Basic " + Convert.ToBase64String([0x61, 0x3a, 0xc3, 0x28]),
        "Basic " + new string('A', 6000),
        "Bearer eyJhbGciOiJub25lIn0.e30.",
        "Digest username=\"alice\"",
        "basic\tYWxpY2U6YWxpY2UtcHc=",
        "=?utf-8?b?x?=",
        "Basic YWxpY2U6YWxpY2UtcHc=, Basic YWxpY2U6YWxpY2UtcHc=",
    };

    [Theory]
    [MemberData(nameof(MalformedAuthorization))]
    public async Task MalformedAuthorizationHeaders_Are401NeverAServerError(string header)
    {
        var response = await RawHttp.SendAsync(_server.BaseAddress, "GET", "/v2/team/app/tags/list", null,
            ("Authorization", header), ("X-Forwarded-For", NewClientAddress()));

        Assert.Equal(401, response.Status);
        Assert.Equal("Basic realm=\"Limited\"", response.Header("WWW-Authenticate"));
        Assert.Equal("registry/2.0", response.Header("Docker-Distribution-API-Version"));
        OciAssert.ParseErrorBody(response.BodyText);
    }

    [Fact]
    public async Task TwoAuthorizationHeaders_Are401()
    {
        var response = await RawHttp.SendAsync(_server.BaseAddress, "GET", "/v2/", null,
            ("Authorization", Basic("alice", "alice-pw")), ("Authorization", Basic("alice", "alice-pw")), ("X-Forwarded-For", NewClientAddress()));

        Assert.Equal(401, response.Status);
    }

    [Fact]
    public async Task ControlCharactersInCredentials_Are401()
    {
        var response = await RawHttp.SendAsync(_server.BaseAddress, "GET", "/v2/", null,
            ("Authorization", Basic("alice\r\nX-Injected: 1", "pw\0")), ("X-Forwarded-For", NewClientAddress()));

        Assert.Equal(401, response.Status);
        Assert.Null(response.Header("X-Injected"));
    }

    [Fact]
    public async Task HugeHeaders_Are431()
    {
        var response = await RawHttp.SendAsync(_server.BaseAddress, "GET", "/v2/", null, ("Authorization", "Basic " + new string('A', 100_000)));

        Assert.Equal(431, response.Status);
    }

    [Fact]
    public async Task ManyHeaders_Are431()
    {
        var headers = Enumerable.Range(0, 2000).Select(i => ($"X-Filler-{i}", new string('x', 40))).ToArray();

        var response = await RawHttp.SendAsync(_server.BaseAddress, "GET", "/v2/", null, headers);

        Assert.Equal(431, response.Status);
    }

    [Theory]
    [InlineData("/v2/caf%C3%A9/manifests/latest")]
    [InlineData("/v2/%00/manifests/latest")]
    [InlineData("/v2/a%0d%0aX-Injected:%201/manifests/latest")]
    [InlineData("/v2/../../etc/passwd")]
    [InlineData("/v2/" + "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a" + "/manifests/x")]
    public async Task HostilePaths_AreChallengedOrRefusedNeverAServerError(string path)
    {
        var response = await RawHttp.SendAsync(_server.BaseAddress, "GET", path, null, ("X-Forwarded-For", NewClientAddress()));

        Assert.True(response.Status is 400 or 401 or 404, $"{path}: {response}");
        Assert.Null(response.Header("X-Injected"));
    }

    [Fact]
    public async Task ErrorBodies_CarryNoPathsOrStackTraces()
    {
        using var client = _server.Client("alice", "alice-pw");
        using var response = await client.GetAsync(new Uri("/v2/UPPER/manifests/latest", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain("/tmp", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
    }
}
