using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Auth;

/// <summary>A token-signing key file Berth cannot use.</summary>
public sealed class TokenKeyException : Exception
{
    public TokenKeyException()
    {
    }

    public TokenKeyException(string message)
        : base(message)
    {
    }

    public TokenKeyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The keys a token may be signed with: the public keys of the <c>rootcertbundle</c> certificates and of the
/// <c>jwks</c> file. A token names its key as Distribution accepts it: by <c>kid</c> (the key's libtrust ID,
/// as registry:2.x and docker_auth compute it, its RFC 7638 thumbprint, as Distribution 3 does, or a JWKS
/// <c>kid</c>), by an <c>x5c</c> certificate chain that ends in a bundle certificate, or by an embedded
/// <c>jwk</c> that is one of the trusted keys.
/// </summary>
public sealed class TokenSigningKeys
{
    private readonly Dictionary<string, SecurityKey> _byKeyId = new(StringComparer.Ordinal);
    private readonly List<SecurityKey> _all = [];
    private readonly X509Certificate2Collection _roots = [];

    private TokenSigningKeys()
    {
    }

    /// <summary>Every trusted key.</summary>
    public IReadOnlyList<SecurityKey> All => _all;

    /// <summary>The key IDs a token may name (for diagnostics and tests).</summary>
    public IReadOnlyCollection<string> KeyIds => _byKeyId.Keys;

    /// <summary>Loads the bundle and/or the JWKS file.</summary>
    /// <exception cref="TokenKeyException">A file is missing, unreadable, or holds no usable key; the message names the file.</exception>
    public static TokenSigningKeys Load(string? rootCertBundle, string? jwks)
    {
        var keys = new TokenSigningKeys();
        if (rootCertBundle is not null)
        {
            keys.AddBundle(rootCertBundle);
        }

        if (jwks is not null)
        {
            keys.AddJwks(jwks);
        }

        if (keys._all.Count == 0)
        {
            throw new TokenKeyException("token authentication needs at least one signing key: rootcertbundle and jwks hold none");
        }

        return keys;
    }

    /// <summary>From certificates in memory (tests, or callers that load them themselves).</summary>
    public static TokenSigningKeys FromCertificates(IEnumerable<X509Certificate2> certificates)
    {
        var keys = new TokenSigningKeys();
        foreach (var certificate in certificates)
        {
            keys.AddCertificate(certificate, "(memory)");
        }

        return keys;
    }

    /// <summary>
    /// The libtrust key ID registry:2.x uses for a public key: SHA-256 of the DER SubjectPublicKeyInfo, the first 30
    /// bytes in base32, in twelve groups of four joined by ':'.
    /// </summary>
    public static string LibtrustKeyId(byte[] subjectPublicKeyInfo)
    {
        var hash = SHA256.HashData(subjectPublicKeyInfo).AsSpan(0, 30);
        var base32 = Base32(hash);
        var builder = new StringBuilder();
        for (var i = 0; i < base32.Length; i += 4)
        {
            if (i > 0)
            {
                builder.Append(':');
            }

            builder.Append(base32, i, Math.Min(4, base32.Length - i));
        }

        return builder.ToString();
    }

    /// <summary>The keys that may have signed a token with this JOSE header, or none when it names no trusted key.</summary>
    internal IReadOnlyList<SecurityKey> Resolve(JsonElement header, DateTimeOffset now)
    {
        if (header.TryGetProperty("x5c", out var x5c))
        {
            var key = VerifyChain(x5c, now);
            return key is null ? [] : [key];
        }

        if (header.TryGetProperty("jwk", out var jwk))
        {
            // An embedded key is only as good as the trusted key it claims to be; one with its own chain must chain to the bundle.
            if (jwk.ValueKind == JsonValueKind.Object && jwk.TryGetProperty("x5c", out var jwkChain))
            {
                var key = VerifyChain(jwkChain, now);
                return key is null ? [] : [key];
            }

            if (jwk.ValueKind == JsonValueKind.Object && jwk.TryGetProperty("kid", out var jwkId) && jwkId.ValueKind == JsonValueKind.String
                && _byKeyId.TryGetValue(jwkId.GetString()!, out var trusted))
            {
                return [trusted];
            }

            return [];
        }

        if (header.TryGetProperty("kid", out var kid))
        {
            return kid.ValueKind == JsonValueKind.String && _byKeyId.TryGetValue(kid.GetString()!, out var key) ? [key] : [];
        }

        // No hint: the signature must still verify with one of the trusted keys.
        return _all;
    }

