using System.Text.Json;
using Berth.Server.Configuration;
using Berth.Storage.Maintenance;

namespace Berth.Server;

/// <summary>
/// <c>berth scrub [--dry-run] [--rate R] [--json] [--quiet] CONFIG</c>: re-hashes every blob, checks every
/// manifest's references and every tag, and moves corrupt blobs aside. Safe while a registry serves
/// the same storage. The exit status tells a cron job or a monitoring check what it needs: 0 clean,
/// 3 problems found, 1 could not run, 2 bad arguments.
/// </summary>
internal static class ScrubCommand
{
    /// <summary>Exit status when the scrub ran and found something wrong.</summary>
    public const int ProblemsFound = 3;

    public const string Usage = """
        Usage: berth scrub [flags] CONFIG

        Re-hashes every blob, checks that every manifest's config, layers and child manifests exist and
        are linked into its repository and that every tag names a manifest of its repository, and moves
        corrupt blobs aside (to _berth_corrupt/ beside blobs/) so pulls answer 404 and a re-push heals them.

          -d, --dry-run   report only; move nothing
              --rate R    read at most R bytes per second: 50MiB, 200MB, 0 for no limit
                          (default: storage.maintenance.scrub.ratelimit, 50MiB)
              --json      print one JSON document (findings and summary) instead of lines
          -q, --quiet     print only the summary

        Exit status: 0 nothing wrong, 3 problems found, 1 could not run, 2 bad arguments.

        """;

    private static readonly JsonWriterOptions JsonOptions = new() { Indented = true };

