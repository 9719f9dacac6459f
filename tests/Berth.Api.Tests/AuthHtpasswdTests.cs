using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>Berth with <c>auth.htpasswd</c> and no access rules: registry:2's behaviour.</summary>
public sealed class HtpasswdRegistryFixture : IAsyncLifetime
{
    public const string Realm = "Berth Test Realm";
    public const string User = "alice";
    public const string Password = "correct horse battery staple";

    private readonly AuthSandbox _sandbox = new();

    public AuthTestServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var path = _sandbox.WriteHtpasswd((User, Password), ("bob", "builder"));
        Server = await _sandbox.StartAsync($"auth:\n  htpasswd:\n    realm: {Realm}\n    path: '{path}'\n");
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        _sandbox.Dispose();
    }
}

public sealed class AuthHtpasswdTests(HtpasswdRegistryFixture fixture) : IClassFixture<HtpasswdRegistryFixture>
{
    private readonly AuthTestServer _server = fixture.Server;

    public static TheoryData<string, string> EveryRoute => new()
    {
        { "GET", "/v2/" },
        { "GET", "/v2/_catalog" },
        { "GET", "/v2/team/app/tags/list" },
        { "GET", "/v2/team/app/manifests/latest" },
        { "HEAD", "/v2/team/app/manifests/latest" },
        { "PUT", "/v2/team/app/manifests/latest" },
        { "DELETE", "/v2/team/app/manifests/sha256:" + "ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34" },
        { "GET", "/v2/team/app/blobs/sha256:" + "ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34" },
        { "HEAD", "/v2/team/app/blobs/sha256:" + "ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34" },
        { "DELETE", "/v2/team/app/blobs/sha256:" + "ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34" },
        { "POST", "/v2/team/app/blobs/uploads/" },
        { "PATCH", "/v2/team/app/blobs/uploads/0b1c1e4e-9c33-4c6e-8e4b-5d3e2f1a0b9c" },
        { "PUT", "/v2/team/app/blobs/uploads/0b1c1e4e-9c33-4c6e-8e4b-5d3e2f1a0b9c?digest=sha256:00" },
        { "GET", "/v2/team/app/blobs/uploads/0b1c1e4e-9c33-4c6e-8e4b-5d3e2f1a0b9c" },
        { "DELETE", "/v2/team/app/blobs/uploads/0b1c1e4e-9c33-4c6e-8e4b-5d3e2f1a0b9c" },
        { "GET", "/v2/team/app/referrers/sha256:" + "ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34" },
        { "GET", "/v2/no/such/endpoint" },
        { "POST", "/v2/team/app/manifests/latest" },
    };

    [Theory]
    [MemberData(nameof(EveryRoute))]
    public async Task AnyRoute_WithoutCredentials_Is401WithBasicChallengeAndApiVersion(string method, string path)
    {
        using var client = _server.Client();
        using var response = await client.SendAsync(new HttpMethod(method), path, method is "PUT" or "PATCH" or "POST" ? RegistryClient.Bytes([1, 2, 3]) : null);

        await OciAssert.ErrorAsync(response, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal($"Basic realm=\"{HtpasswdRegistryFixture.Realm}\"", response.Header("WWW-Authenticate"));
    }

    [Fact]
    public async Task VersionCheck_WithCredentials_Is200()
    {
        using var client = _server.Client(HtpasswdRegistryFixture.User, HtpasswdRegistryFixture.Password);
        using var response = await client.GetAsync(new Uri("/v2/", UriKind.Relative));

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        OciAssert.HasApiVersion(response);
    }

    [Theory]
    [InlineData("alice", "wrong")]
    [InlineData("mallory", "correct horse battery staple")]
    [InlineData("ALICE", "correct horse battery staple")]
    [InlineData("alice", "")]
    public async Task WrongCredentials_Are401WithTheChallenge(string user, string password)
    {
        using var client = _server.Client(user, password);
        using var response = await client.GetAsync(new Uri("/v2/team/app/tags/list", UriKind.Relative));

        var errors = await OciAssert.ErrorAsync(response, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal($"Basic realm=\"{HtpasswdRegistryFixture.Realm}\"", response.Header("WWW-Authenticate"));
        Assert.DoesNotContain(password.Length > 0 ? password : "\u0000", errors[0].GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuthenticatedUser_MayPushPullListAndDelete_AsRegistry2()
    {
        using var client = _server.Client("bob", "builder");
        var repository = Oci.UniqueRepository("auth");

        var image = await client.PushImageAsync(repository, "v1");
        using var manifest = await client.GetAsync(new Uri($"/v2/{repository}/manifests/v1", UriKind.Relative));
        using var blob = await client.GetAsync(new Uri($"/v2/{repository}/blobs/{image.Layer.Digest}", UriKind.Relative));
        using var catalog = await client.GetAsync(new Uri("/v2/_catalog", UriKind.Relative));
        using var delete = await client.DeleteAsync(new Uri($"/v2/{repository}/manifests/{image.Manifest.Digest}", UriKind.Relative));

        await OciAssert.StatusAsync(manifest, HttpStatusCode.OK);
        Assert.Equal(image.LayerBytes, await blob.Content.ReadAsByteArrayAsync());
        await OciAssert.StatusAsync(catalog, HttpStatusCode.OK);
        await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task MountWithoutFrom_UnderAuthentication_IsAnUploadNotALeak()
    {
        // storage.mount.automatic defaults to true, but a mount with no source would link any repository's blob.
        using var client = _server.Client("bob", "builder");
        var source = Oci.UniqueRepository("auth");
        var image = await client.PushImageAsync(source, "v1");

        using var response = await client.PostAsync(new Uri($"/v2/{Oci.UniqueRepository("auth")}/blobs/uploads/?mount={image.Layer.Digest}", UriKind.Relative), null);

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task MountWithFrom_UserMayPullTheSource_Mounts()
    {
        using var client = _server.Client("bob", "builder");
        var source = Oci.UniqueRepository("auth");
        var image = await client.PushImageAsync(source, "v1");

        using var response = await client.PostAsync(
            new Uri($"/v2/{Oci.UniqueRepository("auth")}/blobs/uploads/?mount={image.Layer.Digest}&from={source}", UriKind.Relative), null);

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
    }

    [Fact]
    public async Task RootPath_StaysOpenForLoadBalancerChecks()
    {
        using var client = _server.Client();
        using var response = await client.GetAsync(new Uri("/", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
