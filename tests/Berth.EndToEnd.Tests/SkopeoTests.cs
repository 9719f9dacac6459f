using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>skopeo against Berth: the implementation under test.</summary>
public sealed class SkopeoAgainstBerthTests(BerthFixture fixture, ITestOutputHelper log)
    : SkopeoTests(fixture, log), IClassFixture<BerthFixture>;

/// <summary>The same tests against Distribution 2.8.2, which proves the tests themselves right.</summary>
public sealed class SkopeoAgainstDistributionTests(DistributionFixture fixture, ITestOutputHelper log)
    : SkopeoTests(fixture, log), IClassFixture<DistributionFixture>;

/// <summary>
/// skopeo 1.9 pushes, pulls, inspects, lists and deletes images built by hand as OCI layouts, and everything that
/// comes back is compared byte for byte with what went in.
/// </summary>
public abstract class SkopeoTests : IDisposable
{
    private const int SmallLayer = 64 * 1024;
    private const int LargeLayer = 3 * 1024 * 1024;
    private const int HugeLayer = 40 * 1024 * 1024;
    private static readonly OciPlatform LinuxAmd64 = new("linux", "amd64");

    private readonly RegistryProcess _registry;
    private readonly RegistryApiClient _api;
    private readonly Skopeo _skopeo;
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("skopeo");

    protected SkopeoTests(IRegistryFixture fixture, ITestOutputHelper log)
    {
        _registry = fixture.Registry;
        _api = new RegistryApiClient(_registry);
        _skopeo = new Skopeo(log, _registry);
    }

    [Fact]
    public async Task Copy_OciLayoutToRegistryAndBack_ManifestAndBlobsAreBitExact()
    {
        var layout = NewLayout();
        var image = layout.AddImage(LinuxAmd64, SmallLayer, LargeLayer, 16);
        layout.Tag("v1", image.Manifest);
        var repository = UniqueRepository("skopeo/roundtrip");

        await _skopeo.CopyAsync(layout.Reference("v1"), Remote(repository, "v1"));

        await ImageAssert.RegistryServesLayoutImageAsync(_api, repository, "v1", layout, image);
        await ImageAssert.RegistryServesLayoutImageAsync(_api, repository, image.Manifest.Digest, layout, image);
        var pulled = _temp.Combine("pulled");
        await _skopeo.CopyAsync(Remote(repository, "v1"), $"oci:{pulled}:v1");
        ImageAssert.LayoutsHaveSameBlobs(layout.Directory, pulled);
    }

    [Fact]
    public async Task Copy_LayerLargerThanKestrelDefaultBodyLimit_RoundTripsBitExact()
    {
        // 40 MiB of random bytes stays about 40 MiB gzipped: one request body over Kestrel's 30,000,000-byte default.
        var layout = NewLayout();
        var image = layout.AddImage(LinuxAmd64, HugeLayer);
        layout.Tag("big", image.Manifest);
        var repository = UniqueRepository("skopeo/large");

        await _skopeo.CopyAsync(layout.Reference("big"), Remote(repository, "big"));

        Assert.True(image.Layers[0].Size > 30_000_000, $"The layer is only {image.Layers[0].Size} bytes.");
        await ImageAssert.RegistryServesLayoutImageAsync(_api, repository, "big", layout, image);
        var pulled = _temp.Combine("pulled");
        await _skopeo.CopyAsync(Remote(repository, "big"), $"oci:{pulled}:big");
        ImageAssert.LayoutsHaveSameBlobs(layout.Directory, pulled);
    }

    [Fact]
    public async Task Inspect_PushedImage_ReportsDigestLayersPlatformRawManifestAndConfig()
    {
        var layout = NewLayout();
        var image = layout.AddImage(LinuxAmd64, SmallLayer, SmallLayer);
        layout.Tag("v1", image.Manifest);
        var repository = UniqueRepository("skopeo/inspect");
        await _skopeo.CopyAsync(layout.Reference("v1"), Remote(repository, "v1"));

        foreach (var reference in new[] { Remote(repository, "v1"), RemoteByDigest(repository, image.Manifest.Digest) })
        {
            var inspected = JsonNode.Parse(await _skopeo.InspectAsync(reference))!;
            Assert.Equal(image.Manifest.Digest, (string?)inspected["Digest"]);
            Assert.Equal(image.Layers.Select(l => l.Digest), Strings(inspected["Layers"]));
            Assert.Equal("linux", (string?)inspected["Os"]);
            Assert.Equal("amd64", (string?)inspected["Architecture"]);
            Assert.Contains("v1", Strings(inspected["RepoTags"]));

            var rawManifest = await _skopeo.InspectAsync(reference, "--raw");
            Assert.Equal(Encoding.UTF8.GetString(layout.ReadBlob(image.Manifest.Digest)), rawManifest.TrimEnd('\n'));
            var rawConfig = await _skopeo.InspectAsync(reference, "--config", "--raw");
            Assert.Equal(Encoding.UTF8.GetString(layout.ReadBlob(image.Config.Digest)), rawConfig.TrimEnd('\n'));
        }
    }

