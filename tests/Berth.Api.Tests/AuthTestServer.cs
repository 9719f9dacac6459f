using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Berth.Server;
using Berth.Server.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Api.Tests;

/// <summary>
/// A sandbox directory for a secured Berth: the htpasswd file, certificates and token keys are written into it
/// before the server starts, then <see cref="StartAsync"/> runs the real host (config.yml → ConfigurationLoader →
/// RegistryHost) on 127.0.0.1 with a port the OS picks, over HTTP or HTTPS.
/// </summary>
public sealed class AuthSandbox : IDisposable
{
    public AuthSandbox()
    {
        Directory = Path.Combine(Path.GetTempPath(), "berth-api-auth-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public string Combine(string name) => Path.Combine(Directory, name);

    /// <summary>Writes an htpasswd file (bcrypt cost 4, to keep tests fast) and returns its path.</summary>
    public string WriteHtpasswd(params (string User, string Password)[] users)
    {
        var path = Combine("htpasswd");
        File.WriteAllText(path, string.Concat(users.Select(u => $"{u.User}:{BCrypt.Net.BCrypt.HashPassword(u.Password, 4)}\n")));
        return path;
    }

    /// <summary>
    /// Starts Berth with <paramref name="sections"/> (top-level YAML: auth, access, ...) and <paramref name="http"/>
    /// (lines inside <c>http:</c>, indented by two spaces, e.g. a tls block).
    /// </summary>
    public Task<AuthTestServer> StartAsync(string sections, string http = "") => AuthTestServer.StartAsync(this, sections, http);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>A secured Berth host; see <see cref="AuthSandbox"/>.</summary>
public sealed class AuthTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private AuthTestServer(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>The CA whose certificates the clients trust (for HTTPS servers).</summary>
    public X509Certificate2? TrustedCa { get; init; }

    internal static async Task<AuthTestServer> StartAsync(AuthSandbox sandbox, string sections, string http)
    {
        var storage = sandbox.Combine("storage");
        System.IO.Directory.CreateDirectory(storage);
        var yaml = $"""
            version: 0.1
            log:
              level: error
            storage:
              filesystem:
                rootdirectory: '{storage}'
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:0
              secret: berth-api-auth-tests

            """.Replace("  secret: berth-api-auth-tests\n", "  secret: berth-api-auth-tests\n" + http, StringComparison.Ordinal) + sections + "\n";
        var configPath = sandbox.Combine("config.yml");
        await File.WriteAllTextAsync(configPath, yaml);

        var loaded = ConfigurationLoader.Load(configPath, new Dictionary<string, string>(StringComparer.Ordinal));
        var app = RegistryHost.Build(loaded.Configuration, loaded.Warnings);
        try
        {
            await app.StartAsync();
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
            var address = addresses.First(a => a.Contains("://127.0.0.1:", StringComparison.Ordinal));
            return new AuthTestServer(app, new Uri(address));
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>A client without credentials that does not follow redirects; trusts <paramref name="ca"/> for HTTPS.</summary>
    public HttpClient Client(X509Certificate2? ca = null, X509Certificate2? clientCertificate = null, Version? version = null)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        if (ca is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => AuthPki.ChainsTo(certificate, ca);
        }

        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
        }

        var client = new HttpClient(handler) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (version is not null)
        {
            client.DefaultRequestVersion = version;
            client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }

        return client;
    }

    /// <summary>A client that sends Basic credentials with every request.</summary>
    public HttpClient Client(string user, string password, X509Certificate2? ca = null)
    {
        var client = Client(ca);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return client;
    }

    /// <summary>A client that sends a bearer token with every request.</summary>
    public HttpClient BearerClient(string token)
    {
        var client = Client();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }
}

/// <summary>A throwaway CA and certificates made with .NET's certificate APIs.</summary>
public sealed class AuthPki : IDisposable
{
    private readonly ECDsa _caKey;

    public AuthPki(string subject = "CN=Berth Auth Test CA")
    {
        _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
    }

    public X509Certificate2 Ca { get; }

    public static string Pem(X509Certificate2 certificate) => PemEncoding.WriteString("CERTIFICATE", certificate.RawData) + "\n";

    /// <summary>True when <paramref name="certificate"/> chains to <paramref name="ca"/> (and nothing else is trusted).</summary>
    public static bool ChainsTo(X509Certificate? certificate, X509Certificate2 ca)
    {
        if (certificate is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }

    /// <summary>
    /// A server certificate for 127.0.0.1 and localhost: writes <paramref name="name"/>.crt (leaf then CA, a chain) and
    /// <paramref name="name"/>.key into <paramref name="directory"/>. RSA or ECDSA.
    /// </summary>
    public X509Certificate2 WriteServerCertificate(string directory, string name, bool rsa = false)
    {
        using AsymmetricAlgorithm key = rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = Request("CN=localhost", key);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var leaf = Sign(request);
        File.WriteAllText(Path.Combine(directory, name + ".crt"), Pem(leaf) + Pem(Ca));
        File.WriteAllText(Path.Combine(directory, name + ".key"), key is RSA r ? r.ExportPkcs8PrivateKeyPem() : ((ECDsa)key).ExportECPrivateKeyPem());
        return leaf;
    }

    /// <summary>A client certificate (with its private key) signed by this CA.</summary>
    public X509Certificate2 ClientCertificate(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = Request(subject, key);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var certificate = Sign(request);
        using var withKey = certificate.CopyWithPrivateKey(key);
        // Through PKCS#12 so that SslStream can use the key on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    public void Dispose()
    {
        Ca.Dispose();
        _caKey.Dispose();
    }

    private static CertificateRequest Request(string subject, AsymmetricAlgorithm key) => key is RSA rsa
        ? new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
        : new CertificateRequest(subject, (ECDsa)key, HashAlgorithmName.SHA256);

    private X509Certificate2 Sign(CertificateRequest request) =>
        request.Create(Ca.SubjectName, X509SignatureGenerator.CreateForECDsa(_caKey), DateTimeOffset.UtcNow.AddDays(-1),
            DateTimeOffset.UtcNow.AddDays(30), RandomNumberGenerator.GetBytes(8));
}
