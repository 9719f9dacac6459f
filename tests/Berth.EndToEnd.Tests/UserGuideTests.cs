using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Runs the command blocks of docs/user-guide.md, so that the guide cannot drift from the image. A block belongs to a
/// section when its fence's info string carries <c>tested:SECTION</c> (a block may carry several); the blocks of a
/// section run in document order, each with <c>bash -euo pipefail</c>, in a fresh working directory, against the
/// real Docker engine and the image built from the Dockerfile (tagged <c>berth:latest</c>, as the guide builds it).
/// </summary>
/// <remarks>
/// Only ports and one path change (the same rules are written in the guide's source, next to its tables):
/// <list type="bullet">
/// <item>a host port N published as <c>-p N:M</c> becomes <c>-p 127.0.0.1:FREE:M</c>, and <c>localhost:N</c> becomes
/// <c>localhost:FREE</c>, one free port per N and section: tests bind no public address and no fixed port;</item>
/// <item><c>/mnt/registry</c> becomes a directory inside the working directory.</item>
/// </list>
/// After a block that publishes ports the test waits until a registry answers there, as a person would before typing
/// the next command. Containers named <c>registry</c> and <c>/etc/docker/certs.d/localhost:FREE</c> directories that a
/// section leaves behind are removed.
/// </remarks>
[Collection(BerthImageCollection.Name)]
public sealed partial class UserGuideTests(BerthImageFixture fixture, ITestOutputHelper log) : IAsyncLifetime
{
    private const string GuidePath = "docs/user-guide.md";
    private const string ContainerName = "registry";
    private static readonly TimeSpan BlockTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly DockerEngine _engine = fixture.Engine;
    private readonly TemporaryDirectory _work = TemporaryDirectory.Create("user-guide");
    private readonly Dictionary<int, int> _ports = [];

    public async Task InitializeAsync()
    {
        await RemoveRegistryContainerAsync();
        await fixture.EnsureSampleImageAsync();
    }

    public async Task DisposeAsync()
    {
        await RemoveRegistryContainerAsync();
        foreach (var port in _ports.Values)
        {
            var certificates = Path.Combine("/etc/docker/certs.d", $"localhost:{port.ToString(CultureInfo.InvariantCulture)}");
            if (Directory.Exists(certificates))
            {
                Directory.Delete(certificates, recursive: true);
            }
        }

        _work.Dispose();
    }

    [Theory]
    [InlineData("quick-start", new[] { "Downloaded newer image for localhost:" })]
    [InlineData("bind-mount", new[] { "my-debian" })]
    [InlineData("config-file", new[] { "digest: sha256:" })]
    [InlineData("tls", new[] { "{}" })]
    [InlineData("htpasswd", new[] { "401", "Login Succeeded" })]
    public async Task Section_CommandBlocks_RunAsWritten(string section, string[] expectedOutput)
    {
        log.WriteLine($"--- image fixture ---\n{fixture.Preparation}");
        var blocks = ReadBlocks(section);
        Assert.NotEmpty(blocks);
        var output = new List<string>();
        foreach (var block in blocks)
        {
            var script = Substitute(block);
            log.WriteLine($"--- {section} block (as run) ---\n{script}");
            var result = await ExternalCommand.RunAsync("bash", ["-euo", "pipefail", "-c", script], log,
                new CommandOptions { Timeout = BlockTimeout, WorkingDirectory = _work.Path, Environment = _engine.ClientEnvironment });
            log.WriteLine(result.StandardOutput);
            if (result.ExitCode != 0)
            {
                Assert.Fail($"A {section} block of {GuidePath} failed with exit code {result.ExitCode}:\n{script}\n{result.DescribeOutput()}\n{await RegistryLogsAsync()}");
            }

            output.Add(result.StandardOutput);
            foreach (Match published in PublishedHostPort().Matches(script))
            {
                await WaitForRegistryAsync(int.Parse(published.Groups["port"].Value, CultureInfo.InvariantCulture));
            }
        }

        var allOutput = string.Join('\n', output);
        foreach (var expected in expectedOutput)
        {
            Assert.Contains(expected, allOutput, StringComparison.Ordinal);
        }
    }