    public static async Task<int> RunAsync(string[] args, IReadOnlyDictionary<string, string> environment)
    {
        bool dryRun = false, json = false, quiet = false;
        long? rate = null;
        string? configPath = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-d" or "--dry-run":
                    dryRun = true;
                    break;
                case "--json":
                    json = true;
                    break;
                case "-q" or "--quiet":
                    quiet = true;
                    break;
                case "--rate" when i + 1 < args.Length && ByteSizes.TryParseRate(args[i + 1], out var parsed):
                    rate = parsed;
                    i++;
                    break;
                case var argument when argument.StartsWith("--rate=", StringComparison.Ordinal) && ByteSizes.TryParseRate(argument["--rate=".Length..], out var parsed):
                    rate = parsed;
                    break;
                case "-h" or "--help":
                    await Console.Out.WriteAsync(Usage);
                    return 0;
                case var argument when !argument.StartsWith('-') && configPath is null:
                    configPath = argument;
                    break;
                default:
                    await Console.Error.WriteLineAsync($"berth scrub: unexpected argument '{args[i]}'");
                    await Console.Error.WriteAsync(Usage);
                    return 2;
            }
        }

        if (await OfflineStorage.LoadConfigurationAsync(configPath, environment, Console.Error) is not { } loaded
            || await OfflineStorage.OpenAsync<Scrubber>(loaded, Console.Error,
                // The findings are this command's output; the scrubber's warnings about them would print each twice.
                configureLogging: logging => logging.AddFilter(typeof(Scrubber).FullName, LogLevel.Error)) is not var (provider, scrubber))
        {
            return 1;
        }

        await using var disposeProvider = provider;
        using var interrupted = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // The first Ctrl+C stops the scrub where it is (nothing is half-moved: a move is one rename); a second kills.
            e.Cancel = !interrupted.IsCancellationRequested;
            interrupted.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        ScrubReport report;
        try
        {
            report = await scrubber.RunAsync(new ScrubOptions
            {
                DryRun = dryRun,
                BytesPerSecond = rate ?? loaded.Configuration.Storage.Maintenance.Scrub.RateLimit,
            }, json || quiet ? null : new ConsoleFindings(), interrupted.Token);
        }
        catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("berth scrub: interrupted; nothing was left half-done");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        if (json)
        {
            await WriteJsonAsync(report);
        }
        else
        {
            if (!quiet)
            {
                foreach (var moved in report.Findings.Where(f => f.MovedTo is not null))
                {
                    await Console.Out.WriteLineAsync($"moved-aside blob {moved.Blob}: to {moved.MovedTo}");
                }
            }

            await Console.Out.WriteLineAsync(Summary(report));
        }

        return report.Clean ? 0 : ProblemsFound;
    }

    /// <summary>The last line of the text output.</summary>
    public static string Summary(ScrubReport report) =>
        $"{(report.DryRun ? "dry run: " : "")}{report.Repositories} repositories, {report.Tags} tags, {report.Manifests} manifests"
        + $"{(report.ManifestsNotUnderstood > 0 ? $" ({report.ManifestsNotUnderstood} in formats not checked)" : "")}, "
        + $"{report.BlobsHashed} blobs re-hashed ({report.BytesHashed} bytes in {report.HashingDuration.TotalSeconds:0.0}s, {report.MegabytesPerSecond:0.0} MB/s); "
        + $"{report.Findings.Count} problems, {report.BlobsCorrupt} corrupt blobs ({report.BlobsMovedAside} moved aside)"
        + $"{(report.BlobsVanished > 0 ? $", {report.BlobsVanished} blob directories without data" : "")}; {report.Duration.TotalSeconds:0.0}s";

    private static async Task WriteJsonAsync(ScrubReport report)
    {
        await using var stdout = Console.OpenStandardOutput();
        await using (var writer = new Utf8JsonWriter(stdout, JsonOptions))
        {
            writer.WriteStartObject();
            writer.WriteBoolean("clean", report.Clean);
            writer.WriteBoolean("dryRun", report.DryRun);
            writer.WriteStartArray("findings");
            foreach (var finding in report.Findings)
            {
                writer.WriteStartObject();
                writer.WriteString("problem", finding.Code);
                if (finding.Repository is { } repository)
                {
                    writer.WriteString("repository", repository.Value);
                }

                if (finding.Tags.Count > 0)
                {
                    writer.WriteStartArray("tags");
                    foreach (var tag in finding.Tags)
                    {
                        writer.WriteStringValue(tag);
                    }

                    writer.WriteEndArray();
                }

                if (finding.Manifest is { } manifest)
                {
                    writer.WriteString("manifest", manifest.ToString());
                }

                if (finding.Blob is { } blob)
                {
                    writer.WriteString("blob", blob.ToString());
                }

                writer.WriteString("detail", finding.Detail);
                if (finding.MovedTo is { } movedTo)
                {
                    writer.WriteString("movedTo", movedTo);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteStartObject("summary");
            writer.WriteNumber("repositories", report.Repositories);
            writer.WriteNumber("tags", report.Tags);
            writer.WriteNumber("manifests", report.Manifests);
            writer.WriteNumber("manifestsNotChecked", report.ManifestsNotUnderstood);
            writer.WriteNumber("blobsHashed", report.BlobsHashed);
            writer.WriteNumber("bytesHashed", report.BytesHashed);
            writer.WriteNumber("blobsCorrupt", report.BlobsCorrupt);
            writer.WriteNumber("blobsMovedAside", report.BlobsMovedAside);
            writer.WriteNumber("blobsVanished", report.BlobsVanished);
            writer.WriteNumber("problems", report.Findings.Count);
            writer.WriteNumber("hashingSeconds", Math.Round(report.HashingDuration.TotalSeconds, 3));
            writer.WriteNumber("seconds", Math.Round(report.Duration.TotalSeconds, 3));
            writer.WriteNumber("megabytesPerSecond", Math.Round(report.MegabytesPerSecond, 1));
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        await stdout.WriteAsync("\n"u8.ToArray());
    }

    /// <summary>Prints each finding as it is found.</summary>
    private sealed class ConsoleFindings : IProgress<ScrubFinding>
    {
        public void Report(ScrubFinding value) => Console.Out.WriteLine(value.ToString());
    }
}
