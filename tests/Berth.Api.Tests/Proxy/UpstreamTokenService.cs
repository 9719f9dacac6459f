using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Api.Tests.Proxy;

/// <summary>
/// A Docker-style token service on 127.0.0.1, as Docker Hub's <c>auth.docker.io/token</c> works: GET
/// <c>?service=...&amp;scope=repository:NAME:pull</c>, optionally with Basic credentials, answers
/// <c>{"token": JWT, "expires_in": N}</c> granting pull on the scope's repository. Its signing certificate is the
/// upstream registry's <c>rootcertbundle</c>.
/// </summary>
public sealed class UpstreamTokenService : IAsyncDisposable
{
    public const string Service = "upstream.test";
    public const string Issuer = "upstream-test-token-service";

    private readonly WebApplication _app;
    private readonly RSA _key = RSA.Create(2048);
    private readonly ConcurrentQueue<string> _requests = new();

    private UpstreamTokenService(WebApplication app) => _app = app;

    /// <summary>The realm to put in the upstream's <c>auth.token.realm</c>.</summary>
    public Uri Realm { get; private set; } = null!;

    /// <summary>A PEM file holding the signing certificate.</summary>
    public string CertificateFile { get; private set; } = null!;

    /// <summary>When set, only these credentials get a token (anonymous requests get 401).</summary>
    public (string User, string Password)? RequiredCredentials { get; set; }

    /// <summary>Repositories whose tokens grant nothing, as Docker Hub answers for a repository that does not exist.</summary>
    public HashSet<string> Unknown { get; } = new(StringComparer.Ordinal);

    /// <summary>Lifetime of the tokens issued.</summary>
    public int ExpiresInSeconds { get; set; } = 300;

    /// <summary>The scope of every token request received.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    public static async Task<UpstreamTokenService> StartAsync(string directory)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var service = new UpstreamTokenService(app);
        app.MapGet("/token", service.Issue);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        service.Realm = new Uri(address + "/token");

        var request = new CertificateRequest("CN=upstream-token-signer", service._key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        service.CertificateFile = Path.Combine(directory, "upstream-token-ca.pem");
        await File.WriteAllTextAsync(service.CertificateFile, PemEncoding.WriteString("CERTIFICATE", certificate.RawData) + "\n");
        return service;
    }

    /// <summary>The upstream registry's <c>auth</c> section for this service.</summary>
    public string AuthYaml() => $"""
        auth:
          token:
            realm: {Realm}
            service: {Service}
            issuer: {Issuer}
            rootcertbundle: '{CertificateFile}'
        """;

    /// <summary>A token with push and pull on <paramref name="repository"/>, for the test to fill the upstream.</summary>
    public string PushToken(string repository) => Token(repository, ["pull", "push"]);

    private IResult Issue(HttpContext context)
    {
        var scope = context.Request.Query["scope"].ToString();
        _requests.Enqueue(scope);
        if (RequiredCredentials is { } required)
        {
            var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{required.User}:{required.Password}"));
            if (context.Request.Headers.Authorization.ToString() != expected)
            {
                return Results.Unauthorized();
            }
        }

        var parts = scope.Split(':');
        var token = parts.Length == 3 && parts[0] == "repository" && !Unknown.Contains(parts[1]) ? Token(parts[1], parts[2].Split(',')) : Token("", []);
        return Results.Json(new { token, expires_in = ExpiresInSeconds, issued_at = DateTimeOffset.UtcNow.ToString("o") });
    }

    private string Token(string repository, string[] actions)
    {
        var now = DateTimeOffset.UtcNow;
        var claims = new JsonObject
        {
            ["iss"] = Issuer,
            ["sub"] = "mirror",
            ["aud"] = Service,
            ["iat"] = now.ToUnixTimeSeconds(),
            ["nbf"] = now.AddSeconds(-5).ToUnixTimeSeconds(),
            ["exp"] = now.AddSeconds(ExpiresInSeconds).ToUnixTimeSeconds(),
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["access"] = new JsonArray(new JsonObject
            {
                ["type"] = "repository",
                ["name"] = repository,
                ["actions"] = new JsonArray(actions.Select(a => (JsonNode)JsonValue.Create(a)!).ToArray()),
            }),
        };
        var header = new JsonObject { ["alg"] = "RS256", ["typ"] = "JWT" };
        var input = Encode(header) + "." + Encode(claims);
        var signature = _key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return input + "." + Base64UrlEncoder.Encode(signature);
    }

    private static string Encode(JsonNode node) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(node.ToJsonString()));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _key.Dispose();
    }
}
