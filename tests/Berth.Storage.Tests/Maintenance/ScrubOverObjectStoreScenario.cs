using System.Text;
using Berth.Core;
using Berth.Storage.Caching;
using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Storage.Tests.Maintenance;

/// <summary>
/// One scrub scenario for the object-store drivers' own test projects, run against their real servers: a blob's object
/// overwritten with other bytes behind the registry's back (what bit rot or a bad copy looks like from the store) and
/// another's deleted are both found, the corrupt one ends up under <c>_berth_corrupt/</c> and no longer under
/// <c>blobs/</c>, and after a re-push only the deleted one is still reported.
/// </summary>
public static class ScrubOverObjectStoreScenario
{
    private const string OciConfig = "application/vnd.oci.image.config.v1+json";
    private const string OciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";

    private static CancellationToken Ct => CancellationToken.None;

    /// <param name="store">The driver under test.</param>
    /// <param name="overwriteBehindTheRegistry">Replaces the object at a storage path with the given text, with the store's own client.</param>
    /// <param name="deleteBehindTheRegistry">Deletes the object at a storage path with the store's own client.</param>
    public static async Task RunAsync(IStorageDriver store, Func<string, string, Task> overwriteBehindTheRegistry,
        Func<string, Task> deleteBehindTheRegistry)
    {
        var driver = new ValidatingDriver(store);
        var cache = new InMemoryBlobDescriptorCache(100, TimeProvider.System);
        var blobs = new BlobStore(driver, cache);
        var tags = new TagStore(driver);
        var manifests = new ManifestStore(driver, blobs, tags, new ReferrerStore(driver));
        var name = RepositoryName.Parse("library/app");

        async Task<(Digest Digest, long Size)> PutAsync(string text)
        {
            var content = Encoding.UTF8.GetBytes(text);
            var digest = Digest.Compute(content);
            await blobs.PutContentAsync(digest, content, Ct);
            await blobs.LinkAsync(name, digest, Ct);
            return (digest, content.Length);
        }

        var config = await PutAsync("""{"architecture":"amd64","os":"linux"}""");
        var corrupt = await PutAsync("a layer that rots");
        var deleted = await PutAsync("a layer that disappears");
        var manifest = Encoding.UTF8.GetBytes($$"""
            {"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{"mediaType":"{{OciConfig}}","digest":"{{config.Digest}}","size":{{config.Size}}},
            "layers":[{"mediaType":"{{OciLayer}}","digest":"{{corrupt.Digest}}","size":{{corrupt.Size}}},{"mediaType":"{{OciLayer}}","digest":"{{deleted.Digest}}","size":{{deleted.Size}}}]}
            """);
        await manifests.PutAsync(name, Reference.Parse("v1"), manifest, MediaTypes.OciManifest, Ct);
        Assert.NotNull(await blobs.StatAsync(name, corrupt.Digest, Ct));

        await overwriteBehindTheRegistry(StoragePaths.BlobData(corrupt.Digest), "a layer that rot5");
        await deleteBehindTheRegistry(StoragePaths.BlobData(deleted.Digest));

        var scrubber = new Scrubber(driver, cache, TimeProvider.System, NullLogger<Scrubber>.Instance);
        var report = await scrubber.RunAsync(new ScrubOptions(), null, Ct);

        Assert.Equal(1, report.BlobsCorrupt);
        Assert.Equal(1, report.BlobsMovedAside);
        Assert.Contains(report.Findings, f => f.Problem == ScrubProblem.BlobCorrupt && f.Blob == corrupt.Digest && f.MovedTo is not null);
        Assert.Contains(report.Findings, f => f.Problem == ScrubProblem.ReferenceCorrupt && f.Blob == corrupt.Digest && f.Tags.SequenceEqual(["v1"]));
        Assert.Contains(report.Findings, f => f.Problem == ScrubProblem.ReferenceMissing && f.Blob == deleted.Digest && Equals(f.Repository, name));
        Assert.Equal(3, report.Findings.Count);

        // The object moved within the store: absent under blobs/, present (with its record) under _berth_corrupt/.
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => driver.StatAsync(StoragePaths.BlobData(corrupt.Digest), Ct));
        var kept = await driver.GetContentAsync(CorruptBlobs.DataPath(corrupt.Digest), 1024, Ct);
        Assert.Equal("a layer that rot5", Encoding.UTF8.GetString(kept));
        Assert.Equal(corrupt.Digest.ToString(), (await CorruptBlobs.ReadRecordAsync(driver, corrupt.Digest, Ct))?.Digest);
        Assert.Null(await blobs.StatAsync(name, corrupt.Digest, Ct));

        // A re-push stores the bytes again; then only the deleted layer is still wrong.
        await PutAsync("a layer that rots");
        var again = await scrubber.RunAsync(new ScrubOptions(), null, Ct);
        var remaining = Assert.Single(again.Findings);
        Assert.Equal(ScrubProblem.ReferenceMissing, remaining.Problem);
        Assert.Equal(deleted.Digest, remaining.Blob);
    }
}
