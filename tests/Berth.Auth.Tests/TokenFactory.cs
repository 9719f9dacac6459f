using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Auth.Tests;

/// <summary>A token server in miniature: keys, certificates and hand-made JWTs, so tests control every byte.</summary>
internal sealed class TokenFactory : IDisposable
{
    public const string Issuer = "https://auth.example.com";
    public const string Service = "registry.example.com";

    public TokenFactory()
    {
        Rsa = RSA.Create(2048);
        RsaCertificate = SelfSigned("CN=token-rsa", new CertificateRequest("CN=token-rsa", Rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        Ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        EcCertificate = SelfSigned("CN=token-ec", new CertificateRequest("CN=token-ec", Ec, HashAlgorithmName.SHA256));
    }

    public RSA Rsa { get; }

    public X509Certificate2 RsaCertificate { get; }

    public ECDsa Ec { get; }

    public X509Certificate2 EcCertificate { get; }

    public static string Pem(params X509Certificate2[] certificates) =>
        string.Concat(certificates.Select(c => PemEncoding.WriteString("CERTIFICATE", c.RawData) + "\n"));

    public static string LibtrustId(AsymmetricAlgorithm key) => TokenSigningKeys.LibtrustKeyId(key switch
    {
        RSA rsa => rsa.ExportSubjectPublicKeyInfo(),
        ECDsa ec => ec.ExportSubjectPublicKeyInfo(),
        _ => throw new ArgumentException("unsupported key"),
    });

    public static string Thumbprint(AsymmetricAlgorithm key) => Base64UrlEncoder.Encode((key switch
    {
        RSA rsa => (SecurityKey)new RsaSecurityKey(rsa),
        ECDsa ec => new ECDsaSecurityKey(ec),
        _ => throw new ArgumentException("unsupported key"),
    }).ComputeJwkThumbprint());

    /// <summary>Claims that pass: the issuer, this service, valid for five minutes around <paramref name="now"/>.</summary>
    public static JsonObject Claims(DateTimeOffset now, params (string Type, string Name, string[] Actions)[] access) => new()
    {
        ["iss"] = Issuer,
        ["sub"] = "alice",
        ["aud"] = Service,
        ["exp"] = now.AddMinutes(5).ToUnixTimeSeconds(),
        ["nbf"] = now.AddSeconds(-5).ToUnixTimeSeconds(),
        ["iat"] = now.ToUnixTimeSeconds(),
        ["jti"] = Guid.NewGuid().ToString("N"),
        ["access"] = new JsonArray(access.Select(a => (JsonNode)new JsonObject
        {
            ["type"] = a.Type,
            ["name"] = a.Name,
            ["actions"] = new JsonArray(a.Actions.Select(x => (JsonNode)JsonValue.Create(x)!).ToArray()),
        }).ToArray()),
    };

    public static (string, string, string[]) Repo(string name, params string[] actions) => ("repository", name, actions);

    /// <summary>Signs <paramref name="claims"/> with <paramref name="key"/> (RS256 or ES256 by key type) under <paramref name="header"/>.</summary>
    public static string Sign(AsymmetricAlgorithm key, JsonObject claims, JsonObject header)
    {
        header["alg"] ??= key is RSA ? "RS256" : "ES256";
        header["typ"] ??= "JWT";
        var signingInput = Encode(header) + "." + Encode(claims);
        var data = Encoding.ASCII.GetBytes(signingInput);
        var signature = key switch
        {
            RSA rsa => rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            ECDsa ec => ec.SignData(data, HashAlgorithmName.SHA256),
            _ => throw new ArgumentException("unsupported key"),
        };
        return signingInput + "." + Base64UrlEncoder.Encode(signature);
    }

    public static string Encode(JsonNode node) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(node.ToJsonString()));

    public static JsonObject Kid(string kid) => new() { ["kid"] = kid };

    /// <summary>A JWKS document with the public part of <paramref name="key"/> under <paramref name="kid"/>.</summary>
    public static string Jwks(string kid, RSA key)
    {
        var p = key.ExportParameters(false);
        return new JsonObject
        {
            ["keys"] = new JsonArray(new JsonObject
            {
                ["kty"] = "RSA",
                ["kid"] = kid,
                ["use"] = "sig",
                ["n"] = Base64UrlEncoder.Encode(p.Modulus!),
                ["e"] = Base64UrlEncoder.Encode(p.Exponent!),
            }),
        }.ToJsonString();
    }

    public static X509Certificate2 SelfSigned(string subject, CertificateRequest request)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    public void Dispose()
    {
        Rsa.Dispose();
        Ec.Dispose();
        RsaCertificate.Dispose();
        EcCertificate.Dispose();
    }
}

internal static class JsonExtensions
{
    public static JsonObject With(this JsonObject node, string name, JsonNode? value)
    {
        node[name] = value;
        return node;
    }

    public static string ToText(this JsonElement element) => element.GetRawText();
}
