using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Berth.Server.Tests.Security;

/// <summary>A throwaway CA and server certificates written as PEM files into a temporary directory.</summary>
internal sealed class TestPki : IDisposable
{
    public TestPki()
    {
        Directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "berth-server-tests-pki-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        CaKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Berth Test CA", CaKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        CaPath = Path("ca.crt");
        File.WriteAllText(CaPath, Pem(Ca));
    }

    public string Directory { get; }

    public ECDsa CaKey { get; }

    public X509Certificate2 Ca { get; }

    public string CaPath { get; }

    public string Path(string name) => System.IO.Path.Combine(Directory, name);

    public static string Pem(X509Certificate2 certificate) => PemEncoding.WriteString("CERTIFICATE", certificate.RawData) + "\n";

    /// <summary>A server certificate for 127.0.0.1 and localhost signed by the CA; writes NAME.crt (leaf + CA) and NAME.key.</summary>
    public (string Certificate, string Key, X509Certificate2 Leaf) Server(string name, bool rsa = false, string subject = "CN=localhost")
    {
        using AsymmetricAlgorithm key = rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = key is RSA r
            ? new CertificateRequest(subject, r, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest(subject, (ECDsa)key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var leaf = request.Create(Ca.SubjectName, X509SignatureGenerator.CreateForECDsa(CaKey), DateTimeOffset.UtcNow.AddDays(-1),
            DateTimeOffset.UtcNow.AddDays(30), RandomNumberGenerator.GetBytes(8));
        var certificatePath = Path(name + ".crt");
        var keyPath = Path(name + ".key");
        File.WriteAllText(certificatePath, Pem(leaf) + Pem(Ca));
        File.WriteAllText(keyPath, key is RSA rsaKey ? rsaKey.ExportRSAPrivateKeyPem() : ((ECDsa)key).ExportECPrivateKeyPem());
        return (certificatePath, keyPath, leaf);
    }

    public void Dispose()
    {
        CaKey.Dispose();
        Ca.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
