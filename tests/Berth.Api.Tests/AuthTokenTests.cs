using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Berth.Api.Tests.Infrastructure;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Api.Tests;

/// <summary>
/// Berth with <c>auth.token</c>: the test is the token server. Its RSA key pair and self-signed certificate are made
/// here; the certificate is the <c>rootcertbundle</c>, tokens are signed with the private key.
/// </summary>
public sealed class TokenRegistryFixture : IAsyncLifetime
{
    public const string Realm = "https://auth.example.test/token";
    public const string Service = "berth.example.test";
    public const string Issuer = "berth-test-token-server";

    private readonly AuthSandbox _sandbox = new();

    public RSA Key { get; } = RSA.Create(2048);

    public AuthTestServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var request = new CertificateRequest("CN=berth-test-token-signer", Key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var bundle = _sandbox.Combine("token-ca.pem");
        await File.WriteAllTextAsync(bundle, PemEncoding.WriteString("CERTIFICATE", certificate.RawData) + "\n");
        Server = await _sandbox.StartAsync($"""
            auth:
              token:
                realm: {Realm}
                service: {Service}
                issuer: {Issuer}
                rootcertbundle: '{bundle}'
            """);
    }

    /// <summary>A token for <paramref name="access"/> signed with <paramref name="key"/> (the trusted key by default).</summary>
    public string Token(IEnumerable<(string Type, string Name, string[] Actions)> access, TimeSpan? expiresIn = null, RSA? key = null,
        string issuer = Issuer, string audience = Service)
    {
        var now = DateTimeOffset.UtcNow;
        var claims = new JsonObject
        {
            ["iss"] = issuer,
            ["sub"] = "token-user",
            ["aud"] = audience,
            ["iat"] = now.ToUnixTimeSeconds(),
            ["nbf"] = now.AddSeconds(-5).ToUnixTimeSeconds(),
            ["exp"] = now.Add(expiresIn ?? TimeSpan.FromMinutes(5)).ToUnixTimeSeconds(),
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["access"] = new JsonArray(access.Select(a => (JsonNode)new JsonObject
            {
                ["type"] = a.Type,
                ["name"] = a.Name,
                ["actions"] = new JsonArray(a.Actions.Select(x => (JsonNode)JsonValue.Create(x)!).ToArray()),
            }).ToArray()),
        };
        var header = new JsonObject { ["alg"] = "RS256", ["typ"] = "JWT" };
        var input = Encode(header) + "." + Encode(claims);
        var signature = (key ?? Key).SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return input + "." + Base64UrlEncoder.Encode(signature);
    }

    public static string Encode(JsonNode node) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(node.ToJsonString()));

    public static (string, string, string[]) Repo(string name, params string[] actions) => ("repository", name, actions);

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Key.Dispose();
        _sandbox.Dispose();
    }
}

public sealed class AuthTokenTests(TokenRegistryFixture fixture) : IClassFixture<TokenRegistryFixture>
{
    private readonly AuthTestServer _server = fixture.Server;

