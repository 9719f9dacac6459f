using Berth.Server.Caching;
using Berth.Server.Configuration;
using Berth.Server.Diagnostics;
using Berth.Storage;

namespace Berth.Server;

/// <summary>
/// What the offline commands (<c>garbage-collect</c>, <c>scrub</c>, <c>retention</c>) share: reading the configuration
/// and opening the registry's storage the way <c>serve</c> does, each failure as one line on the error writer (the
/// command then exits 1) rather than a stack trace. Their log follows <c>log.level</c> and <c>log.formatter</c> as the
/// server's does, on standard error, and starts with the configuration's warnings.
/// </summary>
internal static partial class OfflineStorage
{
    /// <summary>The configuration at <paramref name="path"/> with the <c>REGISTRY_*</c> overrides, or null after saying why not.</summary>
    public static async Task<ConfigurationLoadResult?> LoadConfigurationAsync(string? path, IReadOnlyDictionary<string, string> environment, TextWriter error)
    {
        try
        {
            return ConfigurationLoader.Load(path, environment);
        }
        catch (ConfigurationException ex)
        {
            await error.WriteLineAsync($"berth: configuration error: {ex.Message}");
            return null;
        }
    }

    /// <summary>
    /// Builds the storage services (driver, descriptor cache, stores) with the console log (see the class), plus
    /// whatever <paramref name="addServices"/> adds, logs the configuration's warnings and resolves
    /// <typeparamref name="TService"/>. Resolving opens the storage, so a root this user cannot use is reported here.
    /// Null after saying why; otherwise the caller owns (and disposes) the provider.
    /// </summary>
    public static async Task<(ServiceProvider Provider, TService Service)?> OpenAsync<TService>(ConfigurationLoadResult loaded, TextWriter error,
        Action<ILoggingBuilder>? configureLogging = null, Action<IServiceCollection>? addServices = null)
        where TService : notnull
    {
        var config = loaded.Configuration;
        var services = new ServiceCollection();
        services.AddLogging(logging =>
        {
            logging.AddBerthConsole(config.Log, standardError: true);
            configureLogging?.Invoke(logging);
        });
        services.AddBlobDescriptorCache(config);
        services.AddBerthStorage(sp => StorageDriverFactory.Create(config, sp));
        addServices?.Invoke(services);
        var provider = services.BuildServiceProvider();
        var logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(OfflineStorage).FullName!);
        foreach (var warning in loaded.Warnings)
        {
            LogConfigurationWarning(logger, warning);
        }

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

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Configuration: {Warning}")]
    private static partial void LogConfigurationWarning(ILogger logger, string warning);
}
