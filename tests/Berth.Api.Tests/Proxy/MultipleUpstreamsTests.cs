using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests.Proxy;

/// <summary>
/// Berth's <c>proxy.upstreams</c>: several registries mirrored in one process under repository prefixes, reachable
/// also the way containerd asks mirrors (<c>?ns=</c>), beside local repositories that accept pushes.
/// </summary>
public sealed class MultipleUpstreamsTests : IAsyncLifetime
{
    private readonly AuthSandbox _sandbox = new();
    private BerthServer _hub = null!;
    private BerthServer _ghcr = null!;

    public async Task InitializeAsync()
    {
        _hub = await BerthServer.StartAsync();
        _ghcr = await BerthServer.StartAsync();
    }

    [Fact]
    public async Task EachPrefix_PullsFromItsUpstream_LocalRepositoriesTakePushes_MirrorsDoNot()
    {
        var fromHub = await _hub.Client.PushImageAsync("library/alpine", "3.20");
        var fromGhcr = await _ghcr.Client.PushImageAsync("owner/tool", "v1");
        await using var mirror = await BerthServer.StartAsync(new BerthServerOptions { ExtraYaml = UpstreamsYaml() });

        await PullThroughCacheTests.PullWholeImageAsync(mirror.Client, "hub/library/alpine", "3.20", fromHub);
        await PullThroughCacheTests.PullWholeImageAsync(mirror.Client, "ghcr/owner/tool", "v1", fromGhcr);
        using (var wrongUpstream = await PullThroughCacheTests.GetManifestAsync(mirror.Client, "ghcr/library/alpine", "3.20"))
        {
            await OciAssert.ErrorAsync(wrongUpstream, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        }

        var local = await mirror.Client.PushImageAsync("team/app", "1.0");
        await PullThroughCacheTests.PullWholeImageAsync(mirror.Client, "team/app", "1.0", local);
        using var refused = await mirror.Client.SendAsync(HttpMethod.Post, "/v2/hub/library/alpine/blobs/uploads/");
        await OciAssert.ErrorAsync(refused, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");

        using var catalog = await mirror.Client.SendAsync(HttpMethod.Get, "/v2/_catalog");
        var text = await catalog.Content.ReadAsStringAsync();
        Assert.Contains("\"hub/library/alpine\"", text, StringComparison.Ordinal);
        Assert.Contains("\"team/app\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ContainerdNamespace_RoutesByHost_AndSharesTheCacheWithThePrefix()
    {
        var image = await _hub.Client.PushImageAsync("library/busybox", "1");
        await using var mirror = await BerthServer.StartAsync(new BerthServerOptions { ExtraYaml = UpstreamsYaml() });

        await PullThroughCacheTests.PullWholeImageAsync(mirror.Client, "library/busybox", "1", image, query: "?ns=docker.io");
        using (var layer = await mirror.Client.SendAsync(HttpMethod.Get, $"/v2/library/busybox/blobs/{image.Layer.Digest}?ns=docker.io"))
        {
            Assert.Equal(image.LayerBytes, await layer.Content.ReadAsByteArrayAsync());
        }

        // The same content under the prefix is a cache hit.
        using var byPrefix = await mirror.Client.SendAsync(HttpMethod.Get, $"/v2/hub/library/busybox/blobs/{image.Layer.Digest}");
        Assert.Equal(image.LayerBytes, await byPrefix.Content.ReadAsByteArrayAsync());

        // Without ns, library/busybox is a local repository, and there is none.
        using var local = await PullThroughCacheTests.GetManifestAsync(mirror.Client, "library/busybox", "1");
        await OciAssert.ErrorAsync(local, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Fact]
    public async Task DefaultUpstream_AnswersUnprefixedNamesNoLocalRepositoryHolds_AsTheDockerEngineAsks()
    {
        var image = await _hub.Client.PushImageAsync("library/nginx", "1.27");
        var shadowed = await _hub.Client.PushImageAsync("team/tool", "v1");
        await using var mirror = await BerthServer.StartAsync(new BerthServerOptions { ExtraYaml = UpstreamsYaml(defaultUpstream: true) });
        var local = await mirror.Client.PushImageAsync("team/tool", "v1");

        // The Docker engine asks a mirror for library/nginx as it is; it comes from the default upstream, cached under hub/.
        await PullThroughCacheTests.PullWholeImageAsync(mirror.Client, "library/nginx", "1.27", image);
        Assert.True(Directory.Exists(Path.Combine(mirror.StorageRoot, "docker/registry/v2/repositories/hub/library/nginx")));
        Assert.False(Directory.Exists(Path.Combine(mirror.StorageRoot, "docker/registry/v2/repositories/library/nginx")));

        // A local repository of the same name wins, for reads and writes.
        await PullThroughCacheTests.PullWholeImageAsync(mirror.Client, "team/tool", "v1", local);
        Assert.NotEqual(shadowed.Manifest.Digest, local.Manifest.Digest);
    }

    [Fact]
    public async Task AccessRules_ApplyToMirroredRepositories_HoweverTheClientNamesThem()
    {
        var image = await _hub.Client.PushImageAsync("library/secret", "1");
        var htpasswd = _sandbox.WriteHtpasswd(("alice", "alice-pass"), ("bob", "bob-pass"));
        var yaml = UpstreamsYaml() + $"""

            auth:
              htpasswd:
                realm: mirror
                path: '{htpasswd}'
            access:
              rules:
                - repositories: ["hub/**"]
                  users: [alice]
                  actions: [pull]
            """;
        await using var mirror = await BerthServer.StartAsync(new BerthServerOptions { ExtraYaml = yaml });
        using var alice = Basic(mirror, "alice", "alice-pass");
        using var bob = Basic(mirror, "bob", "bob-pass");

        await PullThroughCacheTests.PullWholeImageAsync(alice, "hub/library/secret", "1", image);
        using (var denied = await PullThroughCacheTests.GetManifestAsync(bob, "hub/library/secret", "1"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        }

        using var deniedByNamespace = await PullThroughCacheTests.GetManifestAsync(bob, "library/secret", "1?ns=docker.io");
        Assert.Equal(HttpStatusCode.Forbidden, deniedByNamespace.StatusCode);
    }

    private string UpstreamsYaml(bool defaultUpstream = false) => $"""
        proxy:
          upstreams:
            - name: dockerhub
              prefix: hub
              remoteurl: {_hub.BaseAddress}
              hosts: [docker.io]
              default: {(defaultUpstream ? "true" : "false")}
            - prefix: ghcr
              remoteurl: {_ghcr.BaseAddress}
              hosts: [ghcr.io]
        """;

    private static HttpClient Basic(BerthServer server, string user, string password)
    {
        var client = server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return client;
    }

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        await _ghcr.DisposeAsync();
        _sandbox.Dispose();
    }
}