    private SecurityKey? VerifyChain(JsonElement x5c, DateTimeOffset now)
    {
        if (_roots.Count == 0 || x5c.ValueKind != JsonValueKind.Array || x5c.GetArrayLength() is 0 or > 10)
        {
            return null;
        }

        var certificates = new List<X509Certificate2>();
        try
        {
            foreach (var item in x5c.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String)
                {
                    return null;
                }

                certificates.Add(X509CertificateLoader.LoadCertificate(Convert.FromBase64String(item.GetString()!)));
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
            chain.ChainPolicy.ExtraStore.AddRange(certificates.Skip(1).ToArray());
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.VerificationTime = now.UtcDateTime;
            chain.ChainPolicy.VerificationTimeIgnored = false;
            return chain.Build(certificates[0]) ? KeyOf(certificates[0]) : null;
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            return null;
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
    }

    private void AddBundle(string path)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new TokenKeyException($"rootcertbundle {path}: cannot read the certificates: {ex.Message}", ex);
        }

        if (certificates.Count == 0)
        {
            throw new TokenKeyException($"rootcertbundle {path}: no PEM certificate in the file");
        }

        foreach (var certificate in certificates)
        {
            AddCertificate(certificate, path);
        }
    }

    private void AddCertificate(X509Certificate2 certificate, string source)
    {
        var key = KeyOf(certificate) ?? throw new TokenKeyException(
            $"rootcertbundle {source}: the certificate '{certificate.Subject}' has a {certificate.PublicKey.Oid.FriendlyName} key; tokens are verified with RSA or ECDSA keys");
        _roots.Add(certificate);
        _all.Add(key);
        _byKeyId[LibtrustKeyId(certificate.PublicKey.ExportSubjectPublicKeyInfo())] = key;
        _byKeyId[Base64UrlEncoder.Encode(key.ComputeJwkThumbprint())] = key;
    }

    private void AddJwks(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TokenKeyException($"jwks {path}: cannot read the file: {ex.Message}", ex);
        }

        JsonWebKeySet set;
        try
        {
            set = new JsonWebKeySet(json);
        }
        catch (Exception ex) when (ex is ArgumentException or JsonException)
        {
            throw new TokenKeyException($"jwks {path}: not a JSON Web Key Set: {ex.Message}", ex);
        }

        foreach (var key in set.Keys)
        {
            if (key.Kty is not (JsonWebAlgorithmsKeyTypes.RSA or JsonWebAlgorithmsKeyTypes.EllipticCurve))
            {
                throw new TokenKeyException($"jwks {path}: key '{key.Kid}' has type '{key.Kty}'; tokens are verified with RSA or EC keys");
            }

            if (key.HasPrivateKey)
            {
                throw new TokenKeyException($"jwks {path}: key '{key.Kid}' includes its private part; give the registry public keys only");
            }

            _all.Add(key);
            if (!string.IsNullOrEmpty(key.Kid))
            {
                _byKeyId[key.Kid] = key;
            }

            if (key.CanComputeJwkThumbprint())
            {
                _byKeyId[Base64UrlEncoder.Encode(key.ComputeJwkThumbprint())] = key;
            }
        }
    }

    private static SecurityKey? KeyOf(X509Certificate2 certificate)
    {
        if (certificate.GetRSAPublicKey() is { } rsa)
        {
            return new RsaSecurityKey(rsa);
        }

        if (certificate.GetECDsaPublicKey() is { } ecdsa)
        {
            return new ECDsaSecurityKey(ecdsa);
        }

        return null;
    }

    private static string Base32(ReadOnlySpan<byte> data)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var builder = new StringBuilder((data.Length * 8 / 5) + 1);
        int buffer = 0, bits = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                builder.Append(Alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            builder.Append(Alphabet[(buffer << (5 - bits)) & 31]);
        }

        return builder.ToString();
    }
}
