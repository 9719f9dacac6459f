using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests.Proxy;

/// <summary>
/// The mirror signs in to its upstream as real registry clients do: Basic (htpasswd upstream), a credential helper
/// (<c>proxy.exec</c>), and the Docker token flow against a real token service, one token per scope and lifetime.
/// </summary>
public sealed class UpstreamAuthenticationTests : IDisposable
{
    private readonly AuthSandbox _sandbox = new();

    [Fact]
    public async Task HtpasswdUpstream_WithProxyCredentials_Pulls_AndAWrongPasswordIsAnUpstreamErrorNot401()
    {
        var htpasswd = _sandbox.WriteHtpasswd(("mirror", "s3cret"));
        var upstreamAuth = $"auth:\n  htpasswd:\n    realm: upstream\n    path: '{htpasswd}'\n";
        await using var setup = await ProxySetup.StartAsync(proxyYaml: "  username: mirror\n  password: s3cret\n  tagcheckinterval: 0s",
            upstreamYaml: upstreamAuth);
        using var pusher = Basic(setup.Upstream, "mirror", "s3cret");
        var image = await pusher.PushImageAsync("team/private", "v1");
        var unseen = await pusher.PushImageAsync("team/private", "v2");

        await PullThroughCacheTests.PullWholeImageAsync(setup.Mirror.Client, "team/private", "v1", image);

        // A revoked credential: cached content keeps being served, content never seen is a 502 naming the upstream.
        await setup.RestartMirrorAsync(proxyYaml: "  username: mirror\n  password: wrong\n  tagcheckinterval: 0s");
        await PullThroughCacheTests.PullWholeImageAsync(setup.Mirror.Client, "team/private", "v1", image);
        using var refused = await PullThroughCacheTests.GetManifestAsync(setup.Mirror.Client, "team/private", unseen.Manifest.Digest);
        var errors = await OciAssert.ErrorAsync(refused, HttpStatusCode.BadGateway, "UNAVAILABLE");
        Assert.Contains("refused", errors[0].GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(refused.Headers.Contains("WWW-Authenticate"));
    }

    [Fact]
    public async Task CredentialHelper_IsAskedWithTheHost_AndItsAnswerIsReused()
    {
        var htpasswd = _sandbox.WriteHtpasswd(("helper-user", "helper-pass"));
        var calls = _sandbox.Combine("helper-calls");
        var helper = _sandbox.Combine("docker-credential-test");
        await File.WriteAllTextAsync(helper,
            $"#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread host\necho \"$host\" >> '{calls}'\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"helper-user\",\"Secret\":\"helper-pass\"}}' \"$host\"\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(helper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var upstreamAuth = $"auth:\n  htpasswd:\n    realm: upstream\n    path: '{htpasswd}'\n";
        await using var setup = await ProxySetup.StartAsync(proxyYaml: $"  exec:\n    command: '{helper}'\n    lifetime: 1h",
            upstreamYaml: upstreamAuth);
        using var pusher = Basic(setup.Upstream, "helper-user", "helper-pass");
        var image = await pusher.PushImageAsync("team/helped", "v1");

        await PullThroughCacheTests.PullWholeImageAsync(setup.Mirror.Client, "team/helped", "v1", image);

        var asked = await File.ReadAllLinesAsync(calls);
        Assert.Single(asked);
        Assert.Equal("127.0.0.1", asked[0]);
    }

    [Fact]
    public async Task TokenUpstream_ConcurrentPulls_FetchOneTokenPerScope_WithTheConfiguredCredentials()
    {
        await using var tokens = await UpstreamTokenService.StartAsync(_sandbox.Directory);
        await using var setup = await ProxySetup.StartAsync(proxyYaml: "  username: robot\n  password: robot-pass", upstreamYaml: tokens.AuthYaml());
        using var pusher = setup.Upstream.CreateClient();
        pusher.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens.PushToken("team/tokened"));
        var image = await pusher.PushImageAsync("team/tokened", "v1", layerSize: 50_000);
        tokens.RequiredCredentials = ("robot", "robot-pass");

        var pulls = Enumerable.Range(0, 8).Select(async _ =>
        {
            using var client = setup.Mirror.CreateClient();
            await PullThroughCacheTests.PullWholeImageAsync(client, "team/tokened", "v1", image);
        });
        await Task.WhenAll(pulls);

        Assert.Equal(["repository:team/tokened:pull"], tokens.Requests);
    }

    [Fact]
    public async Task TokenUpstream_Anonymous_GetsAnonymousTokens_AndRenewsThemWhenTheyExpire()
    {
        await using var tokens = await UpstreamTokenService.StartAsync(_sandbox.Directory);
        tokens.ExpiresInSeconds = 5;
        await using var setup = await ProxySetup.StartAsync(proxyYaml: "  tagcheckinterval: 0s", upstreamYaml: tokens.AuthYaml());
        using var pusher = setup.Upstream.CreateClient();
        pusher.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens.PushToken("library/public"));
        var image = await pusher.PushImageAsync("library/public", "v1");

        await PullThroughCacheTests.PullWholeImageAsync(setup.Mirror.Client, "library/public", "v1", image);
        Assert.Single(tokens.Requests);
        await Task.Delay(5500);
        await PullThroughCacheTests.PullWholeImageAsync(setup.Mirror.Client, "library/public", "v1", image);

        Assert.Equal(2, tokens.Requests.Count);
    }

    [Fact]
    public async Task TokenUpstream_InsufficientScope_IsUnknownContentWithOneRetry()
    {
        await using var tokens = await UpstreamTokenService.StartAsync(_sandbox.Directory);
        tokens.Unknown.Add("nobody/nothing");
        await using var setup = await ProxySetup.StartAsync(upstreamYaml: tokens.AuthYaml());

        using var manifest = await PullThroughCacheTests.GetManifestAsync(setup.Mirror.Client, "nobody/nothing", "latest");

        await OciAssert.ErrorAsync(manifest, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        Assert.Equal(2, setup.Injector.Count("HEAD", "/manifests/latest"));
        Assert.Single(tokens.Requests);
    }

    private static HttpClient Basic(BerthServer server, string user, string password)
    {
        var client = server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return client;
    }

    public void Dispose() => _sandbox.Dispose();
}
