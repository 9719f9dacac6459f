using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// The image built from the Dockerfile, run by a real Docker engine: registry:2's conventions (port, volume,
/// configuration path, entrypoint), a push and pull through the containerised Berth, the HEALTHCHECK, and the
/// <c>berth</c> verbs through <c>--entrypoint berth</c>.
/// </summary>
[Collection(BerthImageCollection.Name)]
public sealed partial class DockerImageTests(BerthImageFixture fixture, ITestOutputHelper log) : IAsyncLifetime
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly DockerEngine _engine = fixture.Engine;
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("image-test");
    private readonly List<string> _containers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var container in _containers)
        {
            await _engine.RunAsync(null, TimeSpan.FromSeconds(60), "rm", "--force", "--volumes", container);
        }

        _temp.Dispose();
    }

    [Fact]
    public async Task Image_Configuration_FollowsRegistry2Conventions()
    {
        log.WriteLine(fixture.Preparation);
        var inspected = (await _engine.RunCheckedAsync(log, CommandTimeout, "image", "inspect", "--format", "{{json .Config}}", BerthImageFixture.LocalImage)).StandardOutput;
        var config = JsonNode.Parse(inspected)!.AsObject();

        Assert.Equal("1654:1654", (string?)config["User"]);
        Assert.NotNull(config["ExposedPorts"]?["5000/tcp"]);
        Assert.NotNull(config["Volumes"]?["/var/lib/registry"]);
        Assert.Equal(["berth"], Strings(config["Entrypoint"]));
        Assert.Equal(["serve", "/etc/docker/registry/config.yml"], Strings(config["Cmd"]));
        Assert.Equal(["CMD", "berth", "healthcheck", "/etc/docker/registry/config.yml"], Strings(config["Healthcheck"]?["Test"]));
    }

    [Fact]
    public async Task Container_DefaultConfiguration_ServesPushPullAndReportsHealthy()
    {
        var port = FreeTcpPort.Next();
        var name = ContainerName("default");
        // The probe interval is shortened so that the test need not wait 15 s; the probe itself is the image's.
        await _engine.RunCheckedAsync(log, CommandTimeout, "run", "--detach", "--name", name,
            "--publish", $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}:5000", "--health-interval", "1s", BerthImageFixture.LocalImage);
        await WaitForRegistryAsync(port, name);

        // A one-file image, pushed through the containerised registry, removed, and pulled back.
        var content = _temp.CreateSubdirectory("content");
        await File.WriteAllTextAsync(Path.Combine(content, "hello.txt"), $"hello from {name}\n");
        var archive = _temp.Combine("tiny.tar");
        await ExternalCommand.RunCheckedAsync("tar", ["--create", "--file", archive, "--directory", content, "hello.txt"], log);
        var reference = $"localhost:{port.ToString(CultureInfo.InvariantCulture)}/e2e/tiny:1";
        await _engine.RunCheckedAsync(log, CommandTimeout, "import", archive, reference);
        var imageId = (await _engine.RunCheckedAsync(log, CommandTimeout, "image", "inspect", "--format", "{{.Id}}", reference)).StandardOutput.Trim();
        await _engine.RunCheckedAsync(log, CommandTimeout, "push", reference);
        await _engine.RunCheckedAsync(log, CommandTimeout, "image", "remove", reference);
        await _engine.RunCheckedAsync(log, CommandTimeout, "pull", reference);
        var pulledId = (await _engine.RunCheckedAsync(log, CommandTimeout, "image", "inspect", "--format", "{{.Id}}", reference)).StandardOutput.Trim();
        var health = await WaitForHealthAsync(name, "healthy");
        // The data went to the volume the image declares, owned by the registry's user.
        var listing = (await _engine.RunCheckedAsync(log, CommandTimeout, "exec", name, "ls", "-ln", "/var/lib/registry/docker/registry/v2/repositories/e2e")).StandardOutput;

        Assert.Equal(imageId, pulledId);
        Assert.Equal("healthy", (string?)health["Status"]);
        Assert.Contains("GET http://127.0.0.1:5000/v2/ answered 200", health["Log"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Matches(@"1654\s+1654.*tiny", listing);
    }

    [Fact]
    public async Task Container_RegistryStopped_HealthcheckReportsUnhealthy()
    {
        // The image's probe, run in a container where nothing serves: exit 1 is what Docker counts as unhealthy.
        var probe = await _engine.RunAsync(log, CommandTimeout, "run", "--rm", "--entrypoint", "berth", BerthImageFixture.LocalImage, "healthcheck", "/etc/docker/registry/config.yml");

        Assert.Equal(1, probe.ExitCode);
        Assert.Contains("unhealthy: GET http://127.0.0.1:5000/v2/ failed", probe.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EntrypointBerth_HtpasswdVerb_PrintsBcryptEntry()
    {
        var result = await _engine.RunCheckedAsync(log, CommandTimeout, "run", "--rm", "--entrypoint", "berth", BerthImageFixture.LocalImage, "htpasswd", "-Bbn", "user", "pass");

        Assert.Matches(BcryptEntry(), result.StandardOutput.Trim());
    }

    private string ContainerName(string purpose)
    {
        var name = $"berth-e2e-{purpose}-{Guid.NewGuid().ToString("N")[..8]}";
        _containers.Add(name);
        return name;
    }

    /// <summary>Waits until GET /v2/ through the published port answers 200.</summary>
    private async Task WaitForRegistryAsync(int port, string container)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var stopwatch = Stopwatch.StartNew();
        var last = "no answer";
        while (stopwatch.Elapsed < ReadyTimeout)
        {
            try
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/v2/"));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                last = $"{(int)response.StatusCode} {response.ReasonPhrase}";
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }
            catch (TaskCanceledException)
            {
                last = "timed out";
            }

            await Task.Delay(250);
        }

        var logs = await _engine.RunAsync(null, CommandTimeout, "logs", container);
        Assert.Fail($"The container's registry did not answer GET /v2/ within {ReadyTimeout.TotalSeconds:F0} s ({last}).\n{logs.DescribeOutput()}\n--- dockerd ---\n{_engine.DaemonLog}");
    }

    /// <summary>Polls <c>.State.Health</c> until its status is <paramref name="expected"/>, or a minute passed.</summary>
    private async Task<JsonObject> WaitForHealthAsync(string container, string expected)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            var json = (await _engine.RunCheckedAsync(null, CommandTimeout, "inspect", "--format", "{{json .State.Health}}", container)).StandardOutput;
            var health = JsonNode.Parse(json)!.AsObject();
            if ((string?)health["Status"] == expected || stopwatch.Elapsed > ReadyTimeout)
            {
                log.WriteLine($"health after {stopwatch.Elapsed.TotalSeconds:F1} s: {json.Trim()}");
                return health;
            }

            await Task.Delay(500);
        }
    }

    private static List<string> Strings(JsonNode? array) =>
        array is JsonArray items ? [.. items.Select(item => (string?)item ?? "")] : [];

    [GeneratedRegex(@"^user:\$2[aby]\$10\$[./A-Za-z0-9]{53}$")]
    private static partial Regex BcryptEntry();
}
