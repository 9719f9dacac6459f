using System.Diagnostics.Metrics;
using Berth.Server.Configuration;
using Berth.Storage.Lifecycle;
using Berth.Storage.Maintenance;

namespace Berth.Server.Maintenance;

/// <summary>
/// Runs the storage maintenance the configuration asks for while the registry serves:
/// <c>storage.maintenance.uploadpurging</c> (registry:2's semantics) and
/// <c>storage.maintenance.garbagecollection</c> (Berth's online collector) and
/// <c>storage.maintenance.scrub</c> (Berth's integrity check). Nothing runs in read-only mode, and a failed run is
/// logged and retried at the next interval. With <c>retention.enabled</c>, each collection starts with a retention
/// run, so the space of what retention removes comes back in the same cycle.
/// </summary>
public sealed partial class MaintenanceService(
    StorageMaintenanceOptions options,
    UploadPurger purger,
    GarbageCollector collector,
    CollectionRequests requests,
    Scrubber scrubber,
    TimeProvider time,
    ILogger<MaintenanceService> logger,
    RetentionOptions? retention = null,
    RetentionPolicy? retentionPolicy = null,
    RetentionEngine? retentionEngine = null) : BackgroundService
{
    private static readonly Meter Meter = new("Berth.Maintenance");
    private static readonly Counter<long> CollectionRuns = Meter.CreateCounter<long>("gc.runs", description: "Garbage collections run");
    private static readonly Counter<long> BlobsCollected = Meter.CreateCounter<long>("gc.blobs.deleted", description: "Blobs deleted by garbage collection");
    private static readonly Counter<long> BytesCollected = Meter.CreateCounter<long>("gc.bytes.freed", unit: "By", description: "Bytes freed by garbage collection");
    private static readonly Counter<long> UploadsPurged = Meter.CreateCounter<long>("uploads.purged", description: "Abandoned uploads purged");
    private static readonly Counter<long> ScrubRuns = Meter.CreateCounter<long>("scrub.runs", description: "Scrubs run");
    private static readonly Counter<long> ScrubProblems = Meter.CreateCounter<long>("scrub.problems", description: "Problems scrubs found");
    private static readonly Counter<long> ScrubBytes = Meter.CreateCounter<long>("scrub.bytes.hashed", unit: "By", description: "Blob bytes scrubs re-hashed");

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.ReadOnly.Enabled)
        {
            return Task.CompletedTask;
        }

        var loops = new List<Task>();
        if (options.UploadPurging.Enabled)
        {
            loops.Add(RepeatAsync(options.UploadPurging.Interval, PurgeUploadsAsync, stoppingToken));
        }

        if (options.GarbageCollection.Enabled)
        {
            loops.Add(RecoverThenCollectAsync(stoppingToken));
        }

        if (options.Scrub.Enabled)
        {
            loops.Add(RepeatAsync(options.Scrub.Interval, ScrubAsync, stoppingToken));
        }

        return Task.WhenAll(loops);
    }

    private async Task RecoverThenCollectAsync(CancellationToken stoppingToken)
    {
        // A collection interrupted by a crash left blobs in quarantine; put them back before serving them matters.
        var recovered = await collector.RecoverAsync(stoppingToken);
        if (recovered > 0)
        {
            LogRecovered(logger, recovered);
        }

        requests.CollectorStarted();
        await RepeatAsync(options.GarbageCollection.Interval, CollectAsync, stoppingToken, requests);
    }

    /// <summary>Runs <paramref name="run"/> every <paramref name="interval"/>, and also whenever <paramref name="onDemand"/> asks.</summary>
    private async Task RepeatAsync(TimeSpan interval, Func<CancellationToken, Task> run, CancellationToken stoppingToken,
        CollectionRequests? onDemand = null)
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            var tick = timer.WaitForNextTickAsync(stoppingToken).AsTask();
            var asked = onDemand?.WaitAsync(stoppingToken) ?? Task.Delay(Timeout.Infinite, stoppingToken);
            while (true)
            {
                var woken = await Task.WhenAny(tick, asked);
                await woken;
                if (woken == tick)
                {
                    if (!await tick)
                    {
                        break;
                    }

                    tick = timer.WaitForNextTickAsync(stoppingToken).AsTask();
                }
                else
                {
                    LogRequestedRun(logger);
                    asked = onDemand!.WaitAsync(stoppingToken);
                }

                try
                {
                    await run(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogRunFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private async Task PurgeUploadsAsync(CancellationToken cancellationToken)
    {
        var report = await purger.RunAsync(options.UploadPurging.Age, options.UploadPurging.DryRun, cancellationToken);
        if (!report.DryRun)
        {
            UploadsPurged.Add(report.UploadsDeleted);
        }

        LogPurged(logger, report.UploadsScanned, report.UploadsDeleted, report.BytesFreed, report.DryRun);
    }

    private async Task CollectAsync(CancellationToken cancellationToken)
    {
        if (retention is { Enabled: true } && retentionPolicy is not null && retentionEngine is not null)
        {
            try
            {
                var retained = await retentionEngine.RunAsync(retentionPolicy, new RetentionRunOptions { DryRun = retention.DryRun }, cancellationToken);
                if (retained.DryRun)
                {
                    // A real run logs each deletion as it makes it; a dry run says here what it would delete.
                    foreach (var decision in retained.Decisions.Where(d => d.Action == RetentionAction.Delete))
                    {
                        LogRetentionDecision(logger, decision.Format());
                    }
                }

                LogRetention(logger, retained.Summary());
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The collection still runs: what retention did delete before failing is collected now.
                LogRetentionFailed(logger, ex);
            }
        }

        var schedule = options.GarbageCollection;
        var report = await collector.RunAsync(GarbageCollectionOptions.Online with
        {
            GracePeriod = schedule.GracePeriod,
            DeleteUntagged = schedule.DeleteUntagged,
            DryRun = schedule.DryRun,
        }, progress: null, cancellationToken);
        CollectionRuns.Add(1);
        if (!report.DryRun)
        {
            BlobsCollected.Add(report.BlobsDeleted);
            BytesCollected.Add(report.BytesFreed);
        }

        LogCollected(logger, report.BlobsScanned, report.BlobsDeleted, report.BytesFreed, report.ManifestsDeleted, report.Duration.TotalSeconds,
            report.DryRun);
    }

    private async Task ScrubAsync(CancellationToken cancellationToken)
    {
        // Each finding is logged as a warning by the scrubber itself; this is the one-line summary.
        var report = await scrubber.RunAsync(new ScrubOptions { DryRun = options.Scrub.DryRun, BytesPerSecond = options.Scrub.RateLimit },
            findings: null, cancellationToken);
        ScrubRuns.Add(1);
        ScrubProblems.Add(report.Findings.Count);
        ScrubBytes.Add(report.BytesHashed);
        LogScrubbed(logger, report.BlobsHashed, report.BytesHashed, report.MegabytesPerSecond, report.Findings.Count, report.BlobsMovedAside,
            report.Duration.TotalSeconds, report.DryRun);
    }

    [LoggerMessage(EventId = 6020, Level = LogLevel.Information,
        Message = "Scrub: {Blobs} blobs ({Bytes} bytes, {MegabytesPerSecond:0.0} MB/s) re-hashed, {Problems} problems, {MovedAside} corrupt blobs moved aside in {Seconds:0.0}s (dry run: {DryRun})")]
    private static partial void LogScrubbed(ILogger logger, int blobs, long bytes, double megabytesPerSecond, int problems, int movedAside,
        double seconds, bool dryRun);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Information,
        Message = "Upload purge: {Scanned} uploads scanned, {Deleted} deleted, {Bytes} bytes freed (dry run: {DryRun})")]
    private static partial void LogPurged(ILogger logger, int scanned, int deleted, long bytes, bool dryRun);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Information,
        Message = "Garbage collection: {Scanned} blobs scanned, {Deleted} deleted, {Bytes} bytes freed, {Manifests} manifests removed in {Seconds:0.0}s (dry run: {DryRun})")]
    private static partial void LogCollected(ILogger logger, int scanned, int deleted, long bytes, int manifests, double seconds, bool dryRun);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "Garbage collection restored {Count} blobs an interrupted run had quarantined")]
    private static partial void LogRecovered(ILogger logger, int count);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Information, Message = "Garbage collection asked for now (web UI)")]
    private static partial void LogRequestedRun(ILogger logger);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Information, Message = "{Summary}")]
    private static partial void LogRetention(ILogger logger, string summary);

    [LoggerMessage(EventId = 6008, Level = LogLevel.Information, Message = "Retention dry run: {Decision}")]
    private static partial void LogRetentionDecision(ILogger logger, string decision);

    [LoggerMessage(EventId = 6007, Level = LogLevel.Error, Message = "Retention failed; garbage collection runs anyway and retention is retried at the next interval")]
    private static partial void LogRetentionFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Error, Message = "A maintenance run failed; it is retried at the next interval")]
    private static partial void LogRunFailed(ILogger logger, Exception exception);
}