    [Fact]
    public async Task NoToken_Is401WithTheBearerChallengeNamingTheScope()
    {
        using var client = _server.Client();
        using var response = await client.PostAsync(new Uri("/v2/team/app/blobs/uploads/", UriKind.Relative), null);

        await OciAssert.ErrorAsync(response, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal(
            $"Bearer realm=\"{TokenRegistryFixture.Realm}\",service=\"{TokenRegistryFixture.Service}\",scope=\"repository:team/app:pull,push\"",
            response.Header("WWW-Authenticate"));
    }

    [Fact]
    public async Task PushToken_PushesAndPulls()
    {
        var repository = Oci.UniqueRepository("token");
        using var client = _server.BearerClient(fixture.Token([TokenRegistryFixture.Repo(repository, "pull", "push")]));

        var image = await client.PushImageAsync(repository, "v1");
        using var manifest = await client.GetAsync(new Uri($"/v2/{repository}/manifests/v1", UriKind.Relative));

        await OciAssert.StatusAsync(manifest, HttpStatusCode.OK);
        Assert.Equal(image.ManifestBytes, await manifest.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task PullOnlyToken_CannotPush_401InsufficientScope()
    {
        var repository = Oci.UniqueRepository("token");
        using var pusher = _server.BearerClient(fixture.Token([TokenRegistryFixture.Repo(repository, "pull", "push")]));
        var image = await pusher.PushImageAsync(repository, "v1");
        using var client = _server.BearerClient(fixture.Token([TokenRegistryFixture.Repo(repository, "pull")]));

        using var pull = await client.GetAsync(new Uri($"/v2/{repository}/blobs/{image.Layer.Digest}", UriKind.Relative));
        using var push = await client.PostAsync(new Uri($"/v2/{repository}/blobs/uploads/", UriKind.Relative), null);
        using var putManifest = await client.PutManifestAsync(repository, "v2", Oci.ImageManifest, image.ManifestBytes);
        using var delete = await client.DeleteAsync(new Uri($"/v2/{repository}/manifests/{image.Manifest.Digest}", UriKind.Relative));

        await OciAssert.StatusAsync(pull, HttpStatusCode.OK);
        // The token specification's answer: 401 with error="insufficient_scope", so that the client asks for a wider token.
        await OciAssert.ErrorAsync(push, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Contains("error=\"insufficient_scope\"", push.Header("WWW-Authenticate"), StringComparison.Ordinal);
        Assert.Contains($"scope=\"repository:{repository}:pull,push\"", push.Header("WWW-Authenticate"), StringComparison.Ordinal);
        await OciAssert.ErrorAsync(putManifest, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await OciAssert.ErrorAsync(delete, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Contains($"scope=\"repository:{repository}:delete\"", delete.Header("WWW-Authenticate"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenForAnotherRepository_GrantsNothingHere()
    {
        using var client = _server.BearerClient(fixture.Token([TokenRegistryFixture.Repo("other/app", "pull", "push")]));
        using var response = await client.GetAsync(new Uri("/v2/team/app/tags/list", UriKind.Relative));

        await OciAssert.ErrorAsync(response, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    public static TheoryData<string> BadTokens => new()
    {
        "expired",
        "wrong-key",
        "wrong-issuer",
        "wrong-audience",
        "tampered",
        "alg-none",
        "truncated",
        "garbage",
    };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task InvalidTokens_Are401InvalidToken(string kind)
    {
        var access = new[] { TokenRegistryFixture.Repo("team/app", "pull") };
        using var otherKey = RSA.Create(2048);
        var good = fixture.Token(access);
        var parts = good.Split('.');
        var token = kind switch
        {
            "expired" => fixture.Token(access, expiresIn: TimeSpan.FromMinutes(-5)),
            "wrong-key" => fixture.Token(access, key: otherKey),
            "wrong-issuer" => fixture.Token(access, issuer: "someone-else"),
            "wrong-audience" => fixture.Token(access, audience: "another-registry"),
            "tampered" => $"{parts[0]}.{TokenRegistryFixture.Encode(JsonNode.Parse(Base64UrlEncoder.Decode(parts[1]))!.AsObject().Also(o => o["sub"] = "admin"))}.{parts[2]}",
            "alg-none" => $"{TokenRegistryFixture.Encode(new JsonObject { ["alg"] = "none" })}.{parts[1]}.",
            "truncated" => good[..^10],
            _ => "not-a-jwt",
        };
        using var client = _server.BearerClient(token);
        using var response = await client.GetAsync(new Uri("/v2/team/app/tags/list", UriKind.Relative));

        await OciAssert.ErrorAsync(response, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Contains("error=\"invalid_token\"", response.Header("WWW-Authenticate"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CatalogToken_ListsTheCatalog_RepositoryTokenDoesNot()
    {
        using var catalog = _server.BearerClient(fixture.Token([("registry", "catalog", ["*"])]));
        using var repository = _server.BearerClient(fixture.Token([TokenRegistryFixture.Repo("team/app", "*")]));

        using var allowed = await catalog.GetAsync(new Uri("/v2/_catalog", UriKind.Relative));
        using var refused = await repository.GetAsync(new Uri("/v2/_catalog", UriKind.Relative));

        await OciAssert.StatusAsync(allowed, HttpStatusCode.OK);
        await OciAssert.ErrorAsync(refused, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Contains("scope=\"registry:catalog:*\"", refused.Header("WWW-Authenticate"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mount_TokenWithoutPullOnTheSource_IsAnOrdinaryUpload()
    {
        var source = Oci.UniqueRepository("token");
        var target = Oci.UniqueRepository("token");
        using var pusher = _server.BearerClient(fixture.Token([TokenRegistryFixture.Repo(source, "pull", "push")]));
        var image = await pusher.PushImageAsync(source, "v1");
        using var narrow = _server.BearerClient(fixture.Token([TokenRegistryFixture.Repo(target, "pull", "push")]));
        using var wide = _server.BearerClient(fixture.Token([TokenRegistryFixture.Repo(target, "pull", "push"), TokenRegistryFixture.Repo(source, "pull")]));
        var mount = new Uri($"/v2/{target}/blobs/uploads/?mount={image.Layer.Digest}&from={source}", UriKind.Relative);

        using var refused = await narrow.PostAsync(mount, null);
        using var mounted = await wide.PostAsync(mount, null);

        await OciAssert.StatusAsync(refused, HttpStatusCode.Accepted);
        await OciAssert.StatusAsync(mounted, HttpStatusCode.Created);
    }

    [Fact]
    public async Task NonAsciiRepositoryInTheChallenge_StaysAValidHeader()
    {
        var response = await RawHttp.SendAsync(_server.BaseAddress, "GET", "/v2/caf%C3%A9%0d%0aX-Injected:%201/manifests/x");

        Assert.True(response.Status is 400 or 401, response.ToString());
        Assert.Null(response.Header("X-Injected"));
        if (response.Status == 401)
        {
            Assert.All(response.Header("WWW-Authenticate")!, c => Assert.InRange(c, ' ', '~'));
        }
    }
}

internal static class JsonObjectExtensions
{
    public static JsonObject Also(this JsonObject node, Action<JsonObject> change)
    {
        change(node);
        return node;
    }
}
