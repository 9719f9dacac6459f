using Berth.Server.Configuration;

namespace Berth.Server;

/// <summary>
/// <c>berth serve [CONFIG]</c>: loads the configuration, checks it (<see cref="StartupValidation"/>, inside
/// <see cref="RegistryHost.Build"/>) and serves until stopped. A configuration it refuses is one line on standard
/// error and exit code 1, before anything listens; the same line <c>berth config check</c> prints.
/// </summary>
internal static class ServeCommand
{
    /// <summary>Runs the registry until <paramref name="stopping"/> fires or the process is asked to stop (SIGTERM, Ctrl+C).</summary>
    /// <param name="configPath">The configuration file, or null for <c>REGISTRY_CONFIGURATION_PATH</c> or the defaults.</param>
    /// <param name="environment">The environment variables (<c>REGISTRY_*</c> are read).</param>
    /// <param name="error">Where a refusal goes.</param>
    /// <param name="stopping">Stops a running registry; exit code 0.</param>
    /// <param name="listening">Called with the bound addresses once the registry listens.</param>
    /// <returns>0 after a clean stop; 1 when the configuration is refused or the registry cannot listen.</returns>
    public static async Task<int> RunAsync(
        string? configPath, IReadOnlyDictionary<string, string> environment, TextWriter error, CancellationToken stopping,
        Action<IReadOnlyList<string>>? listening = null)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(error);

        WebApplication app;
        try
        {
            var loaded = ConfigurationLoader.Load(configPath, environment);
            app = RegistryHost.Build(loaded.Configuration, loaded.Warnings);
        }
        catch (Exception ex) when (StartupValidation.FailureLine(ex) is { } line)
        {
            await error.WriteLineAsync(line);
            return 1;
        }

        await using (app)
        {
            try
            {
                await AzureDriverFactory.PrepareAsync(app.Services.GetRequiredService<Berth.Storage.Drivers.IStorageDriver>(),
                    app.Services.GetRequiredService<StorageMaintenanceOptions>().ReadOnly.Enabled,
                    app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Berth.Server"), stopping);
            }
            catch (StartupException ex)
            {
                await error.WriteLineAsync($"berth: {ex.Message}");
                return 1;
            }

            try
            {
                await app.StartAsync(stopping);
                listening?.Invoke([.. app.Urls]);
                await app.WaitForShutdownAsync(stopping);
                return 0;
            }
            catch (IOException ex)
            {
                // Typically the address is in use: something only binding can tell.
                await error.WriteLineAsync($"berth: cannot serve: {ex.Message}");
                return 1;
            }
        }
    }
}
