using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Berth.Server.Configuration;

namespace Berth.Server.Tls;

/// <summary>A server certificate with its private key and the intermediates that follow it in the PEM file.</summary>
internal sealed record LoadedCertificate(X509Certificate2 Leaf, X509Certificate2Collection Intermediates)
{
    public DateTime NotAfterUtc => Leaf.NotAfter.ToUniversalTime();
}

/// <summary>
/// Reads <c>http.tls.certificate</c> and <c>http.tls.key</c>: PEM files as registry:2 takes them (the certificate
/// file may hold the whole chain, leaf first; the key is RSA or EC, PKCS#1, SEC1 or PKCS#8, unencrypted).
/// Every failure is a <see cref="ConfigurationException"/> that names the file and what is wrong with it.
/// </summary>
internal static class CertificateFiles
{
    public const string CertificateKey = "http.tls.certificate";
    public const string KeyKey = "http.tls.key";

    public static LoadedCertificate Load(string certificatePath, string keyPath)
    {
        var certificateText = ReadText(CertificateKey, certificatePath);
        var keyText = ReadText(KeyKey, keyPath);

        var chain = new X509Certificate2Collection();
        try
        {
            chain.ImportFromPem(certificateText);
        }
        catch (CryptographicException ex)
        {
            throw ConfigurationException.ForKey(CertificateKey, $"{certificatePath} holds a PEM certificate that cannot be read: {ex.Message}");
        }

        if (chain.Count == 0)
        {
            throw ConfigurationException.ForKey(CertificateKey, $"{certificatePath} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }

        var leaf = chain[0];
        X509Certificate2 withKey;
        if (leaf.GetRSAPublicKey() is { } rsaPublic)
        {
            rsaPublic.Dispose();
            using var rsa = RSA.Create();
            ImportKey(rsa, keyText, keyPath, certificatePath);
            withKey = AttachKey(() => leaf.CopyWithPrivateKey(rsa), certificatePath, keyPath);
        }
        else if (leaf.GetECDsaPublicKey() is { } ecPublic)
        {
            ecPublic.Dispose();
            using var ecdsa = ECDsa.Create();
            ImportKey(ecdsa, keyText, keyPath, certificatePath);
            withKey = AttachKey(() => leaf.CopyWithPrivateKey(ecdsa), certificatePath, keyPath);
        }
        else
        {
            throw ConfigurationException.ForKey(CertificateKey, $"{certificatePath}: the certificate's key is neither RSA nor ECDSA");
        }

        var intermediates = new X509Certificate2Collection();
        for (var i = 1; i < chain.Count; i++)
        {
            intermediates.Add(chain[i]);
        }

        return new LoadedCertificate(withKey, intermediates);
    }

    /// <summary>Loads the CA certificates of <c>http.tls.clientcas</c>.</summary>
    public static X509Certificate2Collection LoadClientCas(IReadOnlyList<string> paths)
    {
        var cas = new X509Certificate2Collection();
        for (var i = 0; i < paths.Count; i++)
        {
            var key = $"http.tls.clientcas.{i}";
            var text = ReadText(key, paths[i]);
            var before = cas.Count;
            try
            {
                cas.ImportFromPem(text);
            }
            catch (CryptographicException ex)
            {
                throw ConfigurationException.ForKey(key, $"{paths[i]} holds a PEM certificate that cannot be read: {ex.Message}");
            }

            if (cas.Count == before)
            {
                throw ConfigurationException.ForKey(key, $"{paths[i]} holds no PEM certificate");
            }
        }

        return cas;
    }

    private static string ReadText(string key, string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw ConfigurationException.ForKey(key, $"file not found: {path}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw ConfigurationException.ForKey(key, $"cannot read {path}: {ex.Message}");
        }
    }

    private static void ImportKey(AsymmetricAlgorithm algorithm, string keyText, string keyPath, string certificatePath)
    {
        if (keyText.Contains("ENCRYPTED", StringComparison.Ordinal))
        {
            throw ConfigurationException.ForKey(KeyKey, $"{keyPath} holds an encrypted private key; give the registry an unencrypted one (openssl pkey -in KEY -out KEY.plain)");
        }

        if (!keyText.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw ConfigurationException.ForKey(KeyKey, $"{keyPath} holds no PEM private key (-----BEGIN PRIVATE KEY----- or similar)");
        }

        try
        {
            algorithm.ImportFromPem(keyText);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            var kind = algorithm is RSA ? "RSA" : "EC";
            throw ConfigurationException.ForKey(KeyKey,
                $"the private key in {keyPath} does not belong to the certificate in {certificatePath}: the certificate's key is {kind} and the file holds no {kind} private key ({ex.Message})");
        }
    }

    private static X509Certificate2 AttachKey(Func<X509Certificate2> attach, string certificatePath, string keyPath)
    {
        try
        {
            return attach();
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            throw ConfigurationException.ForKey(KeyKey, $"the private key in {keyPath} does not belong to the certificate in {certificatePath}");
        }
    }
}
