using System.Text;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Berth is a drop-in replacement for registry:2: either one must serve, byte for byte, what the other stored in the
/// same filesystem root, and the same pushes must leave the same files on disk.
/// </summary>
public sealed class DistributionCompatibilityTests(ITestOutputHelper log) : IDisposable
{
    private const string SingleRepository = "compat/single";
    private const string SchemaTwoRepository = "compat/docker";
    private const string MultiArchRepository = "compat/deep/nested/multi";

    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("compat");
    private readonly Skopeo _skopeo = new(log);

    [Fact]
    public Task Storage_WrittenByDistribution_BerthServesItBitExact() => HandOverAsync(RegistryKind.Distribution, RegistryKind.Berth);

    [Fact]
    public Task Storage_WrittenByBerth_DistributionServesItBitExact() => HandOverAsync(RegistryKind.Berth, RegistryKind.Distribution);

    [Fact]
    public async Task SamePushes_BerthAndDistribution_WriteTheSameFilesAndLinks()
    {
        var corpus = new Corpus(_temp);
        var roots = new Dictionary<RegistryKind, string>();
        foreach (var kind in new[] { RegistryKind.Distribution, RegistryKind.Berth })
        {
            roots[kind] = _temp.CreateSubdirectory($"storage-{kind}");
            await using var registry = await RegistryProcess.StartAsync(kind, roots[kind]);
            await corpus.PushAsync(_skopeo, registry.Host);
        }

        var distribution = StorageFiles(roots[RegistryKind.Distribution]);
        var berth = StorageFiles(roots[RegistryKind.Berth]);
        // Guards against comparing two empty trees: the layout is registry:2's, rooted at docker/registry/v2.
        Assert.Contains($"docker/registry/v2/repositories/{SingleRepository}/_manifests/tags/1.0/current/link", distribution.Keys);
        Assert.Contains($"docker/registry/v2/blobs/sha256/{Digests.Hex(corpus.Single.Config.Digest)[..2]}/{Digests.Hex(corpus.Single.Config.Digest)}/data", distribution.Keys);
        var missing = distribution.Keys.Except(berth.Keys).Order(StringComparer.Ordinal).ToList();
        var extra = berth.Keys.Except(distribution.Keys).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"After the same pushes, Berth lacks {missing.Count} file(s) Distribution wrote:\n  {string.Join("\n  ", missing.Take(30))}\n" +
            $"and has {extra.Count} file(s) Distribution did not write:\n  {string.Join("\n  ", extra.Take(30))}");
        foreach (var (relativePath, distributionPath) in distribution)
        {
            var expected = await File.ReadAllBytesAsync(distributionPath);
            var actual = await File.ReadAllBytesAsync(berth[relativePath]);
            Assert.True(expected.AsSpan().SequenceEqual(actual),
                $"{relativePath} differs: Distribution wrote '{Printable(expected)}', Berth wrote '{Printable(actual)}'.");
        }
    }

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// Pushes the corpus into <paramref name="writerKind"/>, reads everything back through the API, stops it, starts
    /// <paramref name="readerKind"/> on the same root, and requires the same answers, bit-exact pulls and working pushes.
    /// </summary>
    private async Task HandOverAsync(RegistryKind writerKind, RegistryKind readerKind)
    {
        var root = _temp.CreateSubdirectory("storage");
        var corpus = new Corpus(_temp);
        Snapshot written;
        await using (var writer = await RegistryProcess.StartAsync(writerKind, root))
        {
            await corpus.PushAsync(_skopeo, writer.Host);
            using var writerApi = new RegistryApiClient(writer);
            written = await Snapshot.TakeAsync(writerApi);
            await writer.StopAsync();
        }

        await using var reader = await RegistryProcess.StartAsync(readerKind, root);
        using var api = new RegistryApiClient(reader);
        var read = await Snapshot.TakeAsync(api);
        written.AssertSameAs(read, $"{readerKind} serving what {writerKind} stored");

        var pulledSingle = _temp.Combine("pulled-single");
        await _skopeo.CopyAsync($"docker://{reader.Host}/{SingleRepository}:1.0", $"oci:{pulledSingle}:1.0");
        ImageAssert.LayoutsHaveSameBlobs(corpus.SingleLayout.Directory, pulledSingle);
        var pulledMulti = _temp.Combine("pulled-multi");
        await _skopeo.CopyAsync($"docker://{reader.Host}/{MultiArchRepository}:multi", $"oci:{pulledMulti}:multi", "--all");
        ImageAssert.LayoutsHaveSameBlobs(corpus.MultiArchLayout.Directory, pulledMulti);
        var pulledSchemaTwo = _temp.Combine("pulled-schema2");
        await _skopeo.CopyAsync($"docker://{reader.Host}/{SchemaTwoRepository}:v2s2", $"dir:{pulledSchemaTwo}");
        await ImageAssert.DirCopyMatchesRegistryAsync(pulledSchemaTwo, api, SchemaTwoRepository, read.Manifests[$"{SchemaTwoRepository}:v2s2"]);

        // The inherited storage is writable too: a new tag, and a new repository whose blobs are mounted from an inherited one.
        await _skopeo.CopyAsync($"docker://{reader.Host}/{SingleRepository}:1.0", $"docker://{reader.Host}/{SingleRepository}:after-handover");
        await _skopeo.CopyAsync($"docker://{reader.Host}/{SingleRepository}:1.0", $"docker://{reader.Host}/compat/after-handover:1");
        await ImageAssert.RegistryServesLayoutImageAsync(api, SingleRepository, "after-handover", corpus.SingleLayout, corpus.Single);
        await ImageAssert.RegistryServesLayoutImageAsync(api, "compat/after-handover", "1", corpus.SingleLayout, corpus.Single);
        Assert.Equal(["1.0", "after-handover", "latest"], (await api.ListTagsAsync(SingleRepository)).Order(StringComparer.Ordinal));
    }

    /// <summary>Every file under the registry's storage, by path relative to the root; in-progress uploads left out.</summary>
    private static Dictionary<string, string> StorageFiles(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(path => (Relative: Path.GetRelativePath(root, path), Full: path))
            .Where(file => !file.Relative.Contains("/_uploads/", StringComparison.Ordinal))
            .ToDictionary(file => file.Relative, file => file.Full, StringComparer.Ordinal);

    private static string Printable(byte[] content) =>
        content.Length <= 200 && content.All(b => b is >= 0x20 and < 0x7f) ? Encoding.ASCII.GetString(content) : $"{content.Length} bytes, {Digests.Sha256(content)}";

    /// <summary>The images pushed in every compatibility test: OCI with two tags, the same as Docker schema2, and a multi-arch index in a deep repository.</summary>
    private sealed class Corpus
    {
        public Corpus(TemporaryDirectory temp)
        {
            SingleLayout = new OciLayoutWriter(temp.CreateSubdirectory("layout-single"));
            Single = SingleLayout.AddImage(new OciPlatform("linux", "amd64"), 128 * 1024, 2 * 1024 * 1024);
            SingleLayout.Tag("1.0", Single.Manifest);

            MultiArchLayout = new OciLayoutWriter(temp.CreateSubdirectory("layout-multi"));
            var amd64 = MultiArchLayout.AddImage(new OciPlatform("linux", "amd64"), 64 * 1024, 512 * 1024);
            var arm64 = MultiArchLayout.AddImage(new OciPlatform("linux", "arm64", "v8"), 64 * 1024);
            MultiArchLayout.Tag("multi", MultiArchLayout.AddIndex([amd64, arm64]));
        }

        public OciLayoutWriter SingleLayout { get; }

        public OciImage Single { get; }

        public OciLayoutWriter MultiArchLayout { get; }

        public async Task PushAsync(Skopeo skopeo, string host)
        {
            await skopeo.CopyAsync(SingleLayout.Reference("1.0"), $"docker://{host}/{SingleRepository}:1.0");
            await skopeo.CopyAsync(SingleLayout.Reference("1.0"), $"docker://{host}/{SingleRepository}:latest");
            await skopeo.CopyAsync(SingleLayout.Reference("1.0"), $"docker://{host}/{SchemaTwoRepository}:v2s2", "--format", "v2s2");
            await skopeo.CopyAsync(MultiArchLayout.Reference("multi"), $"docker://{host}/{MultiArchRepository}:multi", "--all");
        }
    }

    /// <summary>What a registry answers about the corpus: manifests by tag and digest (with index children), tag lists and the catalog.</summary>
    private sealed record Snapshot(
        RegistryKind Kind, SortedDictionary<string, FetchedManifest> Manifests, SortedDictionary<string, string> Tags, string Catalog)
    {
        private static readonly (string Repository, string Tag)[] TaggedImages =
            [(SingleRepository, "1.0"), (SingleRepository, "latest"), (SchemaTwoRepository, "v2s2"), (MultiArchRepository, "multi")];

        public static async Task<Snapshot> TakeAsync(RegistryApiClient api)
        {
            var manifests = new SortedDictionary<string, FetchedManifest>(StringComparer.Ordinal);
            foreach (var (repository, tag) in TaggedImages)
            {
                var manifest = await api.GetManifestAsync(repository, tag);
                manifests[$"{repository}:{tag}"] = manifest;
                await AddByDigestAsync(api, repository, manifest.ComputedDigest, manifests);
                foreach (var child in manifest.Document.Manifests)
                {
                    await AddByDigestAsync(api, repository, child.Digest, manifests);
                }
            }

            var tags = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var repository in TaggedImages.Select(t => t.Repository).Distinct())
            {
                tags[repository] = string.Join(",", (await api.ListTagsAsync(repository)).Order(StringComparer.Ordinal));
            }

            var catalog = string.Join(",", (await api.ListRepositoriesAsync()).Order(StringComparer.Ordinal));
            return new Snapshot(api.Registry.Kind, manifests, tags, catalog);
        }

        public void AssertSameAs(Snapshot other, string what)
        {
            Assert.True(Manifests.Keys.SequenceEqual(other.Manifests.Keys), $"{what}: manifests {string.Join(", ", other.Manifests.Keys)}, expected {string.Join(", ", Manifests.Keys)}.");
            foreach (var (key, expected) in Manifests)
            {
                var actual = other.Manifests[key];
                Assert.True(expected.Content.AsSpan().SequenceEqual(actual.Content),
                    $"{what}: manifest {key} differs.\n{Kind}: {Encoding.UTF8.GetString(expected.Content)}\n{other.Kind}: {Encoding.UTF8.GetString(actual.Content)}");
                Assert.True(expected.ContentType == actual.ContentType, $"{what}: {key} Content-Type {actual.ContentType}, {Kind} said {expected.ContentType}.");
                Assert.True(expected.DigestHeader == actual.DigestHeader, $"{what}: {key} Docker-Content-Digest {actual.DigestHeader}, {Kind} said {expected.DigestHeader}.");
            }

            Assert.True(Tags.SequenceEqual(other.Tags), $"{what}: tags {Describe(other.Tags)}, {Kind} listed {Describe(Tags)}.");
            Assert.True(Catalog == other.Catalog, $"{what}: catalog [{other.Catalog}], {Kind} listed [{Catalog}].");
        }

        /// <summary>Records the manifest by digest and checks every blob it names downloads with the right digest.</summary>
        private static async Task AddByDigestAsync(RegistryApiClient api, string repository, string digest, SortedDictionary<string, FetchedManifest> manifests)
        {
            var manifest = await api.GetManifestAsync(repository, digest);
            manifests[$"{repository}@{digest}"] = manifest;
            foreach (var blob in manifest.Document.Blobs)
            {
                var content = await api.GetBlobAsync(repository, blob.Digest);
                Assert.Equal(blob.Size, content.LongLength);
            }
        }

        private static string Describe(SortedDictionary<string, string> tags) => string.Join("; ", tags.Select(t => $"{t.Key}=[{t.Value}]"));
    }
}
