using System.Collections.ObjectModel;

namespace Berth.Server.Configuration;

/// <summary><c>http</c>: the registry's listener and HTTP behaviour.</summary>
public sealed record HttpOptions
{
    /// <summary>The address registry:2 images listen on.</summary>
    public const string DefaultAddr = ":5000";

    internal static readonly IReadOnlyList<string> Networks = ["tcp", "unix"];

    /// <summary><c>http.addr</c>: <c>host:port</c>, <c>:port</c> for every interface, or a socket path when <see cref="Net"/> is unix (default <c>:5000</c>).</summary>
    public string Addr { get; init; } = DefaultAddr;

    /// <summary><c>http.net</c>: tcp (default) or unix.</summary>
    public string Net { get; init; } = "tcp";

    /// <summary><c>http.prefix</c>: a path prefix the registry is served under (for example <c>/registry/</c>), or null.</summary>
    public string? Prefix { get; init; }

    /// <summary><c>http.host</c>: the externally reachable base URL used in Location headers, or null to derive it from the request.</summary>
    public string? Host { get; init; }

    /// <summary>
    /// <c>http.secret</c>: the key upload state tokens are signed with. Replicas behind one load balancer need the
    /// same secret; null means each process generates its own.
    /// </summary>
    public string? Secret { get; init; }

    /// <summary><c>http.relativeurls</c>: return relative URLs in Location headers.</summary>
    public bool RelativeUrls { get; init; }

    /// <summary><c>http.headers</c>: headers added to every response (for example <c>X-Content-Type-Options: [nosniff]</c>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Headers { get; init; } = ReadOnlyDictionary<string, IReadOnlyList<string>>.Empty;

    /// <summary><c>http.tls</c>.</summary>
    public TlsOptions Tls { get; init; } = new();

    /// <summary><c>http.debug</c>: the separate debug/metrics listener.</summary>
    public DebugServerOptions Debug { get; init; } = new();

    /// <summary><c>http.http2</c>.</summary>
    public Http2Options Http2 { get; init; } = new();

    internal static HttpOptions Read(SectionReader section)
    {
        var defaults = new HttpOptions();

        // The .NET host gives requests in flight 30 seconds on shutdown, whatever this says.
        section.Ignore("draintimeout", "Berth lets requests in flight finish for up to 30s on shutdown (the .NET host's limit)");

        // Kestrel offers HTTP/1.1 and HTTP/2 on one port only over TLS, where ALPN picks; plain HTTP is HTTP/1.1.
        section["h2c"].AsSection(h2c =>
        {
            var enabled = h2c["enabled"];
            if (enabled.AsBool())
            {
                throw enabled.Invalid(
                    "Berth does not serve HTTP/2 without TLS; let the load balancer speak HTTP/1.1 to Berth, or set http.tls for HTTP/2, and remove the key");
            }

            return true;
        });

        return new HttpOptions
        {
            Addr = section["addr"].AsString(defaults.Addr),
            Net = section["net"].AsChoice(defaults.Net, Networks),
            Prefix = section["prefix"].AsString(),
            Host = section["host"].AsHttpUrl()?.OriginalString,
            Secret = section["secret"].AsString(),
            RelativeUrls = section["relativeurls"].AsBool(),
            Headers = section["headers"].AsHeaders(),
            Tls = section["tls"].AsSection(TlsOptions.Read),
            Debug = section["debug"].AsSection(DebugServerOptions.Read),
            Http2 = section["http2"].AsSection(Http2Options.Read),
        };
    }
}

/// <summary><c>http.tls</c>: serve HTTPS directly instead of behind a TLS-terminating proxy.</summary>
public sealed record TlsOptions
{
    // registry:2 accepts TLS 1.0 and 1.1 too; Distribution 3 dropped them. Accepting them keeps old files loading.
    internal static readonly IReadOnlyList<string> TlsVersions = ["tls1.0", "tls1.1", "tls1.2", "tls1.3"];

    internal static readonly IReadOnlyList<string> ClientAuthModes =
        ["request-client-cert", "require-any-client-cert", "verify-client-cert-if-given", "require-and-verify-client-cert"];

