using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>One completed system call as strace printed it, with file descriptors shown as the paths they name.</summary>
public sealed record TracedCall(string Name, IReadOnlyList<string> Arguments, string Result)
{
    public bool Succeeded => Result == "0";
}

/// <summary>
/// strace attached to a running process (every thread, each traced into its own file so a thread's calls read in
/// order), recording the system calls asked for. Stopping detaches it; the process runs on.
/// </summary>
public sealed partial class SyscallTrace : IAsyncDisposable
{
    private static readonly TimeSpan AttachTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _strace;
    private readonly TemporaryDirectory _output;
    private readonly OutputCollector _standardError;

    private SyscallTrace(Process strace, TemporaryDirectory output)
    {
        _strace = strace;
        _output = output;
        _standardError = new OutputCollector(strace.StandardError);
    }

    /// <summary>Attaches to <paramref name="processId"/> and returns once every thread is traced.</summary>
    public static async Task<SyscallTrace> AttachAsync(int processId, IEnumerable<string> syscalls)
    {
        var output = TemporaryDirectory.Create("strace");
        var startInfo = new ProcessStartInfo(ExternalCommand.ResolveExecutable("strace"))
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // -ff: a file per thread; -y: descriptors as paths; -s: whole path strings; -qq would hide the attach message we wait for.
        foreach (var argument in new[] { "-ff", "-y", "-s", "4096", "-e", $"trace={string.Join(',', syscalls)}", "-o", output.Combine("t"), "-p", processId.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            startInfo.ArgumentList.Add(argument);
        }

        var strace = Process.Start(startInfo) ?? throw new ExternalCommandException("strace did not start");
        var trace = new SyscallTrace(strace, output);
        var deadline = DateTime.UtcNow + AttachTimeout;
        while (!trace._standardError.Text.Contains("attached", StringComparison.Ordinal))
        {
            if (strace.HasExited || DateTime.UtcNow > deadline)
            {
                await trace.DisposeAsync();
                throw new ExternalCommandException($"strace could not attach to process {processId}:\n{trace._standardError.Text}");
            }

            await Task.Delay(50);
        }

        return trace;
    }

    /// <summary>Detaches (SIGINT lets strace finish its files) and returns each thread's calls in the order it made them.</summary>
    public async Task<IReadOnlyList<IReadOnlyList<TracedCall>>> StopAsync()
    {
        if (!_strace.HasExited)
        {
            await ExternalCommand.RunCheckedAsync("kill", ["-INT", _strace.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await _strace.WaitForExitAsync(timeout.Token);
        }

        var threads = new List<IReadOnlyList<TracedCall>>();
        foreach (var file in Directory.EnumerateFiles(_output.Path))
        {
            var calls = new List<TracedCall>();
            foreach (var line in await File.ReadAllLinesAsync(file))
            {
                var match = CallLine().Match(line);
                if (match.Success)
                {
                    var arguments = ArgumentPattern().Matches(match.Groups["args"].Value).Select(m => m.Value).ToList();
                    calls.Add(new TracedCall(match.Groups["name"].Value, arguments, match.Groups["result"].Value));
                }
            }

            threads.Add(calls);
        }

        return threads;
    }

    /// <summary>The text inside <c>"..."</c> (a path string) or <c>&lt;...&gt;</c> (the path behind a descriptor).</summary>
    public static string PathOf(string argument)
    {
        var open = argument.IndexOfAny(['"', '<']);
        var close = argument.LastIndexOfAny(['"', '>']);
        return open >= 0 && close > open ? argument[(open + 1)..close] : argument;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_strace.HasExited)
        {
            _strace.Kill();
            await _strace.WaitForExitAsync(CancellationToken.None);
        }

        _strace.Dispose();
        _output.Dispose();
    }

    [GeneratedRegex(@"^(?<name>[a-z0-9_]+)\((?<args>.*)\)\s+=\s+(?<result>-?\d+)")]
    private static partial Regex CallLine();

    // An argument: a quoted string, or anything up to the next top-level comma (descriptors print as 12</path>).
    [GeneratedRegex(@"""(?:[^""\\]|\\.)*""|[^,\s][^,]*")]
    private static partial Regex ArgumentPattern();
}
