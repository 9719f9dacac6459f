using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

public sealed class ZstdLayerAgainstBerthTests(BerthFixture fixture, ITestOutputHelper log)
    : ZstdLayerTests(fixture, log), IClassFixture<BerthFixture>;

public sealed class ZstdLayerAgainstDistributionTests(DistributionFixture fixture, ITestOutputHelper log)
    : ZstdLayerTests(fixture, log), IClassFixture<DistributionFixture>;

/// <summary>
/// zstd-compressed layers (<c>application/vnd.oci.image.layer.v1.tar+zstd</c>) made by the clients themselves: podman
/// compresses a freshly built image on push, skopeo recompresses a gzip image on copy. The registry stores and serves
/// the zstd blobs untouched, and the image content comes back out through skopeo and podman.
/// </summary>
public abstract class ZstdLayerTests : IDisposable
{
    private const string OciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
    private const int RandomFileSize = 512 * 1024;

    // Every zstd frame starts with these four bytes (RFC 8878, section 3.1.1).
    private static readonly byte[] ZstdMagic = [0x28, 0xB5, 0x2F, 0xFD];

    private readonly RegistryProcess _registry;
    private readonly RegistryApiClient _api;
    private readonly ITestOutputHelper _log;
    private readonly Skopeo _skopeo;
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("zstd");
    private readonly ContainerStorage _buildStorage = new("zstd-build");
    private readonly ContainerStorage _pullStorage = new("zstd-pull");

    protected ZstdLayerTests(IRegistryFixture fixture, ITestOutputHelper log)
    {
        _registry = fixture.Registry;
        _api = new RegistryApiClient(_registry);
        _log = log;
        _skopeo = new Skopeo(log, _registry);
    }

    [Fact]
    public async Task PodmanPush_CompressionFormatZstd_ManifestNamesZstdLayersAndSkopeoAndPodmanPullTheContent()
    {
        var randomContent = RandomNumberGenerator.GetBytes(RandomFileSize);
        var buildah = new Buildah(_buildStorage, _log, _registry);
        var localImage = await BuildScratchImageAsync(buildah, randomContent);
        var repository = UniqueRepository("zstd/podman");
        var podman = new Podman(_buildStorage, _log, _registry);

        // The layer was never pushed anywhere, so podman cannot reuse a gzip blob and must compress it with zstd.
        var digestFile = _buildStorage.Scratch("push.digest");
        await podman.RunAsync("push", "--tls-verify=false", "--signature-policy", _buildStorage.PolicyPath, "--format", "oci",
            "--compression-format", "zstd", "--digestfile", digestFile, localImage, $"docker://{_registry.Host}/{repository}:1");
        var pushedDigest = (await File.ReadAllTextAsync(digestFile)).Trim();

        var manifest = await AssertServesZstdImageAsync(repository, "1", pushedDigest);
        await AssertSkopeoPullsContentAsync(repository, manifest, randomContent);

        var pullingPodman = new Podman(_pullStorage, _log, _registry);
        var imageId = await pullingPodman.PullAsync($"{_registry.Host}/{repository}:1");
        // podman names an image by its config digest, which lists the uncompressed layers' digests.
        Assert.Equal(Digests.Hex(manifest.Document.Config!.Digest), imageId);
    }

    [Fact]
    public async Task SkopeoCopy_DestCompressFormatZstd_RecompressesGzipLayersToZstdAndBackOut()
    {
        var layout = new OciLayoutWriter(_temp.CreateSubdirectory("layout"));
        var image = layout.AddImage(new OciPlatform("linux", "amd64"), 64 * 1024, RandomFileSize);
        layout.Tag("v1", image.Manifest);
        var repository = UniqueRepository("zstd/skopeo");

        await _skopeo.CopyAsync(layout.Reference("v1"), $"docker://{_registry.Host}/{repository}:v1", "--dest-compress-format", "zstd");

        var manifest = await AssertServesZstdImageAsync(repository, "v1", expectedDigest: null);
        // Recompression changes the layer blobs but not what they hold: the config and its diff_ids are the original ones.
        Assert.Equal(image.Config.Digest, manifest.Document.Config?.Digest);
        Assert.DoesNotContain(manifest.Document.Layers, layer => image.Layers.Any(original => original.Digest == layer.Digest));

        var tars = await DecompressedLayersThroughSkopeoAsync(repository, "v1", manifest);
        Assert.Equal(image.DiffIds, tars.Select(tar => Digests.Sha256(tar)));

        // Copied back out as gzip, the layers decompress to the same diff_ids again.
        var back = _temp.Combine("back");
        await _skopeo.CopyAsync($"docker://{_registry.Host}/{repository}:v1", $"oci:{back}:v1", "--dest-compress-format", "gzip");
        var backManifest = ManifestDocument.Parse(await File.ReadAllBytesAsync(BlobPath(back, ReadLayoutManifestDigest(back))));
        Assert.Equal(image.DiffIds, backManifest.Layers.Select(layer => Digests.Sha256(Digests.Gunzip(File.ReadAllBytes(BlobPath(back, layer.Digest))))));
    }

