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
            ExportOnlyOwnAndRuntimeMeters();
            app.MapMetrics(config.Http.Debug.Prometheus.Path).RequireHost(onDebugPort);
            // prometheus-net connects to .NET meters on its first collection; do it at start so
            // that requests served before the first scrape are counted.
            app.Lifetime.ApplicationStarted.Register(() => _ = Metrics.DefaultRegistry.CollectAndExportAsTextAsync(Stream.Null));
        }
    }

    /// <summary>
    /// Whether the Prometheus endpoint exports an instrument: Berth's own meters, the runtime's (<c>System.Runtime</c>:
    /// GC, JIT, thread pool, CPU, working set) and Kestrel's connection meter.
    /// </summary>
    /// <remarks>
    /// prometheus-net listens to every meter by default. The framework's per-request meters (hosting, routing, the
    /// memory pool) and the HTTP client's (one measurement per storage request on S3 or Azure) repeat what
    /// <c>berth_http_*</c> and <c>berth_storage_*</c> already count, and turning a measurement into a labelled
    /// Prometheus series costs more than the measurement: a fill of manifest pushes over S3 spent a quarter more CPU
    /// with the endpoint on. Kestrel's meter records per connection, not per request.
    /// </remarks>
    internal static bool IsExportedMeter(string meterName) =>
        meterName.StartsWith("Berth.", StringComparison.Ordinal)
        || meterName is "System.Runtime" or "Microsoft.AspNetCore.Server.Kestrel";

    /// <summary>
    /// Limits prometheus-net's defaults before its first collection (later calls change nothing): meters as
    /// <see cref="IsExportedMeter"/> says, its process figures kept, and its event-counter listener off. That listener
    /// enables the runtime's, ASP.NET Core's and System.Net's event sources, which then raise events for every request
    /// and connection, to export the same runtime figures the <c>System.Runtime</c> meter gives under older names.
    /// </summary>
    private static void ExportOnlyOwnAndRuntimeMeters()
    {
        Metrics.ConfigureMeterAdapter(options => options.InstrumentFilterPredicate = instrument => IsExportedMeter(instrument.Meter.Name));
        Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions { SuppressEventCounters = true });
    }
}
