using System.Text.Json;
using Berth.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// The offline commands run as the real CLI: their log follows <c>log.level</c> and <c>log.formatter</c>, starts with the
/// configuration's warnings, and goes to standard error, so standard output stays the command's report.
/// </summary>
public sealed class OfflineCommandLogTests(ITestOutputHelper log) : IDisposable
{
    // log.fields is read and not honoured: a configuration warning every command must show.
    private const string IgnoredKeyWarning = "log.fields";

    private readonly string _directory = Directory.CreateTempSubdirectory("berth-offline-log-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task GarbageCollect_AtDebug_LogsWarningsAndPhasesOnStandardError_ReportOnStandardOutput()
    {
        var result = await RunAsync("level: debug", "garbage-collect", "--dry-run");

        Assert.Contains(IgnoredKeyWarning, result.StandardError, StringComparison.Ordinal);
        Assert.Contains("Garbage collection started", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("Garbage collection phase", result.StandardError, StringComparison.Ordinal);
        // Standard output: the dry run's findings and summary, no log entry.
        var output = Lines(result.StandardOutput);
        Assert.StartsWith("dry run: 0 repositories, 0 manifests", output[^1], StringComparison.Ordinal);
        Assert.DoesNotContain(output, line => line.Contains("Garbage collection", StringComparison.Ordinal) || line.Contains(IgnoredKeyWarning, StringComparison.Ordinal));
    }

    [Fact]
    public async Task GarbageCollect_AtInfo_LogsStartAndFinishButNoPhases()
    {
        var result = await RunAsync("level: info", "garbage-collect", "--dry-run");

        Assert.Contains("Garbage collection finished", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("Garbage collection phase", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GarbageCollect_AtError_LogsNothing()
    {
        var result = await RunAsync("level: error", "garbage-collect", "--dry-run");

        Assert.Equal("", result.StandardError.Trim());
        Assert.StartsWith("dry run: 0 repositories", Lines(result.StandardOutput)[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scrub_WithJsonFormatter_WritesOneJsonObjectPerLogLine()
    {
        var result = await RunAsync("level: info\n  formatter: json", "scrub", "--dry-run");

        var entries = Lines(result.StandardError);
        Assert.NotEmpty(entries);
        foreach (var entry in entries)
        {
            using var json = JsonDocument.Parse(entry);
            Assert.True(json.RootElement.TryGetProperty("LogLevel", out _), entry);
        }

        Assert.Contains(entries, entry => entry.Contains(IgnoredKeyWarning, StringComparison.Ordinal));
        Assert.DoesNotContain(Lines(result.StandardOutput), line => line.StartsWith('{'));
    }

    private async Task<CommandResult> RunAsync(string logSection, params string[] command)
    {
        var storage = Path.Combine(_directory, "storage");
        Directory.CreateDirectory(storage);
        var config = Path.Combine(_directory, "config.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              {logSection}
              fields:
                service: registry
            storage:
              filesystem:
                rootdirectory: '{storage}'
              delete:
                enabled: true
            """);
        var result = await ExternalCommand.RunCheckedAsync(BuildOutput.DotnetHost, [BuildOutput.ServerAssemblySnapshot, .. command, config], log);
        log.WriteLine("stdout:\n" + result.StandardOutput + "\nstderr:\n" + result.StandardError);
        return result;
    }

    private static List<string> Lines(string text) => [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
}
