using Berth.Server.Caching;
using Berth.Server.Configuration;
using Berth.Storage;

namespace Berth.Server;

/// <summary>
/// What the offline commands (<c>garbage-collect</c>, <c>scrub</c>, <c>retention</c>) share: reading the configuration
/// and opening the registry's storage the way <c>serve</c> does, each failure as one line on the error writer (the
/// command then exits 1) rather than a stack trace.
/// </summary>
internal static class OfflineStorage
{
    /// <summary>The configuration at <paramref name="path"/> with the <c>REGISTRY_*</c> overrides, or null after saying why not.</summary>
    public static async Task<RegistryConfiguration?> LoadConfigurationAsync(string? path, IReadOnlyDictionary<string, string> environment, TextWriter error)
    {
        try
        {
            return ConfigurationLoader.Load(path, environment).Configuration;
        }
        catch (ConfigurationException ex)
        {
            await error.WriteLineAsync($"berth: configuration error: {ex.Message}");
            return null;
        }
    }

    /// <summary>
    /// Builds the storage services (driver, descriptor cache, stores) with warnings logged to the console, plus
    /// whatever <paramref name="addServices"/> adds, and resolves <typeparamref name="TService"/>. Resolving opens the
    /// storage, so a root this user cannot use is reported here. Null after saying why; otherwise the caller owns
    /// (and disposes) the provider.
    /// </summary>
    public static async Task<(ServiceProvider Provider, TService Service)?> OpenAsync<TService>(RegistryConfiguration config, TextWriter error,
        Action<ILoggingBuilder>? configureLogging = null, Action<IServiceCollection>? addServices = null)
        where TService : notnull
    {
        var services = new ServiceCollection();
        services.AddLogging(logging =>
        {
            logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
            configureLogging?.Invoke(logging);
        });
        services.AddBlobDescriptorCache(config);
        services.AddBerthStorage(sp => StorageDriverFactory.Create(config, sp));
        addServices?.Invoke(services);
        var provider = services.BuildServiceProvider();
        try
        {
            return (provider, provider.GetRequiredService<TService>());
        }
        catch (Exception ex) when (StartupValidation.FailureLine(ex) is { } line)
        {
            await provider.DisposeAsync();
            await error.WriteLineAsync(line);
            return null;
        }
    }
}
