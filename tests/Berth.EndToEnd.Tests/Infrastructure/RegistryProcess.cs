using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>Which registry implementation a process runs.</summary>
public enum RegistryKind
{
    /// <summary>This project's server: <c>dotnet berth.dll serve config.yml</c>.</summary>
    Berth,

    /// <summary>The reference, CNCF Distribution 2.8.2 from Debian: <c>/usr/bin/docker-registry serve config.yml</c>.</summary>
    Distribution,
}

/// <summary>
/// A real registry process on 127.0.0.1, started from a registry:2-style config.yml (a filesystem root by default,
/// or any configuration, as the scale-out replicas over S3 use) and ready once <c>GET /v2/</c> answers 200. Killed
/// (with its process tree) on stop or dispose.
/// </summary>
public sealed class RegistryProcess : IAsyncDisposable
{
    private const string DistributionExecutable = "/usr/bin/docker-registry";
    private const int StartAttempts = 3;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private readonly Process _process;
    private readonly OutputCollector _standardOutput;
    private readonly OutputCollector _standardError;
    private readonly TemporaryDirectory _configDirectory;

    private RegistryProcess(RegistryKind kind, string name, int port, string rootDirectory, Process process, TemporaryDirectory configDirectory)
    {
        Kind = kind;
        Name = name;
        Port = port;
        RootDirectory = rootDirectory;
        _process = process;
        _configDirectory = configDirectory;
        _standardOutput = new OutputCollector(process.StandardOutput);
        _standardError = new OutputCollector(process.StandardError);
    }

    public RegistryKind Kind { get; }

    /// <summary>How logs and failure messages name this process (a replica's name, or the kind).</summary>
    public string Name { get; }

    /// <summary>True once <see cref="KillAsync"/> ran.</summary>
    public bool Killed { get; private set; }

    public int Port { get; }

    /// <summary>The operating system's id of the registry process (to attach a tracer to it).</summary>
    public int ProcessId => _process.Id;

    /// <summary>host:port as clients name the registry in image references.</summary>
    public string Host => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public Uri BaseAddress => new($"http://{Host}/");

    /// <summary>storage.filesystem.rootdirectory (or storage.s3.rootdirectory).</summary>
    public string RootDirectory { get; }

    /// <summary>The recent stdout and stderr of the registry, for failure messages.</summary>
    public string Log => $"--- {Name} ({Host}{(Killed ? ", killed" : "")}) stderr (tail) ---\n{ExternalCommand.Tail(_standardError.Text)}\n" +
                         $"--- {Name} stdout (tail) ---\n{ExternalCommand.Tail(_standardOutput.Text)}";

    /// <summary>Starts a registry on a free 127.0.0.1 port over <paramref name="rootDirectory"/> and waits until it answers.</summary>
    public static Task<RegistryProcess> StartAsync(RegistryKind kind, string rootDirectory) =>
        StartAsync(kind, kind.ToString().ToLowerInvariant(), rootDirectory, port => ConfigYaml(kind, port, rootDirectory));

    /// <summary>
    /// Starts a registry with the configuration <paramref name="configYaml"/> writes for a free port, and waits until it
    /// answers; a lost race for the port is retried on another.
    /// </summary>
    /// <param name="kind">Which registry to run.</param>
    /// <param name="name">How logs name it.</param>
    /// <param name="rootDirectory">Its storage root (informational: the configuration decides).</param>
    /// <param name="configYaml">The configuration for a port.</param>
    /// <param name="readiness">How to tell it is up; by default a plain-HTTP <c>GET /v2/</c> answering 200.</param>
    /// <param name="environment">Variables set for the process (a test's own <c>HOME</c>, say), beside the inherited ones.</param>
    public static async Task<RegistryProcess> StartAsync(RegistryKind kind, string name, string rootDirectory, Func<int, string> configYaml,
        RegistryReadiness? readiness = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var failures = new List<string>();
        for (var attempt = 1; attempt <= StartAttempts; attempt++)
        {
            var registry = Launch(kind, name, FreeTcpPort.Next(), rootDirectory, configYaml, environment);
            var failure = await WaitUntilReadyAsync(registry, readiness ?? RegistryReadiness.PlainHttp);
            if (failure is null)
            {
                return registry;
            }

            await registry.DisposeAsync();
            failures.Add($"attempt {attempt} on port {registry.Port}: {failure}\n{registry.Log}");
            // Only a lost race for the port is worth another try; anything else fails the same way again.
            if (!LooksLikePortInUse(registry.Log))
            {
                break;
            }
        }

        throw new InvalidOperationException($"{name} ({kind}) did not start.\n{string.Join("\n", failures)}");
    }

    /// <summary>SIGKILL, no shutdown, as a crashed machine: in-flight requests die with the process.</summary>
    public Task KillAsync()
    {
        Killed = true;
        return StopAsync();
    }

