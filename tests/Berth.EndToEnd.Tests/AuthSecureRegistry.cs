using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// A Berth process serving HTTPS with htpasswd authentication and access rules, as an operator would set it up:
/// a CA and a server certificate made with the openssl command line, an htpasswd file made with <c>berth htpasswd</c>,
/// and a registry:2 config.yml with Berth's <c>access</c> section. Clients trust the CA through <see cref="CertDirectory"/>
/// (a directory holding only <c>ca.crt</c>, as skopeo, podman and Docker's certs.d expect).
/// </summary>
public sealed class SecureBerth : IAsyncDisposable
{
    public const string Realm = "Berth E2E";
    public const string Admin = "admin";
    public const string AdminPassword = "e2e-admin-Pa55";
    public const string Developer = "dev";
    public const string DeveloperPassword = "e2e-dev-Pa55";

    private readonly TemporaryDirectory _directory;
    private readonly RegistryProcess _process;

    private SecureBerth(TemporaryDirectory directory, RegistryProcess process, IPAddress address)
    {
        _directory = directory;
        _process = process;
        Address = address;
    }

    public IPAddress Address { get; }

    public int Port => _process.Port;

    /// <summary>host:port as clients name the registry.</summary>
    public string Host => Endpoint(Address, Port);

    /// <summary>A directory with only <c>ca.crt</c>: skopeo's <c>--cert-dir</c>, podman's <c>--cert-dir</c>.</summary>
    public string CertDirectory => _directory.Combine("client-certs");

    public string CaPath => Path.Combine(CertDirectory, "ca.crt");

    public string Log => _process.Log;

    /// <summary>Starts the registry on <paramref name="address"/> (127.0.0.1 by default) with a fresh PKI, users and storage.</summary>
    public static async Task<SecureBerth> StartAsync(ITestOutputHelper? log = null, IPAddress? address = null)
    {
        address ??= IPAddress.Loopback;
        var directory = TemporaryDirectory.Create("secure");
        try
        {
            await WritePkiAsync(directory, address, log);
            var htpasswd = directory.Combine("htpasswd");
            await BerthAsync(log, "htpasswd", "-Bbc", htpasswd, Admin, AdminPassword);
            await BerthAsync(log, "htpasswd", "-Bb", htpasswd, Developer, DeveloperPassword);

            var process = await RegistryProcess.StartAsync(RegistryKind.Berth, "secure-berth", directory.Combine("storage"),
                port => ConfigYaml(directory, address, port, htpasswd),
                new RegistryReadiness(port => TrustingClient(directory.Combine("client-certs/ca.crt"), Endpoint(address, port)), HttpStatusCode.Unauthorized));
            return new SecureBerth(directory, process, address);
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    /// <summary>An HttpClient that trusts only the test CA.</summary>
    public HttpClient CreateHttpClient() => TrustingClient(CaPath, Host);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _process.DisposeAsync();
        }
        finally
        {
            _directory.Dispose();
        }
    }

    private static string Endpoint(IPAddress address, int port) => $"{address}:{port.ToString(CultureInfo.InvariantCulture)}";

    private static HttpClient TrustingClient(string caPath, string host)
    {
        using var ca = X509CertificateLoader.LoadCertificateFromFile(caPath);
        var trusted = X509CertificateLoader.LoadCertificate(ca.RawData);
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            if (certificate is null)
            {
                return false;
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(trusted);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            return chain.Build(leaf);
        };
        return new HttpClient(handler) { BaseAddress = new Uri($"https://{host}/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>A CA and an RSA server certificate for <paramref name="address"/>, 127.0.0.1 and localhost, with openssl.</summary>
    private static async Task WritePkiAsync(TemporaryDirectory directory, IPAddress address, ITestOutputHelper? log)
    {
        var options = new CommandOptions { WorkingDirectory = directory.Path, Timeout = TimeSpan.FromMinutes(1) };
        await ExternalCommand.RunCheckedAsync("openssl",
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Berth E2E CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], log, options);
        await ExternalCommand.RunCheckedAsync("openssl",
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=berth-e2e"],
            log, options);
        await File.WriteAllTextAsync(directory.Combine("server.ext"),
            $"subjectAltName=IP:{address},IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
        await ExternalCommand.RunCheckedAsync("openssl",
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext"],
            log, options);
        // The full chain in the certificate file, leaf first, as operators are told to write it.
        await File.AppendAllTextAsync(directory.Combine("server.crt"), await File.ReadAllTextAsync(directory.Combine("ca.crt")));
        Directory.CreateDirectory(directory.Combine("client-certs"));
        File.Copy(directory.Combine("ca.crt"), Path.Combine(directory.Combine("client-certs"), "ca.crt"));
    }

    /// <summary>Runs the server build's CLI (<c>berth htpasswd ...</c>).</summary>
    private static Task<CommandResult> BerthAsync(ITestOutputHelper? log, params string[] arguments) =>
        ExternalCommand.RunCheckedAsync(BuildOutput.DotnetHost, [BuildOutput.ServerAssemblySnapshot, .. arguments], log);

    /// <summary>registry:2's keys for TLS and htpasswd, plus Berth's access rules.</summary>
    private static string ConfigYaml(TemporaryDirectory directory, IPAddress address, int port, string htpasswd) => $"""
        version: 0.1
        log:
          level: info
        storage:
          filesystem:
            rootdirectory: {directory.Combine("storage")}
          delete:
            enabled: true
        http:
          addr: {address}:{port.ToString(CultureInfo.InvariantCulture)}
          secret: berth-e2e-secure
          tls:
            certificate: {directory.Combine("server.crt")}
            key: {directory.Combine("server.key")}
        auth:
          htpasswd:
            realm: {Realm}
            path: {htpasswd}
        access:
          rules:
            - repositories: ["public/**"]
              anonymous: [pull]
            - repositories: ["**"]
              users: [{Admin}, {Developer}]
              actions: ["*"]
        health:
          storagedriver:
            enabled: false

        """;
}

/// <summary>One secure Berth shared by the tests of a class.</summary>
public sealed class SecureBerthFixture : IAsyncLifetime
{
    public SecureBerth Registry { get; private set; } = null!;

    public async Task InitializeAsync() => Registry = await SecureBerth.StartAsync();

    public async Task DisposeAsync() => await Registry.DisposeAsync();
}