    public void Dispose()
    {
        _api.Dispose();
        _temp.Dispose();
        _buildStorage.Dispose();
        _pullStorage.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>The manifest lists only zstd layers, and every layer blob the registry serves is a zstd frame hashing to its digest.</summary>
    private async Task<FetchedManifest> AssertServesZstdImageAsync(string repository, string tag, string? expectedDigest)
    {
        var manifest = await _api.GetManifestAsync(repository, tag);
        _log.WriteLine(System.Text.Encoding.UTF8.GetString(manifest.Content));
        Assert.Equal(MediaTypes.OciManifest, manifest.ContentType);
        Assert.Equal(manifest.ComputedDigest, manifest.DigestHeader);
        if (expectedDigest is not null)
        {
            Assert.Equal(expectedDigest, manifest.ComputedDigest);
        }

        Assert.NotEmpty(manifest.Document.Layers);
        foreach (var layer in manifest.Document.Layers)
        {
            Assert.Equal(OciLayerZstd, layer.MediaType);
            // GetBlobAsync already checks the bytes against the digest and Content-Length.
            var blob = await _api.GetBlobAsync(repository, layer.Digest);
            Assert.Equal(layer.Size, blob.LongLength);
            Assert.True(blob.AsSpan().StartsWith(ZstdMagic), $"Layer {layer.Digest} does not start with the zstd magic number.");
        }

        return manifest;
    }

    /// <summary>skopeo pulls and decompresses the zstd layers; they match the config's diff_ids and hold the file that was built in.</summary>
    private async Task AssertSkopeoPullsContentAsync(string repository, FetchedManifest manifest, byte[] expectedFile)
    {
        var tars = await DecompressedLayersThroughSkopeoAsync(repository, "1", manifest);
        var config = JsonNode.Parse(await _api.GetBlobAsync(repository, manifest.Document.Config!.Digest))!;
        var diffIds = (config["rootfs"]?["diff_ids"] as JsonArray ?? []).Select(d => (string?)d).ToList();
        Assert.Equal(diffIds, tars.Select(tar => (string?)Digests.Sha256(tar)));
        var files = tars.SelectMany(ReadTarFiles).ToDictionary(file => file.Name.TrimStart('.', '/'), file => file.Content);
        Assert.True(files.TryGetValue("data/random.bin", out var pulled), $"The layers hold [{string.Join(", ", files.Keys)}], not data/random.bin.");
        Assert.True(pulled.AsSpan().SequenceEqual(expectedFile), "data/random.bin came back different.");
    }

    /// <summary>The layers as uncompressed tars, through <c>skopeo copy --dest-decompress</c> into a <c>dir:</c>.</summary>
    private async Task<IReadOnlyList<byte[]>> DecompressedLayersThroughSkopeoAsync(string repository, string tag, FetchedManifest manifest)
    {
        var directory = _temp.Combine($"decompressed-{Guid.NewGuid():N}");
        await _skopeo.CopyAsync($"docker://{_registry.Host}/{repository}:{tag}", $"dir:{directory}", "--dest-decompress");
        var written = ManifestDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(directory, "manifest.json")));
        Assert.Equal(manifest.Document.Layers.Count, written.Layers.Count);
        return [.. written.Layers.Select(layer => File.ReadAllBytes(Path.Combine(directory, Digests.Hex(layer.Digest))))];
    }

    private static IEnumerable<(string Name, byte[] Content)> ReadTarFiles(byte[] tar)
    {
        using var reader = new TarReader(new MemoryStream(tar));
        var files = new List<(string, byte[])>();
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.DataStream is { } data)
            {
                using var content = new MemoryStream();
                data.CopyTo(content);
                files.Add((entry.Name, content.ToArray()));
            }
        }

        return files;
    }

    private static string ReadLayoutManifestDigest(string layout)
    {
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))!;
        return (string?)index["manifests"]?[0]?["digest"] ?? throw new FormatException($"{layout}/index.json names no manifest.");
    }

    private static string BlobPath(string layout, string digest) => Path.Combine(layout, "blobs", "sha256", Digests.Hex(digest));

    /// <summary>buildah from scratch with one file of <paramref name="randomContent"/>; returns the local image name.</summary>
    private async Task<string> BuildScratchImageAsync(Buildah buildah, byte[] randomContent)
    {
        var content = _temp.CreateSubdirectory($"content-{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(Path.Combine(content, "random.bin"), randomContent);
        var container = (await buildah.RunAsync("from", "scratch")).StandardOutput.Trim();
        await buildah.RunAsync("copy", container, content, "/data/");
        await buildah.RunAsync("config", "--os", "linux", "--arch", "amd64", container);
        var image = $"localhost/e2e/zstd:{Guid.NewGuid().ToString("N")[..8]}";
        await buildah.RunAsync("commit", "--format", "oci", container, image);
        return image;
    }

    private static string UniqueRepository(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";
}