    /// <summary>Stops the process (SIGKILL: every write the tests wait for has been acknowledged) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (!HasExited())
        {
            _process.Kill(entireProcessTree: true);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
        // Let the readers take the last lines, which explain a crash.
        await Task.WhenAll(_standardOutput.WaitForEndAsync(TimeSpan.FromSeconds(2)), _standardError.WaitForEndAsync(TimeSpan.FromSeconds(2)));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            _process.Dispose();
            _configDirectory.Dispose();
        }
    }

    private static RegistryProcess Launch(RegistryKind kind, string name, int port, string rootDirectory, Func<int, string> configYaml,
        IReadOnlyDictionary<string, string>? environment)
    {
        // Resolved first: a missing server build or tool throws before anything is created.
        string[] command = kind switch
        {
            RegistryKind.Berth => [BuildOutput.DotnetHost, BuildOutput.ServerAssemblySnapshot],
            RegistryKind.Distribution => [ExternalCommand.ResolveExecutable(DistributionExecutable)],
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var configDirectory = TemporaryDirectory.Create($"{name}-config");
        var configPath = configDirectory.Combine("config.yml");
        File.WriteAllText(configPath, configYaml(port));

        var startInfo = new ProcessStartInfo(command[0]);
        foreach (var argument in command.Skip(1).Concat(["serve", configPath]))
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.UseShellExecute = false;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.WorkingDirectory = configDirectory.Path;
        // The config file alone decides: a developer's REGISTRY_*, AWS_* or ASPNETCORE_URLS must not change what is
        // tested. (Distribution 2.8.2 also crashes at start-up when AWS_CA_BUNDLE is set, as some machines do.)
        foreach (var variable in startInfo.Environment.Keys.Where(IsInheritedOverride).ToList())
        {
            startInfo.Environment.Remove(variable);
        }

        foreach (var (variable, value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[variable] = value;
        }

        var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch
        {
            process.Dispose();
            configDirectory.Dispose();
            throw;
        }

        return new RegistryProcess(kind, name, port, rootDirectory, process, configDirectory);
    }

    private static bool IsInheritedOverride(string name) =>
        name.StartsWith("REGISTRY_", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("AWS_", StringComparison.OrdinalIgnoreCase)
        || name.Equals("ASPNETCORE_URLS", StringComparison.OrdinalIgnoreCase)
        || name.Equals("DOTNET_URLS", StringComparison.OrdinalIgnoreCase)
        || name.Equals("ASPNETCORE_HTTP_PORTS", StringComparison.OrdinalIgnoreCase);

    /// <summary>The same registry:2 configuration for both implementations; that is the point of a drop-in replacement.</summary>
    /// <summary>The configuration <see cref="StartAsync(RegistryKind, string)"/> uses: filesystem storage, deletes on, info log.</summary>
    public static string ConfigYaml(RegistryKind kind, int port, string rootDirectory) => $"""
        version: 0.1
        log:
          level: info
        storage:
          filesystem:
            rootdirectory: {rootDirectory}
          delete:
            enabled: true
        http:
          addr: 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}
          secret: berth-end-to-end-tests-{kind.ToString().ToLowerInvariant()}
        health:
          storagedriver:
            enabled: false

        """;

    /// <summary>Null when ready, else why not.</summary>
    private static async Task<string?> WaitUntilReadyAsync(RegistryProcess registry, RegistryReadiness readiness)
    {
        using var http = readiness.CreateClient(registry.Port);
        http.Timeout = TimeSpan.FromSeconds(5);
        var stopwatch = Stopwatch.StartNew();
        string lastProblem = "no answer yet";
        while (stopwatch.Elapsed < StartTimeout)
        {
            if (registry.HasExited())
            {
                return $"the process exited with code {registry._process.ExitCode} before answering GET /v2/";
            }

            try
            {
                using var response = await http.GetAsync(new Uri("v2/", UriKind.Relative));
                if (response.StatusCode == readiness.ReadyStatus)
                {
                    return null;
                }

                lastProblem = $"GET /v2/ answered {(int)response.StatusCode} {response.ReasonPhrase}";
            }
            catch (HttpRequestException ex)
            {
                lastProblem = ex.Message;
            }
            catch (TaskCanceledException)
            {
                lastProblem = "GET /v2/ timed out";
            }

            await Task.Delay(100);
        }

        return $"not ready after {StartTimeout.TotalSeconds:F0} s: {lastProblem}";
    }

    private static bool LooksLikePortInUse(string log) =>
        log.Contains("address already in use", StringComparison.OrdinalIgnoreCase)
        || log.Contains("address in use", StringComparison.OrdinalIgnoreCase);

    private bool HasExited()
    {
        try
        {
            return _process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }
}

/// <summary>How <see cref="RegistryProcess"/> tells that a registry is up: <c>GET /v2/</c> through a client for its port answers a status.</summary>
/// <param name="CreateClient">A client whose base address is the registry on that port (TLS, trusted CA...).</param>
/// <param name="ReadyStatus">200 for an open registry; 401 when authentication is on.</param>
public sealed record RegistryReadiness(Func<int, HttpClient> CreateClient, HttpStatusCode ReadyStatus)
{
    public static RegistryReadiness PlainHttp { get; } = new(
        port => new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/") },
        HttpStatusCode.OK);
}
