using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Storage.Maintenance;

/// <summary>How the shared storage-use report is kept (the Berth <c>usage</c> section).</summary>
/// <param name="MaxAge">How old a report may be before a reader starts a new walk; null for 5 minutes on a local filesystem, 30 on object storage.</param>
/// <param name="MetricsRepositories">How many repositories (the largest) get their own metric series; 0 leaves only registry totals.</param>
public sealed record StorageUsageSettings(TimeSpan? MaxAge = null, int MetricsRepositories = StorageUsageSettings.DefaultMetricsRepositories)
{
    /// <summary>The default cardinality guard of the per-repository gauges.</summary>
    public const int DefaultMetricsRepositories = 100;
}

/// <summary>
/// The registry's one cached storage-use report, shared by everything that shows it (the web UI, the usage endpoint,
/// the metrics), so one walk serves them all.
/// </summary>
/// <remarks>
/// A walk lists every repository's link trees, so it runs in the background, at most every <see cref="FreshFor"/>, when
/// someone asks for the figures; readers get the latest finished report meanwhile. Processes sharing a storage each
/// walk on their own: the report is derived from storage, so every replica converges on the same figures.
/// </remarks>
public sealed partial class StorageUsageService : IDisposable
{
    /// <summary>How old a report may be before a reader starts a new walk, on a local filesystem.</summary>
    public static readonly TimeSpan LocalFreshFor = TimeSpan.FromMinutes(5);

    /// <summary>The same on object storage, where the walk lists every repository's link trees (billed requests).</summary>
    public static readonly TimeSpan RemoteFreshFor = TimeSpan.FromMinutes(30);

    private readonly StorageUsageScanner _scanner;
    private readonly TimeProvider _time;
    private readonly ILogger<StorageUsageService> _logger;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task<StorageUsageReport>? _scan;
    private StorageUsageReport? _latest;

    /// <param name="driver">The storage to walk.</param>
    /// <param name="settings">How fresh reports must be; null for the defaults.</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">Where walks are reported.</param>
    public StorageUsageService(IStorageDriver driver, StorageUsageSettings? settings = null, TimeProvider? time = null,
        ILogger<StorageUsageService>? logger = null)
    {
        _time = time ?? TimeProvider.System;
        _scanner = new StorageUsageScanner(driver, _time);
        _logger = logger ?? NullLogger<StorageUsageService>.Instance;
        var local = driver is ILocalFileDriver or ValidatingDriver { Inner: ILocalFileDriver };
        FreshFor = settings?.MaxAge ?? (local ? LocalFreshFor : RemoteFreshFor);
    }

    /// <summary>How old the report may be before the next reader starts a walk.</summary>
    public TimeSpan FreshFor { get; }

    /// <summary>The latest finished report without starting anything; null before the first walk ends.</summary>
    public StorageUsageReport? Latest => Volatile.Read(ref _latest);

    /// <summary>
    /// The latest report, or null before the first walk ends. Starts a walk in the background when there is none, it is
    /// older than <see cref="FreshFor"/>; <paramref name="wait"/> waits that long for the walk to end.
    /// </summary>
    public async Task<StorageUsageReport?> GetAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        Task<StorageUsageReport>? scan;
        lock (_gate)
        {
            var latest = _latest;
            var stale = latest is null || _time.GetUtcNow() - latest.TakenAt >= FreshFor;
            if (stale && _scan is null)
            {
                _scan = ScanAsync();
            }

            scan = _scan;
        }

        if (scan is not null && wait > TimeSpan.Zero)
        {
            try
            {
                await scan.WaitAsync(wait, _time, cancellationToken);
            }
            catch (TimeoutException)
            {
                // The caller shows the previous figures (or "being measured"); the walk goes on.
            }
        }

        return Latest;
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task<StorageUsageReport> ScanAsync()
    {
        try
        {
            // Off the request that asked: the walk outlives it.
            await Task.Yield();
            var report = await _scanner.ScanAsync(_stopping.Token);
            Volatile.Write(ref _latest, report);
            LogMeasured(_logger, report.Repositories.Count, report.UniqueBlobs, report.Duration.TotalMilliseconds);
            return report;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(_logger, ex);
            throw;
        }
        finally
        {
            lock (_gate)
            {
                _scan = null;
            }
        }
    }

    [LoggerMessage(EventId = 2460, Level = LogLevel.Information,
        Message = "Measured storage use of {Repositories} repositories ({Blobs} distinct blobs) in {Milliseconds:F0} ms")]
    private static partial void LogMeasured(ILogger logger, int repositories, int blobs, double milliseconds);

    [LoggerMessage(EventId = 2461, Level = LogLevel.Warning, Message = "Measuring storage use failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
