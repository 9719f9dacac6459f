using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Storage.S3;

/// <summary>Registration of the S3 driver.</summary>
public static class S3StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the registry stores over an <see cref="S3Driver"/> built from <paramref name="options"/>
    /// (wrapped, like every driver, in the validating decorator). Invalid options fail when the driver
    /// is first resolved, with a message naming each key.
    /// </summary>
    public static IServiceCollection AddBerthS3Storage(this IServiceCollection services, S3DriverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return services.AddBerthStorage(sp =>
            S3Driver.Create(options, sp.GetService<ILoggerFactory>()?.CreateLogger<S3Driver>() ?? NullLogger<S3Driver>.Instance));
    }
}
