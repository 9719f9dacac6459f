using Berth.Server.Configuration;
using Berth.Storage.Drivers;

namespace Berth.Server;

/// <summary>The storage driver <c>storage</c> selects; shared by <c>serve</c> and <c>garbage-collect</c>.</summary>
internal static class StorageDriverFactory
{
    public static IStorageDriver Create(RegistryConfiguration config, IServiceProvider services) => config.Storage.Driver switch
    {
        "filesystem" => CreateFilesystem(config.Storage.Filesystem.RootDirectory, services.GetRequiredService<ILogger<FilesystemDriver>>()),
        "inmemory" => new InMemoryDriver(),
        "s3" => S3DriverFactory.Create(config.Storage.S3!, services.GetRequiredService<ILogger<Berth.Storage.S3.S3Driver>>()),
        "azure" => AzureDriverFactory.Create(config.Storage.Azure!, services.GetRequiredService<ILogger<Berth.Storage.Azure.AzureDriver>>()),
        var other => throw new ConfigurationException($"storage: the '{other}' driver is not available in this build"),
    };

    /// <summary>The driver creates the root when missing; what <see cref="StorageRootCheck"/> could not foresee is reported as it would be.</summary>
    private static FilesystemDriver CreateFilesystem(string rootDirectory, ILogger<FilesystemDriver> logger)
    {
        try
        {
            return new FilesystemDriver(rootDirectory, logger);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw StorageRootCheck.Failure(rootDirectory, ex);
        }
    }
}
