using Berth.Storage;
using Berth.Storage.Drivers;

namespace Berth.Server.Diagnostics;

/// <summary>
/// <c>health.storagedriver</c>: probes the storage driver every interval and reports unhealthy
/// once <c>threshold</c> probes in a row have failed (registry:2's semantics). Without the
/// section, the debug health endpoint probes on demand instead.
/// </summary>
public sealed partial class StorageHealthCheck(IStorageDriver driver, StorageHealthCheckOptions options, ILogger<StorageHealthCheck> logger)
    : BackgroundService
{
    private int _consecutiveFailures;
    private string? _lastError;

    public string DriverName => driver.Name;

    /// <summary>The current error, or null when healthy.</summary>
    public async Task<string?> CheckAsync(CancellationToken cancellationToken)
    {
        if (options.Enabled)
        {
            return Volatile.Read(ref _consecutiveFailures) > Math.Max(0, options.Threshold - 1) ? _lastError : null;
        }

        return await ProbeAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Enabled)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Interval);
        do
        {
            var error = await ProbeAsync(stoppingToken);
            if (error is null)
            {
                Volatile.Write(ref _consecutiveFailures, 0);
            }
            else
            {
                _lastError = error;
                Interlocked.Increment(ref _consecutiveFailures);
                LogProbeFailed(logger, driver.Name, error);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task<string?> ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            // registry:2 lists the root; a store that has never been written to has no root yet.
            await driver.ListAsync(StoragePaths.Root, cancellationToken);
            return null;
        }
        catch (StoragePathNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return ex.GetType().Name;
        }
    }

    [LoggerMessage(EventId = 3200, Level = LogLevel.Warning, Message = "Storage health probe of {Driver} failed: {Error}")]
    private static partial void LogProbeFailed(ILogger logger, string driver, string error);
}

/// <summary>Settings of <see cref="StorageHealthCheck"/>.</summary>
public sealed record StorageHealthCheckOptions(bool Enabled, TimeSpan Interval, int Threshold);
