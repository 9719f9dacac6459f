using System.Globalization;
using Berth.Server.Configuration;
using Berth.Server.Maintenance;
using Berth.Storage.Lifecycle;

namespace Berth.Server;

/// <summary>
/// <c>berth retention [--dry-run] [--now TIME] [--grace-period D] [--quiet] CONFIG</c>: applies the configuration's
/// <c>retention.rules</c> once and prints one line per decision and a summary. Safe while a registry serves the same
/// storage: it deletes through the same stores, re-reads each tag and manifest before deleting it, and never touches
/// what was written within the grace period. Blobs are freed by the next garbage collection.
/// </summary>
internal static class RetentionCommand
{
    public const string Usage = """
        Usage: berth retention [flags] CONFIG

        Applies retention.rules: deletes the tags no keep clause keeps, the manifests nothing kept reaches any
        more, and untagged manifests older than a rule's untagged age. Prints one line per decision:
          <keep|delete|skip> rule=<N> <repository>:<tag> age=<age> <reason>
          delete rule=<N> <repository>@<digest> age=<age> <reason>
        then a summary line. Run garbage-collect afterwards to free the blobs.

          -d, --dry-run          print the decisions; delete nothing
              --now TIME         measure ages from TIME (RFC 3339, e.g. 2027-01-01T00:00:00Z) instead of the clock
              --grace-period D   keep what was written less than D ago by the real clock (Go duration; default retention.graceperiod, 1h)
          -q, --quiet            print only deletions and the summary

        """;

    public static async Task<int> RunAsync(string[] args, IReadOnlyDictionary<string, string> environment, TextWriter output, TextWriter error,
        CancellationToken cancellationToken)
    {
        bool dryRun = false, quiet = false;
        DateTimeOffset? now = null;
        TimeSpan? grace = null;
        string? configPath = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-d" or "--dry-run":
                    dryRun = true;
                    break;
                case "-q" or "--quiet":
                    quiet = true;
                    break;
                case "--now" when i + 1 < args.Length && DateTimeOffset.TryParse(args[i + 1], CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant):
                    now = instant;
                    i++;
                    break;
                case "--grace-period" when i + 1 < args.Length && GoDuration.TryParse(args[i + 1], out var parsed) && parsed >= TimeSpan.Zero:
                    grace = parsed;
                    i++;
                    break;
                case "-h" or "--help":
                    await output.WriteAsync(Usage);
                    return 0;
                case var argument when !argument.StartsWith('-') && configPath is null:
                    configPath = argument;
                    break;
                default:
                    await error.WriteLineAsync($"berth retention: unexpected or invalid argument '{args[i]}'");
                    await error.WriteAsync(Usage);
                    return 2;
            }
        }

        if (await OfflineStorage.LoadConfigurationAsync(configPath, environment, error) is not { } loaded)
        {
            return 1;
        }

        var config = loaded.Configuration;

        if (config.Retention.Rules.Count == 0)
        {
            await error.WriteLineAsync("berth retention: retention.rules: no rules are configured, so there is nothing to do");
            return 1;
        }

        if (!dryRun && config.Storage.Maintenance.ReadOnly.Enabled)
        {
            await error.WriteLineAsync("berth retention: storage.maintenance.readonly.enabled is true, so nothing may be deleted; use --dry-run to see the decisions");
            return 1;
        }

        if (!dryRun && !config.Storage.Delete.Enabled)
        {
            await error.WriteLineAsync("berth retention: storage.delete.enabled is false, so nothing may be deleted; enable it, or use --dry-run");
            return 1;
        }

        if (await OfflineStorage.OpenAsync<RetentionEngine>(loaded, error,
                // Each decision is this command's output; the engine's log of each deletion would print it twice.
                configureLogging: logging => logging.AddFilter(typeof(RetentionEngine).FullName, LogLevel.Warning),
                addServices: services => services.AddBerthLifecycle(config, mayRecordPulls: false)) is not var (provider, engine))
        {
            return 1;
        }

        await using var disposeProvider = provider;
        var policy = provider.GetRequiredService<RetentionPolicy>();
        if (grace is { } gracePeriod)
        {
            policy = policy with { GracePeriod = gracePeriod };
        }

        var report = await engine.RunAsync(policy, new RetentionRunOptions { DryRun = dryRun, Now = now }, cancellationToken);
        foreach (var decision in report.Decisions)
        {
            if (!quiet || decision.Action != RetentionAction.Keep)
            {
                await output.WriteLineAsync(decision.Format());
            }
        }

        await output.WriteLineAsync(report.Summary());
        return 0;
    }
}
