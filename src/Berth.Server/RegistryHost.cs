using Berth.Server.Caching;
using System.Net;
using Berth.Api;
using Berth.Api.Endpoints;
using Berth.Api.Notifications;
using Berth.Auth;
using Berth.Core.Errors;
using Berth.Server.Configuration;
using Berth.Server.Diagnostics;
using Berth.Server.Maintenance;
using Berth.Server.Tls;
using Berth.Storage;
using Berth.Storage.Drivers;
using Berth.Storage.Lifecycle;
using Berth.Ui;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Berth.Server;

/// <summary>Builds the registry web application from a loaded configuration.</summary>
public static partial class RegistryHost
{
    /// <summary>Kestrel's limit for bodies outside the upload routes; manifests are capped at 4 MiB on their own.</summary>
    private const long DefaultMaxRequestBodyBytes = 8 * 1024 * 1024;

    /// <summary>
    /// Checks <paramref name="config"/> with <see cref="StartupValidation.Validate"/> (the checks <c>config check</c>
    /// runs), then builds the application from what the checks loaded; nothing is built or created for a configuration
    /// the checks refuse. The storage root is created when missing.
    /// </summary>
    /// <exception cref="ConfigurationException">A setting cannot be used; the message names the key.</exception>
    /// <exception cref="StartupException">The storage root cannot be used by this user on this machine.</exception>
    public static WebApplication Build(RegistryConfiguration config, IReadOnlyList<string>? warnings = null)
    {
        var plan = StartupValidation.Validate(config);
        var startupWarnings = new List<string>(warnings ?? []);
        startupWarnings.AddRange(plan.Warnings);
        var tls = plan.Tls;
        var authEnabled = config.Auth.Type is not null;

        // The content root is where the host looks for appsettings.json and watches it for changes, recursively. The
        // working directory (ASP.NET Core's default) is "/" in the container image, which put an inotify watch on every
        // directory of the machine, the registry's storage included (about 20,000 on a small test machine, and a
        // kernel limit to hit on a large registry). Berth reads no appsettings.json; its own directory is small and
        // never holds storage.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.AddBerthConsole(config.Log, standardError: false);
        var debugLogging = ConsoleLogging.IsDebug(config.Log);
        if (!debugLogging)
        {
            // While this category is enabled at all, ASP.NET Core starts an activity and a logging scope for every
            // request, which nothing here reads (the access log takes the caller's trace id itself): about 5 % of a
            // manifest GET's rate. Its messages are request start/finish at Information, filtered out anyway.
            builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = DefaultMaxRequestBodyBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = 64 * 1024;
            // Blob pulls write 256 KiB steps into the response pipe; with Kestrel's default 64 KiB every flush waited
            // for the socket to drain, so reading the next step never overlapped sending the last one.
            kestrel.Limits.MaxResponseBufferSize = BlobEndpoints.ResponseBufferBytes;
            Listen(kestrel, plan.Registry, tls);
            kestrel.ListenForDiagnostics(plan.Debug);
        });

