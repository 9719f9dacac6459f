using Berth.Storage.Caching;
using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Berth.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the registry stores over the driver <paramref name="driverFactory"/> builds. The
    /// driver is wrapped in <see cref="ValidatingDriver"/>, so no store can reach outside the layout.
    /// </summary>
    public static IServiceCollection AddBerthStorage(this IServiceCollection services, Func<IServiceProvider, IStorageDriver> driverFactory)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IStorageDriver>(sp => new ValidatingDriver(driverFactory(sp)));
        services.TryAddSingleton<IBlobDescriptorCache>(NoBlobDescriptorCache.Instance);
        services.TryAddSingleton<BlobStore>();
        services.TryAddSingleton<UploadStore>();
        services.TryAddSingleton<TagStore>();
        services.TryAddSingleton<ReferrerStore>();
        services.TryAddSingleton<ManifestStore>();
        services.TryAddSingleton<CatalogStore>();
        services.TryAddSingleton<GarbageCollector>();
        services.TryAddSingleton<CollectionRequests>();
        services.TryAddSingleton<UploadPurger>();
        services.TryAddSingleton<StorageUsageService>();
        return services;
    }
}
