using Berth.Server.Configuration;
using Berth.Storage.Maintenance;

namespace Berth.Server;

/// <summary>
/// <c>berth garbage-collect [--dry-run|-d] [--delete-untagged|-m] [--quiet|-q] CONFIG</c>, registry:2's
/// verb and flags. Unlike registry:2 it is safe while a registry serves the same storage: content
/// younger than the grace period (<c>--grace-period</c>, default 0 as registry:2 for offline use) is
/// kept, and blobs linked during the run are restored from quarantine.
/// </summary>
internal static class GarbageCollectCommand
{
    public const string Usage = """
        Usage: berth garbage-collect [flags] CONFIG

        Deletes blobs no manifest references and, with -m, manifests no tag reaches.

          -d, --dry-run          report what would be deleted; delete nothing
          -m, --delete-untagged  also delete manifests that no tag references
          -q, --quiet            print only the summary
              --grace-period D   keep content younger than D (Go duration, e.g. 1h; default 0)

        """;

    public static async Task<int> RunAsync(string[] args, IReadOnlyDictionary<string, string> environment)
    {
        bool dryRun = false, deleteUntagged = false, quiet = false;
        var grace = TimeSpan.Zero;
        string? configPath = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-d" or "--dry-run" or "-dry-run":
                    dryRun = true;
                    break;
                case "-m" or "--delete-untagged" or "-delete-untagged":
                    deleteUntagged = true;
                    break;
                case "-q" or "--quiet" or "-quiet":
                    quiet = true;
                    break;
                case "--grace-period" when i + 1 < args.Length && GoDuration.TryParse(args[i + 1], out var parsed):
                    grace = parsed;
                    i++;
                    break;
                case "-h" or "--help":
                    await Console.Out.WriteAsync(Usage);
                    return 0;
                case var argument when !argument.StartsWith('-') && configPath is null:
                    configPath = argument;
                    break;
                default:
                    await Console.Error.WriteLineAsync($"berth garbage-collect: unexpected argument '{args[i]}'");
                    await Console.Error.WriteAsync(Usage);
                    return 2;
            }
        }

        if (await OfflineStorage.LoadConfigurationAsync(configPath, environment, Console.Error) is not { } loaded
            || await OfflineStorage.OpenAsync<GarbageCollector>(loaded, Console.Error) is not var (provider, collector))
        {
            return 1;
        }

        await using var disposeProvider = provider;
        var progress = quiet ? null : new ConsoleProgress();

        var report = await collector.RunAsync(GarbageCollectionOptions.Offline with
        {
            DryRun = dryRun,
            DeleteUntagged = deleteUntagged,
            GracePeriod = grace,
        }, progress, CancellationToken.None);

        var deleted = report.DryRun ? "to delete" : "deleted";
        await Console.Out.WriteLineAsync(
            $"{(report.DryRun ? "dry run: " : "")}{report.Repositories} repositories, {report.ManifestsScanned} manifests " +
            $"({report.ManifestsDeleted} {deleted}), {report.BlobsScanned} blobs ({report.BlobsMarked} referenced, {report.BlobsDeleted} {deleted}, " +
            $"{report.BytesFreed} bytes), {report.LinksRemoved} links, {report.Duration.TotalSeconds:0.0}s");
        return 0;
    }

    /// <summary>Prints progress lines as they come; <see cref="Progress{T}"/> would post them to the thread pool out of order.</summary>
    private sealed class ConsoleProgress : IProgress<string>
    {
        public void Report(string value) => Console.Out.WriteLine(value);
    }
}