        builder.Services.AddBlobDescriptorCache(config, plan.Redis);
        builder.Services.AddBerthStorage(sp => StorageDriverFactory.Create(config, sp));
        builder.Services.AddPullThroughCache(config);
        builder.Services.AddSingleton(config.Storage.Maintenance);
        builder.Services.AddHostedService<MaintenanceService>();
        builder.Services.AddBerthLifecycle(config, mayRecordPulls: !config.Storage.Maintenance.ReadOnly.Enabled);

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new FailedLoginLimiter(config.Access.FailedLogins, sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton(sp => CreateAccessController(config, plan, sp));

        var secretConfigured = !string.IsNullOrEmpty(config.Http.Secret);
        builder.Services.AddBerthDiagnostics(config);
        builder.Services.AddBerthTracing(config.Tracing, plan.Debug?.Port);
        builder.Services.AddBerthNotifications(NotificationEndpoints.FromConfiguration(config.Notifications));
        var apiOptions = new RegistryApiOptions
        {
            UploadStateSecret = secretConfigured ? UploadStateToken.SecretFromText(config.Http.Secret!) : UploadStateToken.RandomSecret(),
            DeleteEnabled = config.Storage.Delete.Enabled,
            ReadOnly = config.Storage.Maintenance.ReadOnly.Enabled,
            RedirectDisabled = config.Storage.Redirect.Disable,
            RelativeUrls = config.Http.RelativeUrls,
            ExternalBaseUri = string.IsNullOrEmpty(config.Http.Host) ? null : new Uri(config.Http.Host),
            CatalogMaxEntries = config.Catalog.MaxEntries,
            // A mount without a source would link a blob from any repository, readable by the client or not.
            AutomaticCrossMount = config.Storage.Mount.Automatic && !authEnabled,
        };
        builder.Services.AddBerthApi(apiOptions);
        builder.Services.AddStorageUseAndQuotas(config);
        if (config.Ui.Enabled)
        {
            builder.Services.AddBerthWebUi(new WebUiSettings
            {
                SessionSecret = apiOptions.UploadStateSecret,
                SessionLifetime = config.Ui.SessionLifetime,
                GarbageCollectionNote = GarbageCollectionNote(config),
            });
        }

        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Berth.Server");
        foreach (var warning in startupWarnings)
        {
            LogConfigurationWarning(logger, warning);
        }

        if (app.Services.GetRequiredService<RegistryEvents>() is { Enabled: true } events)
        {
            // Deletions by retention reach notification endpoints as the API's deletes do, marked as the registry's own.
            app.Services.GetRequiredService<RetentionEngine>().Deleted += decision =>
                events.PublishMaintenance(RegistryEvent.Delete, HttpMethods.Delete, "retention", decision.Repository, decision.Digest, decision.Tag);
        }

        // Built now, not on the first request: the htpasswd file is read again (validation read it) and watched from here.
        _ = app.Services.GetRequiredService<IAccessController>();
        if (tls is not null)
        {
            tls.Certificate.Logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Berth.Server.Tls");
        }

        if (authEnabled && config.Storage.Mount.Automatic)
        {
            LogAutomaticMountOff(logger);
        }

        if (config.Auth.Type is AuthOptions.HtpasswdType && tls is null)
        {
            LogBasicWithoutTls(logger);
        }

        if (config.Auth.Type is AuthOptions.SillyType)
        {
            LogSillyAuth(logger);
        }

        if (!secretConfigured)
        {
            LogNoSecret(logger);
        }

        // Opened now, not on the first request: this creates a missing filesystem root.
        _ = app.Services.GetRequiredService<IStorageDriver>();

        // Once Kestrel has bound, so the summary names the real addresses (a configured port 0 is resolved).
        var tlsEnabled = tls is not null;
        app.Lifetime.ApplicationStarted.Register(() =>
            LogStartupSummary(logger, BerthCommandLine.Version, StartupSummary.Describe(config, RegistryAddresses(app.Urls, plan.Debug), tlsEnabled)));

        if (!string.IsNullOrEmpty(config.Http.Prefix) && config.Http.Prefix.Trim('/').Length > 0)
        {
            app.UsePathBase("/" + config.Http.Prefix.Trim('/'));
        }

        app.UseBerthDiagnostics(config, plan.Debug);

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

        // Endpoint routing answers a method one of Berth's own endpoints does not serve (POST on /api/v1/usage, PUT on
        // a web UI page) with a bare 405; it gets the OCI error body every other refusal carries, and keeps its Allow.
        app.UseStatusCodePages(context => MethodNotServedAsync(context.HttpContext));
        app.MapStorageUse(config);
        if (config.Ui.Enabled)
        {
            app.MapBerthWebUi();
        }
        else
        {
            // registry:2 answers its root with an empty 200, which load balancers' health checks use.
            app.MapGet("/", () => Results.Ok());
        }

        return app;
    }

    private static Task MethodNotServedAsync(HttpContext context)
    {
        if (context.Response.StatusCode != StatusCodes.Status405MethodNotAllowed)
        {
            return Task.CompletedTask;
        }

        var allow = context.Response.Headers.Allow.ToString();
        return ErrorResponses.WriteAsync(context, ErrorCode.Unsupported, $"{context.Request.Method} is not served at {context.Request.Path}; allowed: {allow}",
            detail: null, headers: allow.Length == 0 ? null : new Dictionary<string, string> { ["Allow"] = allow });
    }

    /// <summary>What the web UI's delete confirmation says about when the space comes back.</summary>
    private static string GarbageCollectionNote(RegistryConfiguration config)
    {
        var collection = config.Storage.Maintenance.GarbageCollection;
        return collection.Enabled && !collection.DryRun
            ? $"The space comes back at the next online garbage collection (every {ConfigCheckCommand.FormatGoDuration(collection.Interval)}; content younger than {ConfigCheckCommand.FormatGoDuration(collection.GracePeriod)} is kept)."
            : "The space comes back when garbage is collected: run berth garbage-collect with the registry's config (or enable storage.maintenance.garbagecollection).";
    }

