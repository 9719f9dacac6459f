using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Storage.Azure;

/// <summary>Registration of the Azure Blob Storage driver.</summary>
public static class AzureStorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the registry stores over an <see cref="AzureDriver"/> built from <paramref name="options"/>
    /// (wrapped, like every driver, in the validating decorator). Invalid options fail when the driver
    /// is first resolved, with a message naming each key.
    /// </summary>
    public static IServiceCollection AddBerthAzureStorage(this IServiceCollection services, AzureDriverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return services.AddBerthStorage(sp =>
            AzureDriver.Create(options, sp.GetService<ILoggerFactory>()?.CreateLogger<AzureDriver>() ?? NullLogger<AzureDriver>.Instance));
    }
}
