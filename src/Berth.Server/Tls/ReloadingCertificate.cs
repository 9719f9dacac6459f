using System.Net.Security;
using Berth.Auth;
using Berth.Server.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Server.Tls;

/// <summary>
/// The server certificate, re-read when its files change: each TLS handshake asks for <see cref="Current"/>, which
/// looks at the files at most once per <see cref="CheckInterval"/> (their resolved targets, modification times and
/// sizes, so a renewed certificate and a swapped Kubernetes secret are both noticed). Connections already open keep
/// the certificate they were made with; new ones get the new one. A changed pair that does not load (a certificate
/// written before its key, say) is logged, and the last good certificate stays in service until the files change again.
/// </summary>
internal sealed partial class ReloadingCertificate
{
    /// <summary>How often, at most, the files are looked at.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly string _certificatePath;
    private readonly string _keyPath;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private volatile State _state;
    private long _nextCheck;
    private (FileSignature? Certificate, FileSignature? Key)? _rejected;

    /// <summary>Loads the pair now.</summary>
    /// <exception cref="ConfigurationException">A file is missing or unreadable, or the key does not belong to the certificate.</exception>
    public ReloadingCertificate(string certificatePath, string keyPath, TimeProvider? time = null)
    {
        _certificatePath = certificatePath;
        _keyPath = keyPath;
        _time = time ?? TimeProvider.System;
        var signatures = Signatures();
        _state = new State(Create(CertificateFiles.Load(certificatePath, keyPath)), signatures);
        _nextCheck = _time.GetTimestamp() + TicksOf(CheckInterval);
    }

    /// <summary>Where problems on reload are reported; set once the host's logging exists.</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    /// <summary>The leaf certificate in service.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate => _state.Context.TargetCertificate;

    /// <summary>The certificate context for a new handshake, re-read first when the files changed.</summary>
    public SslStreamCertificateContext Current
    {
        get
        {
            var now = _time.GetTimestamp();
            if (now >= Interlocked.Read(ref _nextCheck))
            {
                Interlocked.Exchange(ref _nextCheck, now + TicksOf(CheckInterval));
                ReloadIfChanged();
            }

            return _state.Context;
        }
    }

    /// <summary>Looks at the files now and reloads when they changed; true when a new certificate went into service.</summary>
    public bool ReloadIfChanged()
    {
        (FileSignature? Certificate, FileSignature? Key) signatures;
        try
        {
            signatures = Signatures();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        var state = _state;
        if (signatures == state.Signatures || signatures.Certificate is null || signatures.Key is null)
        {
            return false;
        }

        lock (_gate)
        {
            if (signatures == _state.Signatures || signatures == _rejected)
            {
                return false;
            }

            try
            {
                var loaded = CertificateFiles.Load(_certificatePath, _keyPath);
                _state = new State(Create(loaded), signatures);
                _rejected = null;
                LogReloaded(Logger, _certificatePath, loaded.Leaf.Subject, loaded.NotAfterUtc);
                return true;
            }
            catch (ConfigurationException ex)
            {
                _rejected = signatures;
                LogReloadFailed(Logger, ex.Message);
                return false;
            }
        }
    }

    private static SslStreamCertificateContext Create(LoadedCertificate loaded) =>
        SslStreamCertificateContext.Create(loaded.Leaf, loaded.Intermediates, offline: true);

    private (FileSignature? Certificate, FileSignature? Key) Signatures() => (FileSignature.Of(_certificatePath), FileSignature.Of(_keyPath));

    private long TicksOf(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Information, Message = "TLS certificate {Path} reloaded: {Subject}, valid until {NotAfter:u}")]
    private static partial void LogReloaded(ILogger logger, string path, string subject, DateTime notAfter);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Error, Message = "The changed TLS certificate cannot be used, the previous one stays in service: {Problem}")]
    private static partial void LogReloadFailed(ILogger logger, string problem);

    private sealed record State(SslStreamCertificateContext Context, (FileSignature? Certificate, FileSignature? Key) Signatures);
}