    /// <summary><c>http.tls.certificate</c>: the PEM certificate (chain) file; null serves plain HTTP.</summary>
    public string? Certificate { get; init; }

    /// <summary><c>http.tls.key</c>: the PEM private key file for <see cref="Certificate"/>.</summary>
    public string? Key { get; init; }

    /// <summary><c>http.tls.clientcas</c>: CA files that client certificates are verified against.</summary>
    public IReadOnlyList<string> ClientCas { get; init; } = [];

    /// <summary><c>http.tls.clientauth</c>: how client certificates are requested, or null for the default.</summary>
    public string? ClientAuth { get; init; }

    /// <summary><c>http.tls.minimumtls</c>: tls1.0, tls1.1, tls1.2 (default) or tls1.3.</summary>
    public string MinimumTls { get; init; } = "tls1.2";

    /// <summary><c>http.tls.ciphersuites</c>: allowed cipher suites (Go names); empty for the platform default.</summary>
    public IReadOnlyList<string> CipherSuites { get; init; } = [];

    /// <summary>True when the registry should listen with TLS.</summary>
    public bool Enabled => Certificate is not null;

    internal static TlsOptions Read(SectionReader section)
    {
        var defaults = new TlsOptions();
        var certificate = section["certificate"].AsString();
        var keyValue = section["key"];
        var key = keyValue.AsString();
        if (certificate is not null && key is null)
        {
            throw keyValue.Invalid("required when http.tls.certificate is set");
        }

        if (certificate is null && key is not null)
        {
            throw section["certificate"].Invalid("required when http.tls.key is set");
        }

        section["letsencrypt"].AsSection(letsEncrypt =>
        {
            foreach (var name in (string[])["cachefile", "email", "hosts", "directoryurl"])
            {
                letsEncrypt.Refuse(name,
                    "ACME is not built into Berth; obtain the certificate with certbot or cert-manager, set http.tls.certificate and http.tls.key (Berth reloads them when they change) and remove http.tls.letsencrypt");
            }

            return true;
        });

        return new TlsOptions
        {
            Certificate = certificate,
            Key = key,
            ClientCas = section["clientcas"].AsStringList(),
            ClientAuth = section["clientauth"].AsChoice(ClientAuthModes),
            MinimumTls = section["minimumtls"].AsChoice(defaults.MinimumTls, TlsVersions),
            CipherSuites = section["ciphersuites"].AsStringList(),
        };
    }
}

/// <summary><c>http.debug</c>: a second listener for diagnostics and metrics, off by default.</summary>
public sealed record DebugServerOptions
{
    /// <summary><c>http.debug.addr</c>: the debug listener's address, or null for none.</summary>
    public string? Addr { get; init; }

    /// <summary><c>http.debug.prometheus</c>.</summary>
    public PrometheusOptions Prometheus { get; init; } = new();

    internal static DebugServerOptions Read(SectionReader section) => new()
    {
        Addr = section["addr"].AsString(),
        Prometheus = section["prometheus"].AsSection(PrometheusOptions.Read),
    };
}

/// <summary><c>http.debug.prometheus</c>.</summary>
public sealed record PrometheusOptions
{
    /// <summary><c>enabled</c>: expose Prometheus metrics on the debug listener.</summary>
    public bool Enabled { get; init; }

    /// <summary><c>path</c>: the metrics path (default <c>/metrics</c>).</summary>
    public string Path { get; init; } = "/metrics";

    internal static PrometheusOptions Read(SectionReader section)
    {
        var defaults = new PrometheusOptions();
        return new PrometheusOptions
        {
            Enabled = section["enabled"].AsBool(),
            Path = section["path"].AsString(defaults.Path),
        };
    }
}

/// <summary><c>http.http2</c>.</summary>
public sealed record Http2Options
{
    /// <summary><c>http.http2.disabled</c>: serve HTTP/1.1 only.</summary>
    public bool Disabled { get; init; }

    internal static Http2Options Read(SectionReader section) => new() { Disabled = section["disabled"].AsBool() };
}