    [Fact]
    public async Task ListTags_SeveralTagsOnTwoImages_ListsEveryTag()
    {
        var layout = NewLayout();
        var first = layout.AddImage(LinuxAmd64, SmallLayer);
        var second = layout.AddImage(LinuxAmd64, SmallLayer);
        layout.Tag("first", first.Manifest);
        layout.Tag("second", second.Manifest);
        var repository = UniqueRepository("skopeo/tags");
        string[] firstTags = ["1.0", "1.0.1", "latest", "Release_Candidate-2"];
        foreach (var tag in firstTags)
        {
            await _skopeo.CopyAsync(layout.Reference("first"), Remote(repository, tag));
        }

        await _skopeo.CopyAsync(layout.Reference("second"), Remote(repository, "second"));

        string[] expected = [.. firstTags.Append("second").Order(StringComparer.Ordinal)];
        Assert.Equal(expected, (await _skopeo.ListTagsAsync($"docker://{_registry.Host}/{repository}")).Order(StringComparer.Ordinal));
        Assert.Equal(expected, (await _api.ListTagsAsync(repository)).Order(StringComparer.Ordinal));
        Assert.Equal(first.Manifest.Digest, (await _api.GetManifestAsync(repository, "Release_Candidate-2")).DigestHeader);
        Assert.Equal(second.Manifest.Digest, (await _api.GetManifestAsync(repository, "second")).DigestHeader);
    }

    [Fact]
    public async Task Delete_TaggedImage_ManifestAndItsTagsAreGoneOtherImageStays()
    {
        var layout = NewLayout();
        var doomed = layout.AddImage(LinuxAmd64, SmallLayer);
        var kept = layout.AddImage(LinuxAmd64, SmallLayer);
        layout.Tag("doomed", doomed.Manifest);
        layout.Tag("kept", kept.Manifest);
        var repository = UniqueRepository("skopeo/delete");
        await _skopeo.CopyAsync(layout.Reference("doomed"), Remote(repository, "doomed"));
        await _skopeo.CopyAsync(layout.Reference("doomed"), Remote(repository, "doomed-alias"));
        await _skopeo.CopyAsync(layout.Reference("kept"), Remote(repository, "kept"));

        // skopeo resolves the tag and deletes the manifest by digest, as registry:2 requires.
        await _skopeo.DeleteAsync(Remote(repository, "doomed"));

        Assert.Equal(HttpStatusCode.NotFound, await _api.GetManifestStatusAsync(repository, doomed.Manifest.Digest));
        // registry:2 removes every tag that pointed at a deleted manifest.
        Assert.Equal(HttpStatusCode.NotFound, await _api.GetManifestStatusAsync(repository, "doomed"));
        Assert.Equal(HttpStatusCode.NotFound, await _api.GetManifestStatusAsync(repository, "doomed-alias"));
        Assert.Equal(["kept"], await _api.ListTagsAsync(repository));
        var inspectDeleted = await _skopeo.TryRunAsync(["inspect", "--tls-verify=false", "--raw", Remote(repository, "doomed")]);
        Assert.True(inspectDeleted.ExitCode != 0, $"skopeo inspect of a deleted tag succeeded: {inspectDeleted.StandardOutput}");
        await ImageAssert.RegistryServesLayoutImageAsync(_api, repository, "kept", layout, kept);
    }