    /// <summary>The bodies of the guide's blocks tagged <c>tested:<paramref name="section"/></c>, in document order.</summary>
    private static List<string> ReadBlocks(string section)
    {
        var lines = File.ReadAllLines(Path.Combine(BuildOutput.RepositoryRoot, GuidePath));
        var blocks = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            var fence = TestedFence().Match(lines[i]);
            if (!fence.Success)
            {
                continue;
            }

            var sections = fence.Groups["section"].Captures.Select(capture => capture.Value);
            var body = new List<string>();
            for (i++; i < lines.Length && lines[i].TrimEnd() != "```"; i++)
            {
                body.Add(lines[i]);
            }

            if (sections.Contains(section, StringComparer.Ordinal))
            {
                blocks.Add(string.Join('\n', body) + "\n");
            }
        }

        return blocks;
    }

    private string Substitute(string block)
    {
        var script = PublishFlag().Replace(block, match =>
            $"-p 127.0.0.1:{FreePortFor(match.Groups["host"].Value)}:{match.Groups["container"].Value}");
        script = LocalhostPort().Replace(script, match => $"localhost:{FreePortFor(match.Groups["port"].Value)}");
        return script.Replace("/mnt/registry", _work.Combine("mnt/registry"), StringComparison.Ordinal);
    }

    private string FreePortFor(string documentedPort)
    {
        var port = int.Parse(documentedPort, CultureInfo.InvariantCulture);
        if (!_ports.TryGetValue(port, out var free))
        {
            free = FreeTcpPort.Next();
            _ports[port] = free;
        }

        return free.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Waits until something speaking HTTP or HTTPS answers GET /v2/ on the port (any status).</summary>
    private async Task WaitForRegistryAsync(int port)
    {
        // Docker's userland proxy accepts connections before the registry listens, so only an HTTP answer counts.
        // The certificate is not checked here; the guide's own commands check it.
        using var handler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        var stopwatch = Stopwatch.StartNew();
        while (stopwatch.Elapsed < ReadyTimeout)
        {
            foreach (var scheme in new[] { "https", "http" })
            {
                try
                {
                    using var response = await http.GetAsync(new Uri($"{scheme}://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/v2/"));
                    log.WriteLine($"{scheme}://127.0.0.1:{port}/v2/ answered {(int)response.StatusCode} after {stopwatch.Elapsed.TotalSeconds:F1} s");
                    return;
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException)
                {
                }
            }

            await Task.Delay(250);
        }

        Assert.Fail($"No registry answered on 127.0.0.1:{port} within {ReadyTimeout.TotalSeconds:F0} s.\n{await RegistryLogsAsync()}");
    }

    private async Task<string> RegistryLogsAsync()
    {
        var logs = await _engine.RunAsync(null, TimeSpan.FromSeconds(30), "logs", "--tail", "50", ContainerName);
        return $"--- docker logs {ContainerName} ---\n{logs.StandardOutput}{logs.StandardError}\n--- dockerd (tail) ---\n{_engine.DaemonLog}";
    }

    private Task RemoveRegistryContainerAsync() =>
        _engine.RunAsync(null, TimeSpan.FromSeconds(60), "rm", "--force", "--volumes", ContainerName);

    /// <summary>An opening fence such as <c>```bash tested:tls tested:htpasswd</c>.</summary>
    [GeneratedRegex(@"^```bash(?:\s+tested:(?<section>[a-z0-9-]+))+\s*$")]
    private static partial Regex TestedFence();

    [GeneratedRegex(@"-p (?<host>\d+):(?<container>\d+)")]
    private static partial Regex PublishFlag();

    [GeneratedRegex(@"localhost:(?<port>\d+)")]
    private static partial Regex LocalhostPort();

    /// <summary>A published port after substitution.</summary>
    [GeneratedRegex(@"-p 127\.0\.0\.1:(?<port>\d+):\d+")]
    private static partial Regex PublishedHostPort();
}
