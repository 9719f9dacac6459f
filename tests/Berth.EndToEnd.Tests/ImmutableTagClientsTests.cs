using System.Globalization;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>A Berth whose <c>locked/**</c> repositories have immutable <c>v*</c> tags, and a private Docker engine to push with.</summary>
public sealed class ImmutableTagRegistryFixture : IAsyncLifetime
{
    private readonly TemporaryDirectory _directory = TemporaryDirectory.Create("immutable-tags");

    public RegistryProcess Registry { get; private set; } = null!;

    public DockerEngine Docker { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var storage = _directory.Combine("storage");
        Registry = await RegistryProcess.StartAsync(RegistryKind.Berth, "immutable-tags", storage, port => $"""
            version: 0.1
            storage:
              filesystem:
                rootdirectory: {storage}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}
              secret: berth-e2e-immutable-tags
            immutabletags:
              - repositories: ["locked/**"]
                tags: ["v*"]

            """);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Docker = await DockerEngine.StartAsync(privateBridge: false, timeout.Token);
    }

    public async Task DisposeAsync()
    {
        if (Docker is not null)
        {
            await Docker.DisposeAsync();
        }

        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        _directory.Dispose();
    }
}

/// <summary>
/// Immutable tags against real clients: moving an existing <c>v*</c> tag of a <c>locked/**</c> repository fails for
/// skopeo, podman and docker, and the registry's DENIED message, naming the rule and the tag, reaches the user.
/// Pushing the same image again succeeds.
/// </summary>
public sealed class ImmutableTagClientsTests(ImmutableTagRegistryFixture fixture, ITestOutputHelper log) : IClassFixture<ImmutableTagRegistryFixture>, IDisposable
{
    private static readonly OciPlatform LinuxAmd64 = new("linux", "amd64");
    private static readonly TimeSpan DockerTimeout = TimeSpan.FromMinutes(3);

    private readonly RegistryProcess _registry = fixture.Registry;
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("immutable-clients");

    public void Dispose() => _temp.Dispose();

    private static void AssertRefusalReachedTheClient(CommandResult result, string repository)
    {
        Assert.NotEqual(0, result.ExitCode);
        var output = result.StandardOutput + result.StandardError;
        Assert.True(output.Contains($"{repository}:v1 is immutable", StringComparison.Ordinal)
            && output.Contains("immutabletags[1]", StringComparison.Ordinal), $"the refusal did not reach the client:\n{result.DescribeOutput()}");
    }

    private OciLayoutWriter TwoImages()
    {
        var layout = new OciLayoutWriter(_temp.CreateSubdirectory("layout"));
        layout.Tag("first", layout.AddImage(LinuxAmd64, 4096).Manifest);
        layout.Tag("second", layout.AddImage(LinuxAmd64, 4096).Manifest);
        return layout;
    }

    [Fact]
    public async Task Skopeo_MovingAnImmutableTag_FailsWithTheRegistrysMessage()
    {
        var layout = TwoImages();
        var skopeo = new Skopeo(log, _registry);
        var target = $"docker://{_registry.Host}/locked/skopeo:v1";
        await skopeo.CopyAsync(layout.Reference("first"), target);

        var moved = await skopeo.TryRunAsync(["copy", "--dest-tls-verify=false", layout.Reference("second"), target]);

        AssertRefusalReachedTheClient(moved, "locked/skopeo");
        await skopeo.CopyAsync(layout.Reference("first"), target);
        // Another repository, or a tag outside the patterns, moves as usual.
        await skopeo.CopyAsync(layout.Reference("second"), $"docker://{_registry.Host}/locked/skopeo:latest");
        await skopeo.CopyAsync(layout.Reference("first"), $"docker://{_registry.Host}/locked/skopeo:latest");
    }

    [Fact]
    public async Task Podman_MovingAnImmutableTag_FailsWithTheRegistrysMessage()
    {
        var layout = TwoImages();
        using var storage = new ContainerStorage("podman-immutable");
        var podman = new Podman(storage, log, _registry);
        var first = (await podman.RunAsync("pull", "--quiet", "--signature-policy", storage.PolicyPath, layout.Reference("first"))).StandardOutput.Trim();
        await podman.RunAsync("tag", first, "localhost/first:1");
        var target = $"docker://{_registry.Host}/locked/podman:v1";
        await podman.PushAsync("localhost/first:1", target);
        var second = (await podman.RunAsync("pull", "--quiet", "--signature-policy", storage.PolicyPath, layout.Reference("second"))).StandardOutput.Trim();
        await podman.RunAsync("tag", second, "localhost/second:1");

        var moved = await ExternalCommand.RunAsync("podman",
            ["--root", storage.Root, "--runroot", storage.RunRoot, "--tmpdir", storage.TmpDir, "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                "--events-backend", "file", "push", "--tls-verify=false", "--signature-policy", storage.PolicyPath, "localhost/second:1", target],
            log, storage.CommandOptions);

        AssertRefusalReachedTheClient(moved, "locked/podman");
    }

    [Fact]
    public async Task Docker_MovingAnImmutableTag_FailsWithTheRegistrysMessage()
    {
        var docker = fixture.Docker;
        var reference = $"{_registry.Host}/locked/docker:v1";
        await ImportAsync(docker, "first", reference);
        await docker.RunCheckedAsync(log, DockerTimeout, "push", reference);
        await ImportAsync(docker, "second", reference);

        var moved = await docker.RunAsync(log, DockerTimeout, "push", reference);

        AssertRefusalReachedTheClient(moved, "locked/docker");
    }

    /// <summary>A one-file image under <paramref name="reference"/>, different for each <paramref name="content"/>.</summary>
    private async Task ImportAsync(DockerEngine docker, string content, string reference)
    {
        var directory = _temp.CreateSubdirectory($"docker-{content}");
        await File.WriteAllTextAsync(Path.Combine(directory, "content.txt"), $"{content} {Guid.NewGuid()}\n");
        var archive = _temp.Combine($"docker-{content}.tar");
        await ExternalCommand.RunCheckedAsync("tar", ["--create", "--file", archive, "--directory", directory, "content.txt"], log);
        await docker.RunCheckedAsync(log, DockerTimeout, "import", archive, reference);
    }
}
