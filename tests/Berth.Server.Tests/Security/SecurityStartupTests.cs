using Berth.Api;
using Berth.Auth;
using Berth.Server.Configuration;
using Berth.Server.Tls;
using Microsoft.Extensions.DependencyInjection;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Security;

/// <summary>What <see cref="RegistryHost.Build"/> does with auth and TLS settings before anything listens.</summary>
public sealed class SecurityStartupTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    /// <summary>A config with <paramref name="extra"/> top-level sections and <paramref name="http"/> lines inside <c>http</c>.</summary>
    private static string Yaml(string extra, string http = "") =>
        "version: 0.1\nlog:\n  level: error\nstorage:\n  inmemory: {}\nhttp:\n  addr: 127.0.0.1:0\n" + http + extra;

    private static async Task<ConfigurationException> BuildFailsAsync(string yaml)
    {
        var loaded = LoadYaml(yaml);
        var exception = Assert.Throws<ConfigurationException>(() => RegistryHost.Build(loaded.Configuration, loaded.Warnings));
        await Task.CompletedTask;
        return exception;
    }

    private static string HtpasswdYaml(string path) => Yaml($"auth:\n  htpasswd:\n    realm: Registry\n    path: '{path}'\n");

    [Fact]
    public async Task Build_HtpasswdWithPlainLine_StopsNamingTheLineAndTheFix()
    {
        var path = _pki.Path("htpasswd");
        await File.WriteAllTextAsync(path, $"alice:{BCrypt.Net.BCrypt.HashPassword("a", 4)}\nbob secret\n");

        var exception = await BuildFailsAsync(HtpasswdYaml(path));

        Assert.Equal("auth.htpasswd.path", exception.Key);
        Assert.Contains($"{path} line 2", exception.Message, StringComparison.Ordinal);
        Assert.Contains("berth htpasswd -B", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_HtpasswdMissing_StopsSayingHowToCreateIt()
    {
        var path = _pki.Path("absent");

        var exception = await BuildFailsAsync(HtpasswdYaml(path));

        Assert.Contains($"berth htpasswd -B -c {path} USER", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_Htpasswd_RegistersTheControllerAndTurnsAutomaticMountsOff()
    {
        var path = _pki.Path("htpasswd");
        await File.WriteAllTextAsync(path, $"alice:{BCrypt.Net.BCrypt.HashPassword("a", 4)}\n");
        var loaded = LoadYaml(HtpasswdYaml(path));

        await using var app = RegistryHost.Build(loaded.Configuration, loaded.Warnings);

        Assert.IsType<HtpasswdAccessController>(app.Services.GetRequiredService<IAccessController>());
        Assert.False(app.Services.GetRequiredService<RegistryApiOptions>().AutomaticCrossMount);
    }

    [Fact]
    public async Task Build_NoAuth_AllowsAllAndKeepsAutomaticMounts()
    {
        var loaded = LoadYaml(Yaml(""));

        await using var app = RegistryHost.Build(loaded.Configuration, loaded.Warnings);

        Assert.Same(AllowAllAccessController.Instance, app.Services.GetRequiredService<IAccessController>());
        Assert.True(app.Services.GetRequiredService<RegistryApiOptions>().AutomaticCrossMount);
    }

    [Fact]
    public async Task Build_TokenBundleMissing_StopsNamingTheFile()
    {
        var bundle = _pki.Path("no-such-bundle.pem");

        var exception = await BuildFailsAsync(Yaml($"auth:\n  token:\n    realm: https://auth/token\n    service: s\n    issuer: i\n    rootcertbundle: '{bundle}'\n"));

        Assert.Equal("auth.token", exception.Key);
        Assert.Contains(bundle, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_TokenWithUnsupportedAlgorithm_Stops()
    {
        var exception = await BuildFailsAsync(Yaml(
            $"auth:\n  token:\n    realm: https://auth/token\n    service: s\n    issuer: i\n    rootcertbundle: '{_pki.CaPath}'\n    signingalgorithms: [HS256]\n"));

        Assert.Equal("auth.token.signingalgorithms", exception.Key);
    }

    [Fact]
    public async Task Build_Token_RegistersTheTokenController()
    {
        var loaded = LoadYaml(Yaml($"auth:\n  token:\n    realm: https://auth/token\n    service: s\n    issuer: i\n    rootcertbundle: '{_pki.CaPath}'\n"));

        await using var app = RegistryHost.Build(loaded.Configuration, loaded.Warnings);

        Assert.IsType<TokenAccessController>(app.Services.GetRequiredService<IAccessController>());
    }

    private static string TlsYaml(string certificate, string key, string extra = "") =>
        Yaml("", $"  tls:\n    certificate: '{certificate}'\n    key: '{key}'\n{extra}");

    [Fact]
    public async Task Build_CertificateMissing_StopsNamingTheFile()
    {
        var (_, key, _) = _pki.Server("server");
        var missing = _pki.Path("missing.crt");

        var exception = await BuildFailsAsync(TlsYaml(missing, key));

        Assert.Equal("http.tls.certificate", exception.Key);
        Assert.Equal($"http.tls.certificate: file not found: {missing}", exception.Message);
    }

    [Fact]
    public async Task Build_KeyOfAnotherCertificate_StopsNamingBothFiles()
    {
        var (certificate, _, _) = _pki.Server("one");
        var (_, otherKey, _) = _pki.Server("two");

        var exception = await BuildFailsAsync(TlsYaml(certificate, otherKey));

        Assert.Equal("http.tls.key", exception.Key);
        Assert.Contains(otherKey, exception.Message, StringComparison.Ordinal);
        Assert.Contains(certificate, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_RsaKeyForEcCertificate_StopsNamingTheKeyFile()
    {
        var (certificate, _, _) = _pki.Server("ec");
        var (_, rsaKey, _) = _pki.Server("rsa", rsa: true);

        var exception = await BuildFailsAsync(TlsYaml(certificate, rsaKey));

        Assert.Equal("http.tls.key", exception.Key);
        Assert.Contains(rsaKey, exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("garbage\n", "http.tls.certificate", "no PEM certificate")]
    [InlineData(null, "http.tls.key", "no PEM private key")]
    public async Task Build_UnreadablePem_StopsNamingTheFile(string? certificateText, string key, string detail)
    {
        var (certificate, keyPath, _) = _pki.Server("server");
        if (certificateText is not null)
        {
            await File.WriteAllTextAsync(certificate, certificateText);
        }
        else
        {
            await File.WriteAllTextAsync(keyPath, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        }

        var exception = await BuildFailsAsync(TlsYaml(certificate, keyPath));

        Assert.Equal(key, exception.Key);
        Assert.Contains(detail, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_EncryptedKey_StopsWithAHint()
    {
        var (certificate, keyPath, _) = _pki.Server("server");
        using var ec = System.Security.Cryptography.ECDsa.Create();
        ec.ImportFromPem(await File.ReadAllTextAsync(keyPath));
        await File.WriteAllTextAsync(keyPath, ec.ExportEncryptedPkcs8PrivateKeyPem("pw",
            new System.Security.Cryptography.PbeParameters(System.Security.Cryptography.PbeEncryptionAlgorithm.Aes128Cbc, System.Security.Cryptography.HashAlgorithmName.SHA256, 1000)));

        var exception = await BuildFailsAsync(TlsYaml(certificate, keyPath));

        Assert.Contains("encrypted", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_LetsEncrypt_IsRefusedWithTheAlternative()
    {
        // Refused when the configuration is loaded, so `berth config check` reports it too.
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml(Yaml("", "  tls:\n    letsencrypt:\n      cachefile: /tmp/le\n")));

        Assert.Equal("http.tls.letsencrypt.cachefile", exception.Key);
        Assert.Contains("certbot", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_UnknownCipherSuite_StopsNamingIt()
    {
        var (certificate, key, _) = _pki.Server("server");

        var exception = await BuildFailsAsync(TlsYaml(certificate, key, "    ciphersuites: [TLS_RSA_WITH_RC4_128_MD5X]\n"));

        Assert.Equal("http.tls.ciphersuites.0", exception.Key);
    }

    [Fact]
    public void Create_ChainAndProtocols_AreWhatTheConfigurationSays()
    {
        var (certificate, key, leaf) = _pki.Server("server", rsa: true);
        var warnings = new List<string>();
        var http = LoadYaml(TlsYaml(certificate, key, "    minimumtls: tls1.0\n    ciphersuites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305]\n")).Configuration.Http;

        var tls = TlsSetup.Create(http, warnings)!;
        var options = tls.ServerOptions();

        Assert.Equal(leaf.Thumbprint, tls.Certificate.Certificate.Thumbprint);
        Assert.True(tls.Certificate.Certificate.HasPrivateKey);
        Assert.Equal(System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13, options.EnabledSslProtocols);
        Assert.Contains(warnings, w => w.Contains("tls1.0 is not offered", StringComparison.Ordinal));
        Assert.Equal([System.Net.Security.SslApplicationProtocol.Http2, System.Net.Security.SslApplicationProtocol.Http11], options.ApplicationProtocols);
        Assert.NotNull(options.CipherSuitesPolicy);
        Assert.Null(tls.ClientAuth);
    }

    [Fact]
    public void Create_ClientCas_RequireAndVerifyByDefault()
    {
        var (certificate, key, _) = _pki.Server("server");
        var http = LoadYaml(TlsYaml(certificate, key, $"    clientcas: ['{_pki.CaPath}']\n")).Configuration.Http;

        var tls = TlsSetup.Create(http, [])!;

        Assert.Equal("require-and-verify-client-cert", tls.ClientAuth);
        Assert.True(tls.ServerOptions().ClientCertificateRequired);
    }

    [Fact]
    public void ReloadIfChanged_RenewedCertificate_GoesIntoService_BrokenOneDoesNot()
    {
        var (certificate, key, first) = _pki.Server("server");
        var reloading = new ReloadingCertificate(certificate, key);
        Assert.Equal(first.Thumbprint, reloading.Certificate.Thumbprint);

        // A new certificate without its key yet: keep serving the old one.
        var (renewedCertificate, renewedKey, renewed) = _pki.Server("renewed");
        File.Copy(renewedCertificate, certificate, overwrite: true);
        Assert.False(reloading.ReloadIfChanged());
        Assert.Equal(first.Thumbprint, reloading.Certificate.Thumbprint);

        // Written within the same tick of the filesystem's clock and of the same size as the old key (as a script
        // renewing both files at once does): only the content tells it apart.
        var keyWrittenAt = File.GetLastWriteTimeUtc(key);
        File.Copy(renewedKey, key, overwrite: true);
        File.SetLastWriteTimeUtc(key, keyWrittenAt);
        Assert.True(reloading.ReloadIfChanged());
        Assert.Equal(renewed.Thumbprint, reloading.Certificate.Thumbprint);
        Assert.False(reloading.ReloadIfChanged());
    }
}