    [Fact]
    public async Task CopyAll_MultiArchIndex_IndexEveryManifestAndBlobAreBitExact()
    {
        var layout = NewLayout();
        var amd64 = layout.AddImage(LinuxAmd64, SmallLayer, LargeLayer);
        var arm64 = layout.AddImage(new OciPlatform("linux", "arm64", "v8"), SmallLayer, SmallLayer);
        var armV7 = layout.AddImage(new OciPlatform("linux", "arm", "v7"), SmallLayer);
        var index = layout.AddIndex([amd64, arm64, armV7]);
        layout.Tag("multi", index);
        var repository = UniqueRepository("skopeo/multiarch");

        await _skopeo.CopyAsync(layout.Reference("multi"), Remote(repository, "multi"), "--all");

        var servedIndex = await _api.GetManifestAsync(repository, "multi");
        Assert.True(servedIndex.Content.AsSpan().SequenceEqual(layout.ReadBlob(index.Digest)), "The index served is not the pushed one byte for byte.");
        Assert.Equal(index.Digest, servedIndex.DigestHeader);
        Assert.Equal(MediaTypes.OciIndex, servedIndex.ContentType);
        foreach (var image in new[] { amd64, arm64, armV7 })
        {
            await ImageAssert.RegistryServesLayoutImageAsync(_api, repository, image.Manifest.Digest, layout, image);
        }

        var pulled = _temp.Combine("pulled");
        await _skopeo.CopyAsync(Remote(repository, "multi"), $"oci:{pulled}:multi", "--all");
        ImageAssert.LayoutsHaveSameBlobs(layout.Directory, pulled);

        // Without --all, skopeo picks the platform's manifest out of the index the registry serves.
        var armOnly = _temp.Combine("arm64-only");
        await _skopeo.CopyAsync(Remote(repository, "multi"), $"dir:{armOnly}", "--override-arch", "arm64", "--override-variant", "v8");
        var armManifest = await File.ReadAllBytesAsync(Path.Combine(armOnly, "manifest.json"));
        Assert.True(armManifest.AsSpan().SequenceEqual(layout.ReadBlob(arm64.Manifest.Digest)),
            "Pulling linux/arm64 out of the index did not give the arm64 manifest.");
    }

    [Fact]
    public async Task Copy_BetweenRepositoriesOfOneRegistry_MountsLayersInsteadOfUploading()
    {
        var layout = NewLayout();
        var image = layout.AddImage(LinuxAmd64, SmallLayer, LargeLayer);
        layout.Tag("v1", image.Manifest);
        var source = UniqueRepository("skopeo/mount-source");
        var target = UniqueRepository("skopeo/mount-target");
        await _skopeo.CopyAsync(layout.Reference("v1"), Remote(source, "v1"));

        // skopeo remembers (in its blob info cache) that the layers live in the source repository and asks the
        // registry to mount them: POST /v2/TARGET/blobs/uploads/?mount=DIGEST&from=SOURCE answered 201. Which layers
        // it asks for is the client's choice: its cache is one file shared by every skopeo on the machine, and in a
        // full parallel run it has once lacked a layer's location (skopeo then uploaded that layer, as it may). What
        // the registry owes is that every mount asked for is granted.
        var copy = await _skopeo.CopyAsync(Remote(source, "v1"), Remote(target, "v1"), "--debug");
        var lines = copy.StandardError.Split('\n');
        var attempted = lines.Count(line => line.Contains("Trying to mount", StringComparison.Ordinal));
        var mounted = lines.Count(line => line.Contains("mount OK", StringComparison.Ordinal));
        Assert.True(attempted >= 1 && mounted == attempted,
            $"skopeo asked to mount {attempted} of {image.Layers.Count} layers from {source} into {target}, and {mounted} were mounted.\n{copy.DescribeOutput()}");
        await ImageAssert.RegistryServesLayoutImageAsync(_api, target, "v1", layout, image);

        // The protocol itself, for every layer: a mount answers 201 Created with the blob's location and digest.
        var third = UniqueRepository("skopeo/mount-direct");
        foreach (var layer in image.Layers.Select(layer => layer.Digest))
        {
            using var mountRequest = new HttpRequestMessage(HttpMethod.Post, new Uri($"v2/{third}/blobs/uploads/?mount={layer}&from={source}", UriKind.Relative));
            using var mountResponse = await _api.SendAsync(mountRequest);
            await _api.EnsureStatusAsync(mountResponse, HttpStatusCode.Created);
            Assert.Equal(layer, RegistryApiClient.DigestHeader(mountResponse));
            Assert.NotNull(mountResponse.Headers.Location);
            var mountedBlob = await _api.GetBlobAsync(third, layer);
            Assert.True(layout.ReadBlob(layer).AsSpan().SequenceEqual(mountedBlob), "The mounted blob differs.");
        }
    }

