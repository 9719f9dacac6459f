using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// htpasswd with access rules: anonymous pull of <c>public/**</c>, the devs group pushes to <c>team/**</c>,
/// everyone signed in pushes to their own <c>users/NAME/**</c> (one rule per user here), admin may do everything.
/// </summary>
public sealed class PolicyRegistryFixture : IAsyncLifetime
{
    private readonly AuthSandbox _sandbox = new();

    public AuthTestServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var path = _sandbox.WriteHtpasswd(("admin", "admin-pw"), ("alice", "alice-pw"), ("bob", "bob-pw"));
        Server = await _sandbox.StartAsync($"""
            auth:
              htpasswd:
                realm: Policy Realm
                path: '{path}'
            access:
              groups:
                devs: [alice]
              rules:
                - repositories: ["public/**"]
                  anonymous: [pull]
                - repositories: ["team/**"]
                  groups: [devs]
                  actions: [pull, push]
                - repositories: ["users/bob/**"]
                  users: [bob]
                  actions: ["*"]
                - repositories: ["**"]
                  users: [admin]
                  actions: ["*"]
              catalog:
                authenticated: false
                users: [admin]
            """);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        _sandbox.Dispose();
    }
}

public sealed class AuthPolicyTests(PolicyRegistryFixture fixture) : IClassFixture<PolicyRegistryFixture>
{
    private readonly AuthTestServer _server = fixture.Server;

    private HttpClient Admin => _server.Client("admin", "admin-pw");

    [Fact]
    public async Task AnonymousPull_OfPublic_Works_WithNoHeaderAndWithEmptyBasicCredentials()
    {
        using var admin = Admin;
        var repository = Oci.UniqueRepository("public");
        var image = await admin.PushImageAsync(repository, "v1");

        using var anonymous = _server.Client();
        using var manifest = await anonymous.GetAsync(new Uri($"/v2/{repository}/manifests/v1", UriKind.Relative));
        using var podmanStyle = await anonymous.SendAsync(HttpMethod.Get, $"/v2/{repository}/blobs/{image.Layer.Digest}", null, ("Authorization", "Basic Og=="));
        using var tags = await anonymous.GetAsync(new Uri($"/v2/{repository}/tags/list", UriKind.Relative));

        await OciAssert.StatusAsync(manifest, HttpStatusCode.OK);
        Assert.Equal(image.ManifestBytes, await manifest.Content.ReadAsByteArrayAsync());
        await OciAssert.StatusAsync(podmanStyle, HttpStatusCode.OK);
        Assert.Equal(image.LayerBytes, await podmanStyle.Content.ReadAsByteArrayAsync());
        await OciAssert.StatusAsync(tags, HttpStatusCode.OK);
    }

