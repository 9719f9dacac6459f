using Berth.Server.Configuration;
using Berth.Storage.Drivers;
using Berth.Storage.Lifecycle;

namespace Berth.Server.Maintenance;

/// <summary>Registers immutable tags, last-pull times and retention for <c>serve</c> and <c>berth retention</c>.</summary>
internal static class LifecycleRegistration
{
    /// <summary>
    /// The immutable-tag policy the manifest endpoints enforce, the retention engine, and the pull-time recorder with
    /// the service that flushes it: recording only when <paramref name="mayRecordPulls"/> (not read-only, where nothing
    /// may be written) and a retention rule reads pull times, so a registry that does not use them writes nothing.
    /// </summary>
    public static IServiceCollection AddBerthLifecycle(this IServiceCollection services, RegistryConfiguration config, bool mayRecordPulls)
    {
        var recordPulls = mayRecordPulls && config.Retention.ReadsPullTimes;
        services.AddSingleton(config.ImmutableTags);
        services.AddSingleton(config.Retention);
        services.AddSingleton(config.Retention.ToPolicy(config.ImmutableTags));
        services.AddSingleton(sp => new PullTimes(sp.GetRequiredService<IStorageDriver>(), sp.GetRequiredService<TimeProvider>(),
            config.Retention.PullTimesReplica) { Recording = recordPulls });
        services.AddSingleton<RetentionEngine>();
        if (recordPulls)
        {
            services.AddSingleton(new PullTimeFlushSchedule(config.Retention.PullTimesFlushInterval));
            services.AddHostedService<PullTimeFlushService>();
        }

        return services;
    }
}

/// <summary>How often <see cref="PullTimeFlushService"/> writes recorded pulls.</summary>
internal sealed record PullTimeFlushSchedule(TimeSpan Interval);

/// <summary>
/// Writes the pulls <see cref="PullTimes"/> recorded in memory every flush interval, and once more at shutdown so a
/// clean stop loses none. A failed flush keeps the pulls for the next one.
/// </summary>
internal sealed partial class PullTimeFlushService(PullTimes pullTimes, PullTimeFlushSchedule schedule, TimeProvider time,
    ILogger<PullTimeFlushService> logger) : BackgroundService
{
    /// <summary>The longest shutdown waits for the last flush: a storage backend that hangs must not hold the process.</summary>
    private static readonly TimeSpan FinalFlushTimeout = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(schedule.Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down; StopAsync flushes.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(FinalFlushTimeout);
        await FlushAsync(timeout.Token);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            var written = await pullTimes.FlushAsync(cancellationToken);
            if (written > 0)
            {
                LogFlushed(logger, written, pullTimes.Replica);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogFlushFailed(logger, ex);
        }
    }

    [LoggerMessage(EventId = 6010, Level = LogLevel.Debug, Message = "Wrote {Count} pull times (replica {Replica})")]
    private static partial void LogFlushed(ILogger logger, int count, string replica);

    [LoggerMessage(EventId = 6011, Level = LogLevel.Warning, Message = "Writing pull times failed; they are kept for the next flush")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception);
}
