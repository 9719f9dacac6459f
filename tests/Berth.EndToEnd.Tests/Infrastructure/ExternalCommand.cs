using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>How to run one external command.</summary>
public sealed record CommandOptions
{
    /// <summary>Killed (with its whole process tree) after this long; the test then fails with the output so far.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(3);

    public string? WorkingDirectory { get; init; }

    /// <summary>Variables to set; a null value removes the variable from the inherited environment.</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();
}

/// <summary>What an external command did.</summary>
public sealed record CommandResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError, TimeSpan Elapsed)
{
    /// <summary>Throws with the command line, exit code and both outputs unless the command exited 0.</summary>
    public CommandResult EnsureSuccess()
    {
        if (ExitCode != 0)
        {
            throw new ExternalCommandException($"`{CommandLine}` exited with code {ExitCode} after {Elapsed.TotalSeconds:F1} s.\n{DescribeOutput()}");
        }

        return this;
    }

    public string DescribeOutput() =>
        $"--- stderr (tail) ---\n{ExternalCommand.Tail(StandardError)}\n--- stdout (tail) ---\n{ExternalCommand.Tail(StandardOutput)}";
}

/// <summary>An external command failed, timed out or is not installed.</summary>
public sealed class ExternalCommandException : Exception
{
    public ExternalCommandException()
    {
    }

    public ExternalCommandException(string message)
        : base(message)
    {
    }

    public ExternalCommandException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Runs real tools (skopeo, buildah, podman, dotnet) with a timeout, capturing their output.
/// A tool that is not installed is a failure, never a skip: scripts/test.sh installs every tool these tests use.
/// </summary>
public static class ExternalCommand
{
    private const int TailLength = 6000;

    /// <summary>How long to wait for the rest of the output once the process exited.</summary>
    private static readonly TimeSpan OutputDrainGrace = TimeSpan.FromSeconds(15);

    public static async Task<CommandResult> RunAsync(
        string tool, IEnumerable<string> arguments, ITestOutputHelper? log = null, CommandOptions? options = null)
    {
        options ??= new CommandOptions();
        var executable = ResolveExecutable(tool);
        var startInfo = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = options.WorkingDirectory ?? Directory.GetCurrentDirectory(),
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in options.Environment)
        {
            if (value is null)
            {
                startInfo.Environment.Remove(name);
            }
            else
            {
                startInfo.Environment[name] = value;
            }
        }

        var commandLine = FormatCommandLine(tool, startInfo.ArgumentList);
        log?.WriteLine($"$ {commandLine}");
        using var process = new Process { StartInfo = startInfo };
        var stopwatch = Stopwatch.StartNew();
        process.Start();
        // No tool here may wait for input; a closed stdin makes a prompting tool fail fast instead of hanging.
        process.StandardInput.Close();
        var standardOutput = new OutputCollector(process.StandardOutput);
        var standardError = new OutputCollector(process.StandardError);

        using var timeout = new CancellationTokenSource(options.Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            await Task.WhenAll(standardOutput.WaitForEndAsync(OutputDrainGrace), standardError.WaitForEndAsync(OutputDrainGrace));
            var timedOut = new CommandResult(commandLine, -1, standardOutput.Text, standardError.Text, stopwatch.Elapsed);
            log?.WriteLine($"  timed out after {options.Timeout.TotalSeconds:F0} s");
            throw new ExternalCommandException($"`{commandLine}` did not finish within {options.Timeout.TotalSeconds:F0} s and was killed.\n{timedOut.DescribeOutput()}");
        }

        await Task.WhenAll(standardOutput.WaitForEndAsync(OutputDrainGrace), standardError.WaitForEndAsync(OutputDrainGrace));
        var result = new CommandResult(commandLine, process.ExitCode, standardOutput.Text, standardError.Text, stopwatch.Elapsed);
        log?.WriteLine($"  exit {result.ExitCode} in {result.Elapsed.TotalSeconds:F1} s");
        return result;
    }

    /// <summary>Runs the command and throws unless it exits 0.</summary>
    public static async Task<CommandResult> RunCheckedAsync(
        string tool, IEnumerable<string> arguments, ITestOutputHelper? log = null, CommandOptions? options = null) =>
        (await RunAsync(tool, arguments, log, options)).EnsureSuccess();

    /// <summary>
    /// Runs a client command against <paramref name="registry"/>; when it fails, the registry's log joins the
    /// client's output in the message, since the cause is as often on the server side as on the client's.
    /// </summary>
    public static async Task<CommandResult> WithRegistryLogAsync(RegistryProcess? registry, Func<Task<CommandResult>> command)
    {
        try
        {
            return await command();
        }
        catch (ExternalCommandException ex) when (registry is not null)
        {
            throw new ExternalCommandException($"{ex.Message}\n{registry.Log}", ex);
        }
    }

    /// <summary>The full path of a tool on PATH; throws (failing the test) when it is not installed.</summary>
    public static string ResolveExecutable(string tool)
    {
        if (Path.IsPathRooted(tool))
        {
            return File.Exists(tool)
                ? tool
                : throw new ExternalCommandException($"'{tool}' does not exist. scripts/test.sh (as root) installs the tools the end-to-end tests need.");
        }

        var searchPath = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var directory in searchPath.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new ExternalCommandException(
            $"'{tool}' is not installed (not found on PATH={searchPath}). scripts/test.sh (as root) installs the tools the end-to-end tests need.");
    }

    public static string Tail(string text) =>
        text.Length <= TailLength ? text : "[...]" + text[^TailLength..];

    private static string FormatCommandLine(string tool, IEnumerable<string> arguments) =>
        string.Join(' ', new[] { tool }.Concat(arguments).Select(a => a.Length == 0 || a.Any(char.IsWhiteSpace) ? $"'{a}'" : a));
}

/// <summary>
/// Reads a process stream to its end in the background, keeping the most recent text.
/// Unlike <c>ReadToEndAsync</c>, what was read so far is available when the reader never reaches the end.
/// </summary>
public sealed class OutputCollector
{
    private const int MaxLength = 8 << 20;
    private readonly StringBuilder _text = new();
    private readonly Lock _gate = new();
    private readonly Task _pump;

    public OutputCollector(StreamReader reader)
    {
        _pump = Task.Run(() => PumpAsync(reader));
    }

    /// <summary>
    /// Waits until the stream reached its end (every writer closed it), or <paramref name="grace"/> passed:
    /// a grandchild that inherited the pipe can hold it open long after the process itself exited.
    /// </summary>
    [SuppressMessage("Usage", "VSTHRD003:Avoid awaiting foreign Tasks", Justification = "The pump runs on the thread pool; tests have no single-threaded context to deadlock.")]
    public async Task WaitForEndAsync(TimeSpan grace) => await Task.WhenAny(_pump, Task.Delay(grace));

    public string Text
    {
        get
        {
            lock (_gate)
            {
                return _text.ToString();
            }
        }
    }

    private async Task PumpAsync(StreamReader reader)
    {
        var buffer = new char[8192];
        int read;
        while ((read = await reader.ReadAsync(buffer.AsMemory())) > 0)
        {
            lock (_gate)
            {
                _text.Append(buffer, 0, read);
                // A registry logs every request; keep the recent half once the log grows large.
                if (_text.Length > MaxLength)
                {
                    _text.Remove(0, _text.Length - (MaxLength / 2));
                }
            }
        }
    }
}