    [Fact]
    public async Task Copy_FormatV2s2_RegistryServesDockerSchema2WithTheSameBlobs()
    {
        var layout = NewLayout();
        var image = layout.AddImage(LinuxAmd64, SmallLayer, LargeLayer);
        layout.Tag("v1", image.Manifest);
        var repository = UniqueRepository("skopeo/schema2");

        await _skopeo.CopyAsync(layout.Reference("v1"), Remote(repository, "v1"), "--format", "v2s2");

        var manifest = await _api.GetManifestAsync(repository, "v1");
        Assert.Equal(MediaTypes.DockerManifest, manifest.ContentType);
        Assert.Equal(MediaTypes.DockerManifest, manifest.Document.MediaType);
        Assert.Equal(manifest.ComputedDigest, manifest.DigestHeader);
        // Converting the manifest keeps the config and the compressed layers as they are; only media types change.
        Assert.Equal(image.Config.Digest, manifest.Document.Config?.Digest);
        Assert.Equal(MediaTypes.DockerConfig, manifest.Document.Config?.MediaType);
        Assert.Equal(image.Layers.Select(l => l.Digest), manifest.Document.Layers.Select(l => l.Digest));
        Assert.All(manifest.Document.Layers, layer => Assert.Equal(MediaTypes.DockerLayerGzip, layer.MediaType));
        await ImageAssert.LayersMatchConfigDiffIdsAsync(_api, repository, manifest);
        var byDigest = await _api.GetManifestAsync(repository, manifest.ComputedDigest);
        Assert.True(byDigest.Content.AsSpan().SequenceEqual(manifest.Content), "The manifest by digest differs from the manifest by tag.");

        var pulled = _temp.Combine("pulled");
        await _skopeo.CopyAsync(Remote(repository, "v1"), $"dir:{pulled}");
        await ImageAssert.DirCopyMatchesRegistryAsync(pulled, _api, repository, manifest);
    }

    [Fact]
    public async Task Copy_DockerArchiveToRegistryAndBack_LayerContentIsPreserved()
    {
        var layout = NewLayout();
        var image = layout.AddImage(LinuxAmd64, SmallLayer, LargeLayer);
        layout.Tag("v1", image.Manifest);
        var archive = _temp.Combine("image.tar");
        await _skopeo.CopyAsync(layout.Reference("v1"), $"docker-archive:{archive}:e2e/archive:v1");
        var repository = UniqueRepository("skopeo/archive");

        // A docker-archive holds uncompressed layers; skopeo compresses them on the way to the registry.
        await _skopeo.CopyAsync($"docker-archive:{archive}", Remote(repository, "v1"));

        var manifest = await _api.GetManifestAsync(repository, "v1");
        Assert.Equal(MediaTypes.DockerManifest, manifest.ContentType);
        Assert.Equal(manifest.ComputedDigest, manifest.DigestHeader);
        await ImageAssert.LayersMatchConfigDiffIdsAsync(_api, repository, manifest);
        var config = JsonNode.Parse(await _api.GetBlobAsync(repository, manifest.Document.Config!.Digest))!;
        Assert.Equal(image.DiffIds, Strings(config["rootfs"]?["diff_ids"]));

        var pulled = _temp.Combine("pulled");
        await _skopeo.CopyAsync(Remote(repository, "v1"), $"dir:{pulled}");
        await ImageAssert.DirCopyMatchesRegistryAsync(pulled, _api, repository, manifest);
        var archiveBack = _temp.Combine("back.tar");
        await _skopeo.CopyAsync(Remote(repository, "v1"), $"docker-archive:{archiveBack}:e2e/back:v1");
        var backInspected = JsonNode.Parse(await _skopeo.InspectAsync($"docker-archive:{archiveBack}", "--config", "--raw"))!;
        Assert.Equal(image.DiffIds, Strings(backInspected["rootfs"]?["diff_ids"]));
    }

    public void Dispose()
    {
        _api.Dispose();
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private OciLayoutWriter NewLayout() => new(_temp.CreateSubdirectory($"layout-{Guid.NewGuid():N}"));

    private string Remote(string repository, string tag) => $"docker://{_registry.Host}/{repository}:{tag}";

    private string RemoteByDigest(string repository, string digest) => $"docker://{_registry.Host}/{repository}@{digest}";

    /// <summary>Tests share the class's registry; a repository of their own keeps them independent.</summary>
    private static string UniqueRepository(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";

    private static List<string> Strings(JsonNode? array) =>
        array is JsonArray items ? [.. items.Select(item => (string?)item ?? "")] : [];
}
