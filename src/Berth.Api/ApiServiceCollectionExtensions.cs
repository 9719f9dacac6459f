using Berth.Api.Endpoints;
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
        services.TryAddSingleton<RegistryDispatcher>();
        return services;
    }

    /// <summary>Serves the distribution API under <c>/v2</c>.</summary>
    public static IApplicationBuilder UseBerthRegistry(this IApplicationBuilder app)
    {
        var dispatcher = app.ApplicationServices.GetRequiredService<RegistryDispatcher>();
        return app.Map("/v2", branch => branch.Run(dispatcher.HandleAsync));
    }
}
