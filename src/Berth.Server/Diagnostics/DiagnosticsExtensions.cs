using Berth.Server.Configuration;
using Berth.Storage;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Prometheus;

namespace Berth.Server.Diagnostics;

/// <summary>
/// The debug listener (<c>http.debug.addr</c>): <c>/debug/health</c> and, when enabled, Prometheus
/// metrics at <c>http.debug.prometheus.path</c>. It is a separate port so that operators can keep
/// it off the public network.
/// </summary>
public static class DiagnosticsExtensions
{
    public static IServiceCollection AddBerthDiagnostics(this IServiceCollection services, RegistryConfiguration config)
    {
        var health = config.Health.StorageDriver;
        services.AddSingleton(new StorageHealthCheckOptions(health.Enabled, health.Interval, health.Threshold));
        services.AddSingleton<StorageHealthCheck>();
        services.AddHostedService(sp => sp.GetRequiredService<StorageHealthCheck>());
        services.AddSingleton(new RequestTelemetryOptions(!config.Log.AccessLog.Disabled));
        return services;
    }

    /// <summary>Adds the debug listener to Kestrel when <c>http.debug.addr</c> is set (<paramref name="debug"/> not null).</summary>
    internal static void ListenForDiagnostics(this KestrelServerOptions kestrel, ListenAddress? debug)
    {
        if (debug is null)
        {
            return;
        }

        if (debug.Address is null)
        {
            kestrel.ListenAnyIP(debug.Port);
        }
        else
        {
            kestrel.Listen(debug.Address, debug.Port);
        }
    }

    /// <summary>Request telemetry for every listener, and the debug endpoints bound to the debug port only.</summary>
    internal static void UseBerthDiagnostics(this WebApplication app, RegistryConfiguration config, ListenAddress? debug)
    {
        app.UseMiddleware<RequestTelemetryMiddleware>();
        if (debug is null)
        {
            return;
        }

        var onDebugPort = $"*:{debug.Port}";
        app.MapGet("/debug/health", async (StorageHealthCheck check, HttpContext context) =>
        {
            var error = await check.CheckAsync(context.RequestAborted);
            return error is null
                ? Results.Json(new Dictionary<string, string>())
                : Results.Json(new Dictionary<string, string> { [$"storagedriver_{check.DriverName}"] = error }, statusCode: 503);
        }).RequireHost(onDebugPort);

        if (config.Http.Debug.Prometheus.Enabled)
        {
            app.MapMetrics(config.Http.Debug.Prometheus.Path).RequireHost(onDebugPort);
            // prometheus-net connects to .NET meters on its first collection; do it at start so
            // that requests served before the first scrape are counted.
            app.Lifetime.ApplicationStarted.Register(() => _ = Metrics.DefaultRegistry.CollectAndExportAsTextAsync(Stream.Null));
        }
    }
}
