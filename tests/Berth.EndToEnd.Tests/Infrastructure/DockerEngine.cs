using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A private Docker engine (Debian's docker.io: <c>dockerd</c> with vfs storage, no iptables, its own data root, exec
/// root and socket) that touches no other engine on the machine, plus a <c>docker</c> client bound to it with its own
/// config directory (credentials from <c>docker login</c> stay there).
/// </summary>
/// <remarks>
/// <para>Without a bridge (<see cref="StartAsync"/> with <c>privateBridge: false</c>) the engine can load, build, push
/// and pull, and run containers on the host network only. With a private bridge it also publishes ports
/// (<c>-p 127.0.0.1:HOST:CONTAINER</c>) as on an ordinary Docker host: the bridge is a fresh Linux bridge named for this
/// engine on a /24 of 198.18.0.0/15 (reserved for benchmarking, never routed), and published ports go through
/// Docker's userland proxy, so the engine needs no iptables rules and changes no host-wide setting (IP forwarding and
/// masquerading are off). The bridge is deleted on dispose.</para>
/// <para>The client runs with <c>DOCKER_BUILDKIT=0</c>: Debian's docker.io ships no buildx plugin, which newer
/// clients need for BuildKit, while the classic builder is built into every engine.</para>
/// </remarks>
public sealed class DockerEngine : IAsyncDisposable
{
    private static readonly TimeSpan DaemonStartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DaemonStopTimeout = TimeSpan.FromSeconds(30);

    private readonly TemporaryDirectory _directory;
    private readonly Process _daemon;
    private readonly OutputCollector _daemonError;
    private readonly string? _bridge;

    private DockerEngine(TemporaryDirectory directory, Process daemon, string? bridge)
    {
        _directory = directory;
        _daemon = daemon;
        _bridge = bridge;
        _ = new OutputCollector(daemon.StandardOutput);
        _daemonError = new OutputCollector(daemon.StandardError);
    }

    public string Socket => _directory.Combine("docker.sock");

    /// <summary>The client's own config directory (credentials from docker login go there).</summary>
    public string ClientConfig => _directory.Combine("client");

    public string DaemonLog => ExternalCommand.Tail(_daemonError.Text);

    /// <summary>The variables that bind the docker CLI to this engine; give them to any process that runs docker.</summary>
    public IReadOnlyDictionary<string, string?> ClientEnvironment => new Dictionary<string, string?>
    {
        ["DOCKER_HOST"] = $"unix://{Socket}",
        ["DOCKER_CONFIG"] = ClientConfig,
        ["DOCKER_BUILDKIT"] = "0",
        // docker manifest is experimental in the 20.10 client (Debian's); later clients ignore the variable.
        ["DOCKER_CLI_EXPERIMENTAL"] = "enabled",
        ["DOCKER_CONTENT_TRUST"] = null,
        ["DOCKER_CONTEXT"] = null,
    };

    /// <summary>Starts an engine and waits until it answers.</summary>
    /// <param name="privateBridge">Give the engine its own bridge so that containers can publish ports.</param>
    /// <param name="cancellationToken">Stops waiting for the engine.</param>
    /// <param name="extraArguments">More dockerd flags (<c>--registry-mirror</c>, ...).</param>
    public static async Task<DockerEngine> StartAsync(bool privateBridge, CancellationToken cancellationToken, params string[] extraArguments)
    {
        var directory = TemporaryDirectory.Create("dockerd");
        string? bridge = null;
        Process? daemon = null;
        try
        {
            Directory.CreateDirectory(directory.Combine("client"));
            List<string> arguments =
            [
                "--storage-driver=vfs", "--iptables=false", "--ip6tables=false",
                "--data-root", directory.Combine("data"), "--exec-root", directory.Combine("exec"),
                "--pidfile", directory.Combine("docker.pid"), "--host", $"unix://{directory.Combine("docker.sock")}",
            ];
            if (privateBridge)
            {
                bridge = await CreateBridgeAsync(cancellationToken);
                arguments.AddRange([$"--bridge={bridge}", "--ip-forward=false", "--ip-masq=false"]);
            }
            else
            {
                arguments.Add("--bridge=none");
            }

            arguments.AddRange(extraArguments);

            var startInfo = new ProcessStartInfo(ExternalCommand.ResolveExecutable("dockerd"))
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var argument in arguments)
            {
                startInfo.ArgumentList.Add(argument);
            }

            daemon = Process.Start(startInfo) ?? throw new InvalidOperationException("dockerd did not start");
            var engine = new DockerEngine(directory, daemon, bridge);
            await engine.WaitUntilAnsweringAsync(cancellationToken);
            return engine;
        }
        catch
        {
            await StopDaemonAsync(daemon);
            daemon?.Dispose();
            await DeleteBridgeAsync(bridge);
            await UnmountLeftoversAsync(directory.Path);
            directory.Dispose();
            throw;
        }
    }

    /// <summary>Runs the docker client against this engine; the result is returned even when it failed.</summary>
    public Task<CommandResult> RunAsync(ITestOutputHelper? log, TimeSpan timeout, params string[] arguments) =>
        ExternalCommand.RunAsync("docker", arguments, log, new CommandOptions { Timeout = timeout, Environment = ClientEnvironment });

    /// <summary>Runs the docker client and throws, with the engine's log, unless it exits 0.</summary>
    public async Task<CommandResult> RunCheckedAsync(ITestOutputHelper? log, TimeSpan timeout, params string[] arguments)
    {
        var result = await RunAsync(log, timeout, arguments);
        return result.ExitCode == 0
            ? result
            : throw new ExternalCommandException($"`{result.CommandLine}` exited with code {result.ExitCode}.\n{result.DescribeOutput()}\n--- dockerd (tail) ---\n{DaemonLog}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            // Containers outlive a killed dockerd (their shims are not its children); remove them while it answers.
            var containers = await RunAsync(null, TimeSpan.FromSeconds(30), "ps", "--all", "--quiet");
            var ids = containers.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (containers.ExitCode == 0 && ids.Length > 0)
            {
                await RunAsync(null, TimeSpan.FromSeconds(60), ["rm", "--force", "--volumes", .. ids]);
            }
        }
        catch (ExternalCommandException)
        {
        }

        await StopDaemonAsync(_daemon);
        _daemon.Dispose();
        await DeleteBridgeAsync(_bridge);
        await UnmountLeftoversAsync(_directory.Path);
        _directory.Dispose();
    }

    /// <summary>
    /// dockerd mounts its data root onto itself and the default network namespace under its exec root; a daemon that
    /// had to be killed leaves them mounted, and a mounted directory cannot be deleted. Deepest first, lazily.
    /// </summary>
    private static async Task UnmountLeftoversAsync(string directory)
    {
        var prefix = directory.TrimEnd('/') + "/";
        var mountPoints = (await File.ReadAllLinesAsync("/proc/self/mountinfo"))
            .Select(line => line.Split(' '))
            .Where(fields => fields.Length > 4)
            .Select(fields => fields[4].Replace("\\040", " ", StringComparison.Ordinal))
            .Where(mountPoint => mountPoint.StartsWith(prefix, StringComparison.Ordinal))
            .OrderByDescending(mountPoint => mountPoint.Length);
        foreach (var mountPoint in mountPoints)
        {
            await ExternalCommand.RunAsync("umount", ["--lazy", mountPoint]);
        }
    }

    private async Task WaitUntilAnsweringAsync(CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            var version = await RunAsync(null, TimeSpan.FromSeconds(20), "version", "--format", "{{.Server.Version}}");
            if (version.ExitCode == 0)
            {
                return;
            }

            if (_daemon.HasExited || stopwatch.Elapsed > DaemonStartTimeout)
            {
                throw new InvalidOperationException($"dockerd is not answering: {version.DescribeOutput()}\n--- dockerd ---\n{DaemonLog}");
            }

            await Task.Delay(250, cancellationToken);
        }
    }

    /// <summary>SIGTERM first, so that dockerd stops its containerd and unmounts what it mounted; SIGKILL after a timeout.</summary>
    private static async Task StopDaemonAsync(Process? daemon)
    {
        if (daemon is null || daemon.HasExited)
        {
            return;
        }

        await ExternalCommand.RunAsync("kill", ["-TERM", daemon.Id.ToString(CultureInfo.InvariantCulture)]);
        using var timeout = new CancellationTokenSource(DaemonStopTimeout);
        try
        {
            await daemon.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            daemon.Kill(entireProcessTree: true);
            await daemon.WaitForExitAsync(CancellationToken.None);
        }
    }

    /// <summary>A new bridge with a free 198.18.N.1/24 address; the name carries a random suffix (at most 15 characters).</summary>
    private static async Task<string> CreateBridgeAsync(CancellationToken cancellationToken)
    {
        var name = $"berthbr{RandomNumberGenerator.GetHexString(8, lowercase: true)}";
        var inUse = (await ExternalCommand.RunCheckedAsync("ip", ["-4", "-o", "addr", "show"])).StandardOutput;
        var candidates = Enumerable.Range(0, 256).Where(n => !inUse.Contains($" 198.18.{n.ToString(CultureInfo.InvariantCulture)}.", StringComparison.Ordinal)).ToList();
        if (candidates.Count == 0)
        {
            throw new InvalidOperationException("No free /24 left in 198.18.0.0/16 for a private Docker bridge.");
        }

        var subnet = candidates[RandomNumberGenerator.GetInt32(candidates.Count)].ToString(CultureInfo.InvariantCulture);
        cancellationToken.ThrowIfCancellationRequested();
        await ExternalCommand.RunCheckedAsync("ip", ["link", "add", "name", name, "type", "bridge"]);
        try
        {
            await ExternalCommand.RunCheckedAsync("ip", ["addr", "add", $"198.18.{subnet}.1/24", "dev", name]);
            await ExternalCommand.RunCheckedAsync("ip", ["link", "set", name, "up"]);
        }
        catch
        {
            await DeleteBridgeAsync(name);
            throw;
        }

        return name;
    }

    private static async Task DeleteBridgeAsync(string? bridge)
    {
        if (bridge is not null)
        {
            await ExternalCommand.RunAsync("ip", ["link", "delete", bridge, "type", "bridge"]);
        }
    }
}
