using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Berth.Server.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Berth.Server.Tls;

/// <summary>
/// HTTPS as <c>http.tls</c> describes it: the reloading certificate, TLS 1.2 and 1.3 only, HTTP/2 by ALPN unless
/// <c>http.http2.disabled</c>, optional cipher-suite list, and client certificates per <c>clientcas</c>/<c>clientauth</c>.
/// Built once at start-up (so every file problem stops start-up), applied to each listener.
/// </summary>
internal sealed class TlsSetup
{
    /// <summary>registry:2's modes, with Go's names.</summary>
    internal const string RequestClientCert = "request-client-cert";
    internal const string RequireAnyClientCert = "require-any-client-cert";
    internal const string VerifyClientCertIfGiven = "verify-client-cert-if-given";
    internal const string RequireAndVerifyClientCert = "require-and-verify-client-cert";

    private static readonly TlsCipherSuite[] Tls13Suites =
        [TlsCipherSuite.TLS_AES_128_GCM_SHA256, TlsCipherSuite.TLS_AES_256_GCM_SHA384, TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256];

    private readonly X509Certificate2Collection _clientCas;
    private readonly CipherSuitesPolicy? _cipherSuites;
    private readonly List<SslApplicationProtocol> _protocols;

    private TlsSetup(ReloadingCertificate certificate, SslProtocols protocols, X509Certificate2Collection clientCas, string? clientAuth,
        CipherSuitesPolicy? cipherSuites, bool http2)
    {
        Certificate = certificate;
        Protocols = protocols;
        _clientCas = clientCas;
        ClientAuth = clientAuth;
        _cipherSuites = cipherSuites;
        Http2 = http2;
        _protocols = http2 ? [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11] : [SslApplicationProtocol.Http11];
    }

    public ReloadingCertificate Certificate { get; }

    public SslProtocols Protocols { get; }

    /// <summary>The client-certificate mode in force, or null when none is asked for.</summary>
    public string? ClientAuth { get; }

    public bool Http2 { get; }

    /// <summary>Null when TLS is off; otherwise loads everything now, failing with the key and file at fault.</summary>
    /// <param name="warnings">Receives configuration warnings (old TLS versions raised to 1.2).</param>
    public static TlsSetup? Create(HttpOptions http, ICollection<string> warnings)
    {
        // http.tls.letsencrypt is refused when the configuration is loaded.
        var tls = http.Tls;
        if (tls.Certificate is null || tls.Key is null)
        {
            if (tls.ClientCas.Count > 0)
            {
                throw ConfigurationException.ForKey("http.tls.clientcas", "client certificates need TLS: set http.tls.certificate and http.tls.key");
            }

            return null;
        }

        var protocols = tls.MinimumTls switch
        {
            "tls1.3" => SslProtocols.Tls13,
            _ => SslProtocols.Tls12 | SslProtocols.Tls13,
        };
        if (tls.MinimumTls is "tls1.0" or "tls1.1")
        {
            warnings.Add($"http.tls.minimumtls: {tls.MinimumTls} is not offered; Berth serves TLS 1.2 and 1.3 only");
        }

        var certificate = new ReloadingCertificate(tls.Certificate, tls.Key);
        var clientCas = CertificateFiles.LoadClientCas(tls.ClientCas);
        var clientAuth = tls.ClientAuth ?? (clientCas.Count > 0 ? RequireAndVerifyClientCert : null);
        if (clientAuth is VerifyClientCertIfGiven or RequireAndVerifyClientCert && clientCas.Count == 0)
        {
            throw ConfigurationException.ForKey("http.tls.clientauth", $"{clientAuth} needs the CA certificates to verify against: set http.tls.clientcas");
        }

        return new TlsSetup(certificate, protocols, clientCas, clientAuth, CipherSuites(tls.CipherSuites, protocols), !http.Http2.Disabled);
    }

    /// <summary>Serves HTTPS on <paramref name="listen"/>.</summary>
    public void Apply(ListenOptions listen)
    {
        listen.Protocols = Http2 ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1;
        listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            HandshakeTimeout = TimeSpan.FromSeconds(10),
            OnConnection = _ => ValueTask.FromResult(ServerOptions()),
        });
    }

    /// <summary>The options of one handshake: a fresh object each time, since the certificate may have been renewed.</summary>
    internal SslServerAuthenticationOptions ServerOptions()
    {
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = Certificate.Current,
            EnabledSslProtocols = Protocols,
            ApplicationProtocols = _protocols,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            CipherSuitesPolicy = _cipherSuites,
            AllowRenegotiation = false,
        };

        if (ClientAuth is not null)
        {
            options.ClientCertificateRequired = ClientAuth is RequireAnyClientCert or RequireAndVerifyClientCert;
            options.RemoteCertificateValidationCallback = ValidateClientCertificate;
        }

        return options;
    }

    private bool ValidateClientCertificate(object sender, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return ClientAuth is RequestClientCert or VerifyClientCertIfGiven;
        }

        if (ClientAuth is RequestClientCert or RequireAnyClientCert)
        {
            return true;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_clientCas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        if (certificate is X509Certificate2 leaf)
        {
            return chain.Build(leaf);
        }

        using var copy = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(copy);
    }

    /// <summary>Go's cipher-suite names (registry:2's config) as .NET suites; TLS 1.3's suites are always on, as in Go.</summary>
    private static CipherSuitesPolicy? CipherSuites(IReadOnlyList<string> names, SslProtocols protocols)
    {
        if (names.Count == 0)
        {
            return null;
        }

        var suites = new List<TlsCipherSuite>();
        for (var i = 0; i < names.Count; i++)
        {
            suites.Add(ParseCipherSuite(names[i]) ?? throw ConfigurationException.ForKey($"http.tls.ciphersuites.{i}",
                $"unknown cipher suite '{names[i]}'; use IANA/Go names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"));
        }

        if (protocols.HasFlag(SslProtocols.Tls13))
        {
            suites.AddRange(Tls13Suites.Where(suite => !suites.Contains(suite)));
        }

        if (OperatingSystem.IsWindows())
        {
            throw ConfigurationException.ForKey("http.tls.ciphersuites", "choosing cipher suites is not supported on Windows");
        }

        return new CipherSuitesPolicy(suites);
    }

    internal static TlsCipherSuite? ParseCipherSuite(string name)
    {
        // Go drops the hash from the ChaCha20 suites' names: TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305.
        foreach (var candidate in new[] { name, name + "_SHA256" })
        {
            if (Enum.TryParse<TlsCipherSuite>(candidate, ignoreCase: false, out var suite) && Enum.IsDefined(suite))
            {
                return suite;
            }
        }

        return null;
    }
}