    /// <summary>The access controller <c>auth</c> names; the policy and limiter come from <c>access</c>.</summary>
    private static IAccessController CreateAccessController(RegistryConfiguration config, StartupPlan plan, IServiceProvider services)
    {
        var auth = config.Auth;
        var loggers = services.GetRequiredService<ILoggerFactory>();
        var time = services.GetRequiredService<TimeProvider>();
        switch (auth.Type)
        {
            case AuthOptions.HtpasswdType:
                var htpasswd = auth.Htpasswd!;
                try
                {
                    return new HtpasswdAccessController(htpasswd.Realm, htpasswd.Path, config.Access.ToPolicy(),
                        services.GetRequiredService<FailedLoginLimiter>(), loggers.CreateLogger<HtpasswdAccessController>(), time);
                }
                catch (HtpasswdFormatException ex)
                {
                    // Validation read the file a moment ago; it changed since.
                    throw StartupValidation.HtpasswdProblem(ex);
                }

            case AuthOptions.TokenType:
                var token = auth.Token!;
                return new TokenAccessController(
                    new TokenAuthSettings
                    {
                        Realm = token.Realm,
                        Service = token.Service,
                        Issuer = token.Issuer,
                        AutoRedirect = token.AutoRedirect,
                        AutoRedirectPath = token.AutoRedirectPath,
                        Algorithms = token.SigningAlgorithms.Count > 0 ? token.SigningAlgorithms : TokenAuthSettings.DefaultAlgorithms,
                    },
                    plan.TokenSigningKeys!,
                    loggers.CreateLogger<TokenAccessController>(),
                    time);

            case AuthOptions.SillyType:
                return new SillyAccessController(auth.Silly!.Realm, auth.Silly.Service);

            default:
                return AllowAllAccessController.Instance;
        }
    }

    private static void Listen(KestrelServerOptions kestrel, ListenAddress registry, TlsSetup? tls)
    {
        Action<ListenOptions> configure = listen =>
        {
            if (tls is null)
            {
                listen.Protocols = HttpProtocols.Http1;
            }
            else
            {
                tls.Apply(listen);
            }
        };

        if (registry.UnixSocketPath is { } socketPath)
        {
            kestrel.ListenUnixSocket(socketPath, configure);
        }
        else if (registry.Address is null)
        {
            kestrel.ListenAnyIP(registry.Port, configure);
        }
        else
        {
            kestrel.Listen(registry.Address, registry.Port, configure);
        }
    }

    /// <summary>The bound addresses without the debug listener's, which the summary reports on its own.</summary>
    private static IEnumerable<string> RegistryAddresses(IEnumerable<string> bound, ListenAddress? debug)
    {
        if (debug is null)
        {
            return bound;
        }

        var debugPort = debug.Port;
        return bound.Where(address => !Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Port != debugPort);
    }

    /// <summary>Parses Go-style listen addresses: <c>:5000</c>, <c>127.0.0.1:5000</c>, <c>[::1]:5000</c>, <c>localhost:5000</c>.</summary>
    /// <param name="addr">The address.</param>
    /// <param name="key">The key it comes from, which a failure names.</param>
    /// <exception cref="ConfigurationException">Not such an address.</exception>
    public static (IPAddress? Address, int Port) ParseAddress(string addr, string key = "http.addr")
    {
        ArgumentNullException.ThrowIfNull(addr);
        var colon = addr.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(addr[(colon + 1)..], out var port) || port is < 0 or > 65535)
        {
            throw ConfigurationException.ForKey(key, $"expected host:port, got '{addr}'");
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
            : throw ConfigurationException.ForKey(key, $"'{host}' is not an IP address or localhost");
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Configuration: {Warning}")]
    private static partial void LogConfigurationWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning,
        Message = "No http.secret is set: a random one is used, so uploads cannot continue, and web UI sign-ins do not hold, on another replica or after a restart of this one")]
    private static partial void LogNoSecret(ILogger logger);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information,
        Message = "storage.mount.automatic is off because authentication is on: a mount without 'from' could link content the client may not read")]
    private static partial void LogAutomaticMountOff(ILogger logger);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning,
        Message = "htpasswd authentication without http.tls: passwords cross the network in clear text unless a TLS proxy is in front")]
    private static partial void LogBasicWithoutTls(ILogger logger);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information,
        Message = "Berth {Version} serving {Addresses} (TLS {Tls}) as {Mode}; storage {StorageDriver}: {StorageLocation}; blob descriptor cache {BlobDescriptorCache}; auth {Auth}; delete {Delete}; read-only {ReadOnly}; debug listener {DebugListener}; tracing {Tracing}")]
    private static partial void LogStartupSummary(ILogger logger, string version, string addresses, string tls, string mode, string storageDriver,
        string storageLocation, string blobDescriptorCache, string auth, string delete, string readOnly, string debugListener, string tracing);

    private static void LogStartupSummary(ILogger logger, string version, StartupSummary summary) =>
        LogStartupSummary(logger, version, summary.Addresses, summary.Tls, summary.Mode, summary.StorageDriver, summary.StorageLocation,
            summary.BlobDescriptorCache, summary.Auth, summary.Delete, summary.ReadOnly, summary.DebugListener, summary.Tracing);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning,
        Message = "auth.silly lets in any request that has an Authorization header; it is for development only")]
    private static partial void LogSillyAuth(ILogger logger);
}
