using System.Diagnostics;
using System.Globalization;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Berth as a pull-through cache in front of Distribution 2.8.2 (the real upstream), pulled through by real clients:
/// skopeo, podman, the Docker engine configured with <c>registry-mirrors</c>, and containerd with a <c>hosts.toml</c>
/// mirror (which adds <c>?ns=docker.io</c>). No other network exists on these machines, so an image that arrives came
/// through Berth.
/// </summary>
public sealed class PullThroughCacheClientsTests(ITestOutputHelper log) : IAsyncLifetime
{
    private static readonly OciPlatform LinuxAmd64 = new("linux", "amd64");
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("proxy-clients");
    private RegistryProcess _upstream = null!;

    public async Task InitializeAsync() =>
        _upstream = await RegistryProcess.StartAsync(RegistryKind.Distribution, _temp.CreateSubdirectory("upstream"));

    [Fact]
    public async Task SkopeoAndPodman_PullThroughBerthInProxyMode_GetTheUpstreamImageBitExact()
    {
        var (layout, image) = await PushToUpstreamAsync("team/app", "v1");
        await using var mirror = await StartMirrorAsync($"  remoteurl: {_upstream.BaseAddress}\n");
        var skopeo = new Skopeo(log, mirror);

        var pulled = _temp.Combine("pulled");
        await skopeo.CopyAsync($"docker://{mirror.Host}/team/app:v1", $"oci:{pulled}:v1");
        ImageAssert.LayoutsHaveSameBlobs(layout.Directory, pulled);
        var again = _temp.Combine("pulled-by-digest");
        await skopeo.CopyAsync($"docker://{mirror.Host}/team/app@{image.Manifest.Digest}", $"oci:{again}:v1");
        ImageAssert.LayoutsHaveSameBlobs(layout.Directory, again);

        using var storage = new ContainerStorage("proxy-podman");
        var podman = new Podman(storage, log, mirror);
        var imageId = await podman.PullAsync($"{mirror.Host}/team/app:v1");
        Assert.Equal(Digests.Hex(image.Config.Digest), imageId);

        // Pushing to a registry:2-style mirror is refused, as registry:2 refuses it.
        var refused = await skopeo.TryRunAsync(["copy", "--dest-tls-verify=false", layout.Reference("v1"), $"docker://{mirror.Host}/team/other:v1"]);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("UNSUPPORTED", refused.StandardError + refused.StandardOutput, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task DockerEngine_WithRegistryMirrors_PullsDockerHubImagesFromBerth()
    {
        await PushToUpstreamAsync("library/berthmirrortest", "3.20");
        await using var mirror = await StartMirrorAsync($"  remoteurl: {_upstream.BaseAddress}\n");
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await using var engine = await DockerEngine.StartAsync(false, cancel.Token,
            "--registry-mirror", mirror.BaseAddress.ToString(), "--insecure-registry", mirror.Host);

        // A docker.io name: without the mirror there is nowhere to get it from.
        await engine.RunCheckedAsync(log, TimeSpan.FromMinutes(2), "pull", "berthmirrortest:3.20");

        var images = await engine.RunCheckedAsync(log, TimeSpan.FromSeconds(30), "image", "ls", "--format", "{{.Repository}}:{{.Tag}}");
        Assert.Contains("berthmirrortest:3.20", images.StandardOutput, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(mirror.RootDirectory, "docker/registry/v2/repositories/library/berthmirrortest")),
            "Berth cached the image under the name Docker Hub gives it");
    }

    [Fact]
    public async Task Containerd_WithAHostsTomlMirror_PullsThroughBerthWithNs()
    {
        var (_, image) = await PushToUpstreamAsync("library/berthctrtest", "1");
        // Berth mirrors the upstream under hub/ and as docker.io, beside its own repositories.
        await using var mirror = await StartMirrorAsync($"  upstreams:\n    - prefix: hub\n      remoteurl: {_upstream.BaseAddress}\n      hosts: [docker.io]\n");
        var hostsDirectory = _temp.CreateSubdirectory("certs.d");
        var dockerHosts = Directory.CreateDirectory(Path.Combine(hostsDirectory, "docker.io")).FullName;
        await File.WriteAllTextAsync(Path.Combine(dockerHosts, "hosts.toml"), $"""
            server = "https://registry-1.docker.io"

            [host."{mirror.BaseAddress.ToString().TrimEnd('/')}"]
              capabilities = ["pull", "resolve"]
              skip_verify = true
            """);

        await using var containerd = await Containerd.StartAsync(_temp.CreateSubdirectory("containerd"), log);
        await containerd.CtrAsync("images", "pull", "--plain-http", "--hosts-dir", hostsDirectory, "--snapshotter", "native",
            "docker.io/library/berthctrtest:1");

        var listed = await containerd.CtrAsync("images", "ls", "-q");
        Assert.Contains("docker.io/library/berthctrtest:1", listed.StandardOutput, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(mirror.RootDirectory, "docker/registry/v2/repositories/hub/library/berthctrtest/_manifests/revisions/sha256",
            Digests.Hex(image.Manifest.Digest), "link")), "the ns=docker.io request was cached under hub/");
    }