    [Fact]
    public async Task AnonymousPush_ToPublic_IsChallenged()
    {
        using var anonymous = _server.Client();
        using var response = await anonymous.PostAsync(new Uri($"/v2/{Oci.UniqueRepository("public")}/blobs/uploads/", UriKind.Relative), null);

        await OciAssert.ErrorAsync(response, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal("Basic realm=\"Policy Realm\"", response.Header("WWW-Authenticate"));
    }

    [Fact]
    public async Task AnonymousVersionCheck_IsChallengedSoClientsLearnTheScheme()
    {
        using var anonymous = _server.Client();
        using var response = await anonymous.GetAsync(new Uri("/v2/", UriKind.Relative));

        await OciAssert.ErrorAsync(response, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public async Task SignedInUserWithoutPushRight_IsDenied403()
    {
        using var bob = _server.Client("bob", "bob-pw");
        using var toPublic = await bob.PostAsync(new Uri($"/v2/{Oci.UniqueRepository("public")}/blobs/uploads/", UriKind.Relative), null);
        using var toTeam = await bob.PostAsync(new Uri($"/v2/{Oci.UniqueRepository("team")}/blobs/uploads/", UriKind.Relative), null);

        var errors = await OciAssert.ErrorAsync(toPublic, HttpStatusCode.Forbidden, "DENIED");
        await OciAssert.ErrorAsync(toTeam, HttpStatusCode.Forbidden, "DENIED");
        Assert.Null(toPublic.Header("WWW-Authenticate"));
        Assert.Contains("push", errors[0].GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GroupMember_PushesToTeam_OthersCannotReadIt()
    {
        using var alice = _server.Client("alice", "alice-pw");
        var repository = Oci.UniqueRepository("team");
        var image = await alice.PushImageAsync(repository, "v1");

        using var bob = _server.Client("bob", "bob-pw");
        using var bobRead = await bob.GetAsync(new Uri($"/v2/{repository}/manifests/v1", UriKind.Relative));
        using var anonymous = _server.Client();
        using var anonymousRead = await anonymous.GetAsync(new Uri($"/v2/{repository}/blobs/{image.Layer.Digest}", UriKind.Relative));
        using var aliceDelete = await alice.DeleteAsync(new Uri($"/v2/{repository}/manifests/{image.Manifest.Digest}", UriKind.Relative));

        await OciAssert.ErrorAsync(bobRead, HttpStatusCode.Forbidden, "DENIED");
        await OciAssert.ErrorAsync(anonymousRead, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await OciAssert.ErrorAsync(aliceDelete, HttpStatusCode.Forbidden, "DENIED");
    }

    [Fact]
    public async Task SignedInUser_KeepsTheAnonymousRights()
    {
        using var admin = Admin;
        var repository = Oci.UniqueRepository("public");
        await admin.PushImageAsync(repository, "v1");

        using var bob = _server.Client("bob", "bob-pw");
        using var response = await bob.GetAsync(new Uri($"/v2/{repository}/manifests/v1", UriKind.Relative));

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Mount_FromARepositoryTheUserMayNotRead_IsAnOrdinaryUpload()
    {
        using var alice = _server.Client("alice", "alice-pw");
        var secret = Oci.UniqueRepository("team");
        var image = await alice.PushImageAsync(secret, "v1");

        using var bob = _server.Client("bob", "bob-pw");
        var target = Oci.UniqueRepository("users/bob");
        using var response = await bob.PostAsync(new Uri($"/v2/{target}/blobs/uploads/?mount={image.Layer.Digest}&from={secret}", UriKind.Relative), null);
        using var probe = await bob.SendAsync(HttpMethod.Head, $"/v2/{target}/blobs/{image.Layer.Digest}");

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
        Assert.NotNull(response.Headers.Location);
        Assert.Equal(HttpStatusCode.NotFound, probe.StatusCode);
    }

    [Fact]
    public async Task Mount_FromARepositoryTheUserMayRead_Mounts()
    {
        using var admin = Admin;
        var source = Oci.UniqueRepository("public");
        var image = await admin.PushImageAsync(source, "v1");

        using var bob = _server.Client("bob", "bob-pw");
        var target = Oci.UniqueRepository("users/bob");
        using var response = await bob.PostAsync(new Uri($"/v2/{target}/blobs/uploads/?mount={image.Layer.Digest}&from={source}", UriKind.Relative), null);

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
    }

    [Fact]
    public async Task Catalog_FollowsTheCatalogSection()
    {
        using var admin = Admin;
        using var bob = _server.Client("bob", "bob-pw");
        using var anonymous = _server.Client();

        using var adminList = await admin.GetAsync(new Uri("/v2/_catalog", UriKind.Relative));
        using var bobList = await bob.GetAsync(new Uri("/v2/_catalog", UriKind.Relative));
        using var anonymousList = await anonymous.GetAsync(new Uri("/v2/_catalog", UriKind.Relative));

        await OciAssert.StatusAsync(adminList, HttpStatusCode.OK);
        await OciAssert.ErrorAsync(bobList, HttpStatusCode.Forbidden, "DENIED");
        await OciAssert.ErrorAsync(anonymousList, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Theory]
    [InlineData("/v2/public/../{0}/manifests/v1")]
    [InlineData("/v2/public/%2e%2e/{0}/manifests/v1")]
    [InlineData("/v2/public%2f..%2f{0}/manifests/v1")]
    [InlineData("/v2/public/x/../../{0}/manifests/v1")]
    [InlineData("/v2/public//../{0}/manifests/v1")]
    public async Task PathTricks_NeverReachAPrivateRepositoryAnonymously(string template)
    {
        using var alice = _server.Client("alice", "alice-pw");
        var repository = Oci.UniqueRepository("team");
        await alice.PushImageAsync(repository, "v1");

        var response = await RawHttp.SendAsync(_server.BaseAddress, "GET", string.Format(System.Globalization.CultureInfo.InvariantCulture, template, repository));

        Assert.True(response.Status is 400 or 401 or 404, $"{template}: {response}");
        Assert.NotEqual(500, response.Status);
    }
}
