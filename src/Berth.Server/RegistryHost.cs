using System.Net;
using System.Security.Cryptography.X509Certificates;
using Berth.Api;
using Berth.Server.Configuration;
using Berth.Server.Diagnostics;
using Berth.Storage;
using Berth.Storage.Drivers;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Berth.Server;

/// <summary>Builds the registry web application from a loaded configuration.</summary>
public static partial class RegistryHost
{
    /// <summary>Kestrel's limit for bodies outside the upload routes; manifests are capped at 4 MiB on their own.</summary>
    private const long DefaultMaxRequestBodyBytes = 8 * 1024 * 1024;

    public static WebApplication Build(RegistryConfiguration config, IReadOnlyList<string>? warnings = null)
    {
        if (config.Auth.Type is { } authType)
        {
            // Serving without the access control the operator asked for would expose the registry.
            throw new ConfigurationException($"auth.{authType}: this version of Berth does not implement authentication yet; refusing to start without it");
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        if (string.Equals(config.Log.Formatter, "json", StringComparison.OrdinalIgnoreCase))
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.UseUtcTimestamp = true;
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                o.UseUtcTimestamp = true;
            });
        }

        builder.Logging.SetMinimumLevel(ParseLevel(config.Log.Level));
        // Kestrel and hosting chatter is operational noise unless asked for.
        builder.Logging.AddFilter("Microsoft", ParseLevel(config.Log.Level) <= LogLevel.Debug ? LogLevel.Information : LogLevel.Warning);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = DefaultMaxRequestBodyBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = 64 * 1024;
            Listen(kestrel, config);
            kestrel.ListenForDiagnostics(config);
        });

        var storageRoot = config.Storage.Filesystem.RootDirectory;
        builder.Services.AddBerthStorage(sp => config.Storage.Driver switch
        {
            "filesystem" => new FilesystemDriver(storageRoot, sp.GetRequiredService<ILogger<FilesystemDriver>>()),
            "inmemory" => new InMemoryDriver(),
            var other => throw new ConfigurationException($"storage: the '{other}' driver is not available in this build"),
        });

        var secretConfigured = !string.IsNullOrEmpty(config.Http.Secret);
        builder.Services.AddBerthDiagnostics(config);
        builder.Services.AddBerthApi(new RegistryApiOptions
        {
            UploadStateSecret = secretConfigured ? UploadStateToken.SecretFromText(config.Http.Secret!) : UploadStateToken.RandomSecret(),
            DeleteEnabled = config.Storage.Delete.Enabled,
            ReadOnly = config.Storage.Maintenance.ReadOnly.Enabled,
            RedirectDisabled = config.Storage.Redirect.Disable,
            RelativeUrls = config.Http.RelativeUrls,
            ExternalBaseUri = string.IsNullOrEmpty(config.Http.Host) ? null : new Uri(config.Http.Host),
            CatalogMaxEntries = config.Catalog.MaxEntries,
            AutomaticCrossMount = config.Storage.Mount.Automatic,
        });

        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Berth.Server");
        foreach (var warning in warnings ?? [])
        {
            LogConfigurationWarning(logger, warning);
        }

        if (!secretConfigured)
        {
            LogNoSecret(logger);
        }

        // Fail at start-up, not on the first request, when storage cannot be opened.
        _ = app.Services.GetRequiredService<IStorageDriver>();

        if (!string.IsNullOrEmpty(config.Http.Prefix) && config.Http.Prefix.Trim('/').Length > 0)
        {
            app.UsePathBase("/" + config.Http.Prefix.Trim('/'));
        }

        app.UseBerthDiagnostics(config);

        if (config.Http.Headers.Count > 0)
        {
            var headers = config.Http.Headers;
            app.Use((context, next) =>
            {
                // http.headers go on every response, as registry:2 does (typically X-Content-Type-Options).
                foreach (var (name, values) in headers)
                {
                    context.Response.Headers[name] = values.ToArray();
                }

                return next(context);
            });
        }

        app.UseBerthRegistry();
        app.MapGet("/", () => Results.Ok());
        return app;
    }

    private static void Listen(KestrelServerOptions kestrel, RegistryConfiguration config)
    {
        var tls = config.Http.Tls;
        var useTls = !string.IsNullOrEmpty(tls.Certificate);
        Action<ListenOptions> configure = listen =>
        {
            listen.Protocols = useTls ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1;
            if (useTls)
            {
                var certificate = LoadCertificate(tls.Certificate!, tls.Key);
                listen.UseHttps(https =>
                {
                    https.ServerCertificate = certificate;
                    https.SslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;
                });
            }
        };

        if (string.Equals(config.Http.Net, "unix", StringComparison.OrdinalIgnoreCase))
        {
            kestrel.ListenUnixSocket(config.Http.Addr, configure);
            return;
        }

        var (address, port) = ParseAddress(config.Http.Addr);
        if (address is null)
        {
            kestrel.ListenAnyIP(port, configure);
        }
        else
        {
            kestrel.Listen(address, port, configure);
        }
    }

    /// <summary>Parses Go-style listen addresses: <c>:5000</c>, <c>127.0.0.1:5000</c>, <c>[::1]:5000</c>, <c>localhost:5000</c>.</summary>
    public static (IPAddress? Address, int Port) ParseAddress(string addr)
    {
        var colon = addr.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(addr[(colon + 1)..], out var port) || port is < 0 or > 65535)
        {
            throw new ConfigurationException($"http.addr: expected host:port, got '{addr}'");
        }

        var host = addr[..colon].Trim('[', ']');
        if (host.Length == 0 || host == "0.0.0.0" || host == "::")
        {
            return (null, port);
        }

        if (host == "localhost")
        {
            return (IPAddress.Loopback, port);
        }

        return IPAddress.TryParse(host, out var ip)
            ? (ip, port)
            : throw new ConfigurationException($"http.addr: '{host}' is not an IP address or localhost");
    }

    private static X509Certificate2 LoadCertificate(string certificatePath, string? keyPath)
    {
        if (!File.Exists(certificatePath))
        {
            throw new ConfigurationException($"http.tls.certificate: file not found: {certificatePath}");
        }

        if (keyPath is not null && !File.Exists(keyPath))
        {
            throw new ConfigurationException($"http.tls.key: file not found: {keyPath}");
        }

        try
        {
            return X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new ConfigurationException($"http.tls: cannot load certificate {certificatePath} with key {keyPath}: {ex.Message}");
        }
    }

    private static LogLevel ParseLevel(string level) => level.ToLowerInvariant() switch
    {
        "debug" => LogLevel.Debug,
        "info" => LogLevel.Information,
        "warn" or "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "fatal" or "panic" => LogLevel.Critical,
        "trace" => LogLevel.Trace,
        _ => LogLevel.Information,
    };

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Configuration: {Warning}")]
    private static partial void LogConfigurationWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning,
        Message = "No http.secret is set: a random one is used, so uploads cannot continue on another replica or after a restart of this one")]
    private static partial void LogNoSecret(ILogger logger);
}
