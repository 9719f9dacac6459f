using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

public sealed class SkopeoSyncAgainstBerthTests(BerthFixture fixture, ITestOutputHelper log)
    : SkopeoSyncTests(fixture, log), IClassFixture<BerthFixture>;

public sealed class SkopeoSyncAgainstDistributionTests(DistributionFixture fixture, ITestOutputHelper log)
    : SkopeoSyncTests(fixture, log), IClassFixture<DistributionFixture>;

/// <summary>
/// <c>skopeo sync</c>, the mirroring command: it lists a repository's tags through the registry and copies each
/// image, from the registry into directories and from directories or another repository into the registry.
/// </summary>
public abstract class SkopeoSyncTests : IDisposable
{
    private static readonly OciPlatform LinuxAmd64 = new("linux", "amd64");

    private readonly RegistryProcess _registry;
    private readonly RegistryApiClient _api;
    private readonly Skopeo _skopeo;
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("skopeo-sync");

    protected SkopeoSyncTests(IRegistryFixture fixture, ITestOutputHelper log)
    {
        _registry = fixture.Registry;
        _api = new RegistryApiClient(_registry);
        _skopeo = new Skopeo(log, _registry);
    }

    [Fact]
    public async Task Sync_RepositoryToDirAndDirBackToRegistry_EveryTagRoundTripsBitExact()
    {
        var layout = new OciLayoutWriter(_temp.CreateSubdirectory("layout"));
        var first = layout.AddImage(LinuxAmd64, 64 * 1024, 1024 * 1024);
        var second = layout.AddImage(LinuxAmd64, 64 * 1024);
        layout.Tag("first", first.Manifest);
        layout.Tag("second", second.Manifest);
        var source = UniqueRepository("sync/source");
        await _skopeo.CopyAsync(layout.Reference("first"), Remote(source, "1.0"));
        await _skopeo.CopyAsync(layout.Reference("first"), Remote(source, "latest"));
        await _skopeo.CopyAsync(layout.Reference("second"), Remote(source, "2.0"));
        var mirror = _temp.CreateSubdirectory("mirror");

        // Without a tag, sync takes every tag the registry lists for the repository.
        await RunSyncAsync("--src", "docker", "--dest", "dir", "--src-tls-verify=false", $"{_registry.Host}/{source}", mirror);

        var repositoryName = source[(source.LastIndexOf('/') + 1)..];
        var expected = new Dictionary<string, OciImage> { ["1.0"] = first, ["latest"] = first, ["2.0"] = second };
        Assert.Equal(expected.Keys.Select(tag => $"{repositoryName}:{tag}").Order(StringComparer.Ordinal),
            Directory.EnumerateDirectories(mirror).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var (tag, image) in expected)
        {
            var tagDirectory = Path.Combine(mirror, $"{repositoryName}:{tag}");
            var mirroredManifest = await File.ReadAllBytesAsync(Path.Combine(tagDirectory, "manifest.json"));
            Assert.True(layout.ReadBlob(image.Manifest.Digest).AsSpan().SequenceEqual(mirroredManifest), $"sync rewrote the manifest of {source}:{tag}.");
            foreach (var blob in image.Layers.Prepend(image.Config))
            {
                var mirroredBlob = await File.ReadAllBytesAsync(Path.Combine(tagDirectory, Digests.Hex(blob.Digest)));
                Assert.True(layout.ReadBlob(blob.Digest).AsSpan().SequenceEqual(mirroredBlob), $"Blob {blob.Digest} of {source}:{tag} differs in the mirror.");
            }
        }

        // And back: every tag directory becomes a tag of a repository under the destination prefix.
        var prefix = UniqueRepository("sync/restored");
        foreach (var tag in expected.Keys)
        {
            await RunSyncAsync("--src", "dir", "--dest", "docker", "--dest-tls-verify=false", Path.Combine(mirror, $"{repositoryName}:{tag}"), $"{_registry.Host}/{prefix}");
        }

        var restored = $"{prefix}/{repositoryName}";
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), (await _api.ListTagsAsync(restored)).Order(StringComparer.Ordinal));
        foreach (var (tag, image) in expected)
        {
            await ImageAssert.RegistryServesLayoutImageAsync(_api, restored, tag, layout, image);
        }
    }

    [Fact]
    public async Task Sync_RegistryToRegistryAll_CopiesAMultiArchIndexUnderTheDestinationPrefix()
    {
        var layout = new OciLayoutWriter(_temp.CreateSubdirectory("layout"));
        var amd64 = layout.AddImage(LinuxAmd64, 64 * 1024);
        var arm64 = layout.AddImage(new OciPlatform("linux", "arm64", "v8"), 64 * 1024);
        var index = layout.AddIndex([amd64, arm64]);
        layout.Tag("multi", index);
        var source = UniqueRepository("sync/multi");
        await _skopeo.CopyAsync(layout.Reference("multi"), Remote(source, "1"), "--all");
        var destinationPrefix = UniqueRepository("sync/mirror");

        // The image lands under the prefix by its last path component. (--scoped would put host:port into the path,
        // which no repository name may contain, so skopeo refuses it for registries with a port.)
        await RunSyncAsync("--src", "docker", "--dest", "docker", "--all", "--src-tls-verify=false", "--dest-tls-verify=false",
            $"{_registry.Host}/{source}:1", $"{_registry.Host}/{destinationPrefix}");

        var mirrored = $"{destinationPrefix}/{source[(source.LastIndexOf('/') + 1)..]}";
        Assert.Contains(mirrored, await _api.ListRepositoriesAsync());
        var servedIndex = await _api.GetManifestAsync(mirrored, "1");
        Assert.True(servedIndex.Content.AsSpan().SequenceEqual(layout.ReadBlob(index.Digest)), "sync rewrote the index.");
        Assert.Equal(index.Digest, servedIndex.DigestHeader);
        foreach (var image in new[] { amd64, arm64 })
        {
            await ImageAssert.RegistryServesLayoutImageAsync(_api, mirrored, image.Manifest.Digest, layout, image);
        }
    }

    public void Dispose()
    {
        _api.Dispose();
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private Task<CommandResult> RunSyncAsync(params string[] arguments) =>
        ExternalCommand.WithRegistryLogAsync(_registry, async () => (await _skopeo.TryRunAsync(["sync", .. arguments])).EnsureSuccess());

    private string Remote(string repository, string tag) => $"docker://{_registry.Host}/{repository}:{tag}";

    private static string UniqueRepository(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";
}
