using System.Security.Cryptography;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

public sealed class BuildahPodmanAgainstBerthTests(BerthFixture fixture, ITestOutputHelper log)
    : BuildahPodmanTests(fixture, log), IClassFixture<BerthFixture>;

public sealed class BuildahPodmanAgainstDistributionTests(DistributionFixture fixture, ITestOutputHelper log)
    : BuildahPodmanTests(fixture, log), IClassFixture<DistributionFixture>;

/// <summary>
/// buildah 1.28 builds an image from scratch and pushes it; podman 4.3 pulls it by tag and by digest and pushes it on.
/// Both run as root with private vfs storage, no cgroup manager daemon and no journald.
/// </summary>
public abstract class BuildahPodmanTests : IDisposable
{
    private const int RandomFileSize = 2 * 1024 * 1024;

    private readonly RegistryProcess _registry;
    private readonly RegistryApiClient _api;
    private readonly ITestOutputHelper _log;
    private readonly ContainerStorage _buildStorage = new("buildah");
    private readonly ContainerStorage _pullStorage = new("podman");

    protected BuildahPodmanTests(IRegistryFixture fixture, ITestOutputHelper log)
    {
        _registry = fixture.Registry;
        _api = new RegistryApiClient(_registry);
        _log = log;
    }

    [Theory]
    [InlineData("oci", MediaTypes.OciManifest)]
    [InlineData("docker", MediaTypes.DockerManifest)]
    public async Task BuildahPush_ScratchImage_PodmanPullsByTagAndDigestAndPushesOn(string format, string expectedMediaType)
    {
        var buildah = new Buildah(_buildStorage, _log, _registry);
        var localImage = await BuildScratchImageAsync(buildah, format);
        var repository = UniqueRepository($"buildah/{format}");

        var pushedDigest = await buildah.PushAsync(localImage, $"docker://{_registry.Host}/{repository}:1", format);

        var manifest = await _api.GetManifestAsync(repository, "1");
        Assert.Equal(expectedMediaType, manifest.ContentType);
        Assert.Equal(pushedDigest, manifest.DigestHeader);
        Assert.Equal(pushedDigest, manifest.ComputedDigest);
        var byDigest = await _api.GetManifestAsync(repository, pushedDigest);
        Assert.True(byDigest.Content.AsSpan().SequenceEqual(manifest.Content), "The manifest by digest differs from the manifest by tag.");
        var layers = await ImageAssert.LayersMatchConfigDiffIdsAsync(_api, repository, manifest);
        Assert.Contains(layers.SelectMany(Digests.TarEntryNames), name => name.TrimStart('.', '/') == "data/random.bin");

        var podman = new Podman(_pullStorage, _log, _registry);
        var imageIdByTag = await podman.PullAsync($"{_registry.Host}/{repository}:1");
        var imageIdByDigest = await podman.PullAsync($"{_registry.Host}/{repository}@{pushedDigest}");
        // podman names an image by its config digest; both pulls must land on the pushed config.
        Assert.Equal(Digests.Hex(manifest.Document.Config!.Digest), imageIdByTag);
        Assert.Equal(imageIdByTag, imageIdByDigest);
        var recordedDigest = (await podman.RunAsync("image", "inspect", "--format", "{{.Digest}}", $"{_registry.Host}/{repository}:1")).StandardOutput.Trim();
        Assert.Equal(pushedDigest, recordedDigest);

        var onward = UniqueRepository("podman/onward");
        var onwardDigest = await podman.PushAsync($"{_registry.Host}/{repository}:1", $"docker://{_registry.Host}/{onward}:1");
        var onwardManifest = await _api.GetManifestAsync(onward, "1");
        Assert.Equal(onwardDigest, onwardManifest.DigestHeader);
        Assert.Equal(manifest.Document.Config.Digest, onwardManifest.Document.Config?.Digest);
        await ImageAssert.LayersMatchConfigDiffIdsAsync(_api, onward, onwardManifest);
    }

    public void Dispose()
    {
        _api.Dispose();
        _buildStorage.Dispose();
        _pullStorage.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>buildah from scratch + copy + config + commit: an image with one layer holding a text file and random bytes.</summary>
    private static async Task<string> BuildScratchImageAsync(Buildah buildah, string format)
    {
        var content = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"berth-e2e-content-{Guid.NewGuid():N}"));
        try
        {
            await File.WriteAllTextAsync(Path.Combine(content.FullName, "hello.txt"), "hello from a scratch image\n");
            await File.WriteAllBytesAsync(Path.Combine(content.FullName, "random.bin"), RandomNumberGenerator.GetBytes(RandomFileSize));

            var container = (await buildah.RunAsync("from", "scratch")).StandardOutput.Trim();
            await buildah.RunAsync("copy", container, content.FullName, "/data/");
            await buildah.RunAsync("config", "--os", "linux", "--arch", "amd64", "--cmd", "/data/hello.txt", "--label", "org.example.test=berth-e2e", container);
            var image = $"localhost/e2e/scratch-{format}:{Guid.NewGuid().ToString("N")[..8]}";
            await buildah.RunAsync("commit", "--format", format, container, image);
            var platform = (await buildah.RunAsync("inspect", "--type", "image", "--format", "{{.OCIv1.OS}}/{{.OCIv1.Architecture}}", image)).StandardOutput.Trim();
            Assert.Equal("linux/amd64", platform);
            return image;
        }
        finally
        {
            content.Delete(recursive: true);
        }
    }

    private static string UniqueRepository(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";
}
