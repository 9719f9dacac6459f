using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

public sealed class PodmanManifestListAgainstBerthTests(BerthFixture fixture, ITestOutputHelper log)
    : PodmanManifestListTests(fixture, log), IClassFixture<BerthFixture>;

public sealed class PodmanManifestListAgainstDistributionTests(DistributionFixture fixture, ITestOutputHelper log)
    : PodmanManifestListTests(fixture, log), IClassFixture<DistributionFixture>;

/// <summary>
/// podman's own multi-platform images: <c>podman manifest create</c>, <c>add</c> of two buildah scratch images for
/// linux/amd64 and linux/arm64, <c>podman manifest push --all</c>; skopeo then reads the index raw and copies every
/// platform back out.
/// </summary>
public abstract class PodmanManifestListTests : IDisposable
{
    private readonly RegistryProcess _registry;
    private readonly RegistryApiClient _api;
    private readonly ITestOutputHelper _log;
    private readonly Skopeo _skopeo;
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("podman-list");
    private readonly ContainerStorage _storage = new("podman-list");

    protected PodmanManifestListTests(IRegistryFixture fixture, ITestOutputHelper log)
    {
        _registry = fixture.Registry;
        _api = new RegistryApiClient(_registry);
        _log = log;
        _skopeo = new Skopeo(log, _registry);
    }

    [Theory]
    [InlineData("oci", MediaTypes.OciIndex, MediaTypes.OciManifest)]
    [InlineData("v2s2", MediaTypes.DockerManifestList, MediaTypes.DockerManifest)]
    public async Task ManifestPushAll_TwoPlatforms_SkopeoSeesTheIndexAndCopiesEveryPlatformBack(string format, string indexType, string manifestType)
    {
        var buildah = new Buildah(_storage, _log, _registry);
        var podman = new Podman(_storage, _log, _registry);
        var amd64 = await BuildScratchImageAsync(buildah, "amd64");
        var arm64 = await BuildScratchImageAsync(buildah, "arm64");
        var list = $"localhost/e2e/list-{Guid.NewGuid().ToString("N")[..8]}:1";
        await podman.RunAsync("manifest", "create", list);
        await podman.RunAsync("manifest", "add", "--os", "linux", "--arch", "amd64", list, $"containers-storage:{amd64}");
        await podman.RunAsync("manifest", "add", "--os", "linux", "--arch", "arm64", "--variant", "v8", list, $"containers-storage:{arm64}");
        var repository = UniqueRepository($"podman/list-{format}");

        // `manifest push` has no --signature-policy; it reads the system policy (Debian's containers-common accepts anything).
        var digestFile = _storage.Scratch("list.digest");
        await podman.RunAsync("manifest", "push", "--all", "--tls-verify=false", "--format", format, "--digestfile", digestFile,
            list, $"docker://{_registry.Host}/{repository}:1");
        var pushedDigest = (await File.ReadAllTextAsync(digestFile)).Trim();

        var raw = await _skopeo.InspectAsync($"docker://{_registry.Host}/{repository}:1", "--raw");
        var index = JsonNode.Parse(raw)!;
        Assert.Equal(indexType, (string?)index["mediaType"]);
        var entries = (index["manifests"] as JsonArray ?? []).Select(entry => entry!).ToList();
        Assert.Equal(2, entries.Count);
        Assert.Equal(["linux/amd64", "linux/arm64/v8"],
            entries.Select(entry => $"{entry["platform"]?["os"]}/{entry["platform"]?["architecture"]}{(entry["platform"]?["variant"] is { } variant ? "/" + variant : "")}").Order(StringComparer.Ordinal));

        var served = await _api.GetManifestAsync(repository, "1");
        Assert.Equal(indexType, served.ContentType);
        Assert.Equal(pushedDigest, served.ComputedDigest);
        Assert.Equal(raw.TrimEnd('\n'), System.Text.Encoding.UTF8.GetString(served.Content));
        foreach (var entry in entries)
        {
            var child = await _api.GetManifestAsync(repository, (string)entry["digest"]!);
            Assert.Equal(manifestType, child.ContentType);
            Assert.Equal((string?)entry["digest"], child.ComputedDigest);
            Assert.Equal((long?)entry["size"], child.Content.LongLength);
            await ImageAssert.LayersMatchConfigDiffIdsAsync(_api, repository, child);
            var config = JsonNode.Parse(await _api.GetBlobAsync(repository, child.Document.Config!.Digest))!;
            Assert.Equal((string?)entry["platform"]?["architecture"], (string?)config["architecture"]);
        }

        // Every platform comes back out, with the index and manifests as the registry holds them.
        var copied = _temp.Combine("copied");
        await _skopeo.CopyAsync($"docker://{_registry.Host}/{repository}:1", $"dir:{copied}", "--all");
        var copiedIndex = await File.ReadAllBytesAsync(Path.Combine(copied, "manifest.json"));
        Assert.True(served.Content.AsSpan().SequenceEqual(copiedIndex), "skopeo copy --all rewrote the index.");
        foreach (var entry in entries)
        {
            var digest = (string)entry["digest"]!;
            var childManifest = await File.ReadAllBytesAsync(Path.Combine(copied, $"{Digests.Hex(digest)}.manifest.json"));
            Assert.Equal(digest, Digests.Sha256(childManifest));
            foreach (var blob in ManifestDocument.Parse(childManifest).Blobs)
            {
                Assert.Equal(blob.Digest, Digests.Sha256(await File.ReadAllBytesAsync(Path.Combine(copied, Digests.Hex(blob.Digest)))));
            }
        }
    }

    public void Dispose()
    {
        _api.Dispose();
        _temp.Dispose();
        _storage.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A scratch image whose config says linux/<paramref name="architecture"/>, with a layer of its own random bytes.</summary>
    private async Task<string> BuildScratchImageAsync(Buildah buildah, string architecture)
    {
        var content = _temp.CreateSubdirectory($"content-{architecture}");
        await File.WriteAllTextAsync(Path.Combine(content, "platform.txt"), $"linux/{architecture}\n");
        await File.WriteAllBytesAsync(Path.Combine(content, "random.bin"), RandomNumberGenerator.GetBytes(256 * 1024));
        var container = (await buildah.RunAsync("from", "scratch")).StandardOutput.Trim();
        await buildah.RunAsync("copy", container, content, "/data/");
        await buildah.RunAsync("config", "--os", "linux", "--arch", architecture, container);
        var image = $"localhost/e2e/list-{architecture}:{Guid.NewGuid().ToString("N")[..8]}";
        await buildah.RunAsync("commit", "--format", "oci", container, image);
        return image;
    }

    private static string UniqueRepository(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";
}