    private async Task<(OciLayoutWriter Layout, OciImage Image)> PushToUpstreamAsync(string repository, string tag)
    {
        var layout = new OciLayoutWriter(_temp.CreateSubdirectory($"layout-{Guid.NewGuid():N}"));
        var image = layout.AddImage(LinuxAmd64, 64 * 1024, 512 * 1024);
        layout.Tag(tag, image.Manifest);
        await new Skopeo(log, _upstream).CopyAsync(layout.Reference(tag), $"docker://{_upstream.Host}/{repository}:{tag}");
        return (layout, image);
    }

    private Task<RegistryProcess> StartMirrorAsync(string proxyYaml)
    {
        var root = _temp.CreateSubdirectory($"mirror-{Guid.NewGuid():N}");
        return RegistryProcess.StartAsync(RegistryKind.Berth, "berth-mirror", root, port => $"""
            version: 0.1
            log:
              level: info
            storage:
              filesystem:
                rootdirectory: {root}
            http:
              addr: 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}
              secret: berth-end-to-end-mirror
            proxy:
            {proxyYaml}
            """);
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        _temp.Dispose();
    }

    /// <summary>A private containerd daemon (its own root, state and socket), driven with ctr.</summary>
    private sealed class Containerd : IAsyncDisposable
    {
        private readonly Process _daemon;
        private readonly string _socket;
        private readonly ITestOutputHelper _log;

        private Containerd(Process daemon, string socket, ITestOutputHelper log)
        {
            _daemon = daemon;
            _socket = socket;
            _log = log;
        }

        public static async Task<Containerd> StartAsync(string directory, ITestOutputHelper log)
        {
            var socket = Path.Combine(directory, "containerd.sock");
            var config = Path.Combine(directory, "config.toml");
            await File.WriteAllTextAsync(config, $"""
                version = 2
                root = "{Path.Combine(directory, "root")}"
                state = "{Path.Combine(directory, "state")}"
                disabled_plugins = ["io.containerd.grpc.v1.cri"]

                [grpc]
                  address = "{socket}"
                """);
            var start = new ProcessStartInfo(ExternalCommand.ResolveExecutable("containerd"), ["--config", config])
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            var daemon = Process.Start(start) ?? throw new InvalidOperationException("containerd did not start");
            daemon.OutputDataReceived += (_, _) => { };
            daemon.ErrorDataReceived += (_, _) => { };
            daemon.BeginOutputReadLine();
            daemon.BeginErrorReadLine();
            var containerd = new Containerd(daemon, socket, log);
            var deadline = Stopwatch.StartNew();
            while ((await containerd.TryCtrAsync("version")).ExitCode != 0)
            {
                if (deadline.Elapsed > TimeSpan.FromSeconds(30) || daemon.HasExited)
                {
                    await containerd.DisposeAsync();
                    throw new InvalidOperationException("containerd did not answer within 30 s");
                }

                await Task.Delay(200);
            }

            return containerd;
        }

        public Task<CommandResult> CtrAsync(params string[] arguments) =>
            ExternalCommand.RunCheckedAsync("ctr", ["--address", _socket, .. arguments], _log, new CommandOptions { Timeout = TimeSpan.FromMinutes(2) });

        private Task<CommandResult> TryCtrAsync(params string[] arguments) =>
            ExternalCommand.RunAsync("ctr", ["--address", _socket, .. arguments], null, new CommandOptions { Timeout = TimeSpan.FromSeconds(10) });

        public async ValueTask DisposeAsync()
        {
            if (!_daemon.HasExited)
            {
                _daemon.Kill(entireProcessTree: true);
                await _daemon.WaitForExitAsync();
            }

            _daemon.Dispose();
        }
    }
}
