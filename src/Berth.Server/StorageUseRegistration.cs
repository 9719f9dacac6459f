using Berth.Api.Endpoints;
using Berth.Server.Configuration;
using Berth.Storage;
using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;

namespace Berth.Server;

/// <summary>Storage use (the <c>/api/v1/usage</c> endpoint and its gauges) and per-repository quotas.</summary>
internal static class StorageUseRegistration
{
    /// <summary>
    /// Registers the <c>usage</c> settings, the quota rules of <c>quotas</c> (uploads and manifest PUTs ask them before
    /// linking anything) and, when Prometheus metrics are on, the usage gauges.
    /// </summary>
    public static IServiceCollection AddStorageUseAndQuotas(this IServiceCollection services, RegistryConfiguration config)
    {
        services.AddSingleton(config.Usage.ToSettings());
        if (config.Quotas.Count > 0)
        {
            var rules = config.Quotas.Select(rule => rule.ToRule()).ToList();
            services.AddSingleton(sp => new RepositoryQuotas(sp.GetRequiredService<IStorageDriver>(), sp.GetRequiredService<ManifestStore>(),
                sp.GetRequiredService<BlobStore>(), rules, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<RepositoryQuotas>>()));
            services.AddSingleton<IBlobAdmission>(sp => sp.GetRequiredService<RepositoryQuotas>());
        }

        if (MetricsExported(config))
        {
            services.AddSingleton<StorageUsageMetrics>();
        }

        return services;
    }

    /// <summary>Maps <see cref="UsageEndpoints.Path"/> on the registry's listener and creates the gauges.</summary>
    public static void MapStorageUse(this WebApplication app, RegistryConfiguration config)
    {
        var usage = app.Services.GetRequiredService<UsageEndpoints>();
        app.MapMethods(UsageEndpoints.Path, [HttpMethods.Get, HttpMethods.Head], usage.HandleAsync);
        if (MetricsExported(config))
        {
            // Created now, so the gauges are there for the first scrape (which starts the first walk).
            _ = app.Services.GetRequiredService<StorageUsageMetrics>();
        }
    }

    /// <summary>
    /// The gauges exist only where something exports them: each one's collection reads the shared report, and a
    /// process hosting several registries (the tests) would otherwise mix their figures in one meter.
    /// </summary>
    private static bool MetricsExported(RegistryConfiguration config) =>
        config.Http.Debug.Prometheus.Enabled && !string.IsNullOrEmpty(config.Http.Debug.Addr);
}
