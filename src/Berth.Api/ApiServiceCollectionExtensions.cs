using Berth.Api.Endpoints;
using Berth.Api.Notifications;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Berth.Api;

public static class ApiServiceCollectionExtensions
{
    /// <summary>Registers the <c>/v2</c> handlers; the stores come from <c>AddBerthStorage</c>.</summary>
    public static IServiceCollection AddBerthApi(this IServiceCollection services, RegistryApiOptions options)
    {
        services.TryAddSingleton(options);
        services.TryAddSingleton(new UploadStateToken(options.UploadStateSecret));
        services.TryAddSingleton<BlobEndpoints>();
        services.TryAddSingleton<UploadEndpoints>();
        services.TryAddSingleton<ManifestEndpoints>();
        services.TryAddSingleton<ListingEndpoints>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IRegistryEventSink, NullRegistryEventSink>();
        services.TryAddSingleton<RegistryEvents>();
        services.TryAddSingleton<RegistryDispatcher>();
        return services;
    }

    /// <summary>
    /// Sends push, pull, delete and mount events to <paramref name="endpoints"/> (registry:2's
    /// <c>notifications.endpoints</c>). Call before <see cref="AddBerthApi"/>.
    /// </summary>
    public static IServiceCollection AddBerthNotifications(this IServiceCollection services, IReadOnlyList<NotificationEndpoint> endpoints)
    {
        if (endpoints.Count == 0)
        {
            return services;
        }

        services.AddSingleton(sp => new NotificationService(endpoints, new HttpClient(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<NotificationService>>(), sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.AddSingleton<IRegistryEventSink>(sp => sp.GetRequiredService<NotificationService>());
        services.AddHostedService(sp => sp.GetRequiredService<NotificationService>());
        return services;
    }

    /// <summary>Serves the distribution API under <c>/v2</c>.</summary>
    public static IApplicationBuilder UseBerthRegistry(this IApplicationBuilder app)
    {
        var dispatcher = app.ApplicationServices.GetRequiredService<RegistryDispatcher>();
        return app.Map("/v2", branch => branch.Run(dispatcher.HandleAsync));
    }
}
