using System.Text;
using Berth.Core;
using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;
using Berth.Storage.Tests.Drivers;
using Microsoft.Extensions.Logging.Abstractions;
using static Berth.Storage.Tests.Maintenance.MaintenanceHarness;

namespace Berth.Storage.Tests.Maintenance;

/// <summary>The scrubber over the filesystem driver in a temporary directory: real files, flipped bytes, deleted data.</summary>
public sealed class ScrubberTests : IDisposable
{
    private static readonly RepositoryName App = Name("library/app");
    private static readonly RepositoryName Other = Name("team/other");
    private readonly string _root = Path.Combine(Path.GetTempPath(), "berth-scrub-tests-" + Guid.NewGuid().ToString("N"));
    private readonly MaintenanceHarness _h;

    public ScrubberTests()
    {
        _h = new MaintenanceHarness(CreateFilesystemDriver());
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private FilesystemDriver CreateFilesystemDriver() => new(_root, NullLogger<FilesystemDriver>.Instance);

    private string Local(string storagePath) => Path.Combine(_root, storagePath.TrimStart('/'));

    private Scrubber NewScrubber(IStorageDriver? driver = null) =>
        new(driver ?? _h.Driver, _h.Cache, _h.Time, NullLogger<Scrubber>.Instance);

    private async Task<(ScrubReport Report, List<ScrubFinding> Streamed)> ScrubAsync(ScrubOptions? options = null, IStorageDriver? driver = null)
    {
        var streamed = new List<ScrubFinding>();
        var report = await NewScrubber(driver).RunAsync(options ?? new ScrubOptions(), new ListProgress(streamed), Ct);
        return (report, streamed);
    }

    private void FlipFirstByte(Digest digest)
    {
        var path = Local(StoragePaths.BlobData(digest));
        var bytes = File.ReadAllBytes(path);
        bytes[0] ^= 0x01;
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public async Task Run_HealthyRegistry_IsCleanAndHashesEveryBlob()
    {
        var one = await _h.PushImageAsync(App, "v1", "one", ["layer a", "layer b"]);
        var two = await _h.PushImageAsync(Other, "latest", "two");
        await _h.PushIndexAsync(App, "multi", one);

        var (report, streamed) = await ScrubAsync();

        Assert.True(report.Clean, string.Join('\n', report.Findings));
        Assert.Empty(streamed);
        Assert.Equal(2, report.Repositories);
        Assert.Equal(3, report.Tags);
        Assert.Equal(3, report.Manifests);
        // one: config + 2 layers + manifest; two: config + layer + manifest; the index.
        Assert.Equal(8, report.BlobsHashed);
        var expectedBytes = one.AllBlobs.Concat(two.AllBlobs).Sum(d => new FileInfo(Local(StoragePaths.BlobData(d))).Length)
            + await StoredSizeAsync((await _h.Tags.ResolveAsync(App, "multi", Ct))!.Value);
        Assert.Equal(expectedBytes, report.BytesHashed);
        Assert.Equal(0, report.BlobsCorrupt);
    }

    private async Task<long> StoredSizeAsync(Digest digest) => (await _h.Driver.StatAsync(StoragePaths.BlobData(digest), Ct)).Size;

    [Fact]
    public async Task Run_FlippedByteInALayer_ReportsItMovesItAsideAndForgetsTheCachedDescriptor()
    {
        var image = await _h.PushImageAsync(App, "v1", "one", ["good layer", "bad layer"]);
        await _h.Blobs.LinkAsync(Other, image.Layers[1], Ct);
        var bad = image.Layers[1];
        // Both repositories' descriptors are cached, as after a pull through each.
        Assert.NotNull(await _h.Blobs.StatAsync(App, bad, Ct));
        Assert.NotNull(await _h.Blobs.StatAsync(Other, bad, Ct));
        Assert.NotNull(await _h.Cache.GetAsync(App, bad, Ct));
        FlipFirstByte(bad);

        var (report, streamed) = await ScrubAsync();

        Assert.False(report.Clean);
        Assert.Equal(1, report.BlobsCorrupt);
        Assert.Equal(1, report.BlobsMovedAside);
        var corrupt = Assert.Single(report.Findings, f => f.Problem == ScrubProblem.BlobCorrupt);
        Assert.Equal(bad, corrupt.Blob);
        Assert.Equal(CorruptBlobs.DataPath(bad), corrupt.MovedTo);
        var reference = Assert.Single(report.Findings, f => f.Problem == ScrubProblem.ReferenceCorrupt);
        Assert.Equal(App, reference.Repository);
        Assert.Equal(image.Manifest, reference.Manifest);
        Assert.Equal(["v1"], reference.Tags);
        Assert.Equal(bad, reference.Blob);
        Assert.Equal($"reference-corrupt library/app@{image.Manifest} (tags: v1): layer {bad} is corrupt", reference.ToString());
        Assert.Equal(report.Findings.Count, streamed.Count);

        // Gone from blobs/, kept with its record in the holding area, and no cache answers for it any more.
        Assert.False(await _h.BlobExistsAsync(bad));
        Assert.False(Directory.Exists(Local(StoragePaths.BlobDirectory(bad))));
        Assert.True(File.Exists(Local(CorruptBlobs.DataPath(bad))));
        var record = await CorruptBlobs.ReadRecordAsync(_h.Driver, bad, Ct);
        Assert.NotNull(record);
        Assert.Equal(bad.ToString(), record.Digest);
        Assert.NotEqual(bad.ToString(), record.ActualDigest);
        Assert.Equal(Bytes("bad layer").Length, record.Size);
        Assert.Null(await _h.Cache.GetAsync(App, bad, Ct));
        Assert.Null(await _h.Cache.GetAsync(Other, bad, Ct));
        Assert.Null(await _h.Blobs.StatAsync(App, bad, Ct));
        Assert.True(await _h.BlobExistsAsync(image.Layers[0]));
    }

    [Fact]
    public async Task Run_AfterMovingAside_ARePushHealsAndTheNextScrubIsClean()
    {
        var image = await _h.PushImageAsync(App, "v1", "one", ["layer"]);
        FlipFirstByte(image.Layers[0]);
        await ScrubAsync();

        // What an upload commit does: the data is absent, so the fresh bytes are stored.
        await _h.PutBlobAsync(App, "layer");
        var (report, _) = await ScrubAsync();

        Assert.True(report.Clean, string.Join('\n', report.Findings));
        Assert.Equal("layer", Encoding.UTF8.GetString(await _h.Driver.GetContentAsync(StoragePaths.BlobData(image.Layers[0]), 1024, Ct)));
    }

    [Fact]
    public async Task Run_DryRun_ReportsButMovesAndForgetsNothing()
    {
        var image = await _h.PushImageAsync(App, "v1", "one");
        Assert.NotNull(await _h.Blobs.StatAsync(App, image.Config, Ct));
        FlipFirstByte(image.Config);

        var (report, _) = await ScrubAsync(new ScrubOptions { DryRun = true });

        Assert.True(report.DryRun);
        Assert.Equal(1, report.BlobsCorrupt);
        Assert.Equal(0, report.BlobsMovedAside);
        Assert.Contains(report.Findings, f => f.Problem == ScrubProblem.ReferenceCorrupt && f.Detail.StartsWith("config ", StringComparison.Ordinal));
        Assert.True(await _h.BlobExistsAsync(image.Config));
        Assert.False(File.Exists(Local(CorruptBlobs.DataPath(image.Config))));
        Assert.NotNull(await _h.Cache.GetAsync(App, image.Config, Ct));
    }

    [Fact]
    public async Task Run_DeletedLayerData_IsReportedAsMissingWithTheManifestAndTags()
    {
        var image = await _h.PushImageAsync(App, "v1", "one", ["kept", "deleted"]);
        await _h.Tags.SetAsync(App, "stable", image.Manifest, Ct);
        File.Delete(Local(StoragePaths.BlobData(image.Layers[1])));

        var (report, _) = await ScrubAsync();

        var finding = Assert.Single(report.Findings);
        Assert.Equal(ScrubProblem.ReferenceMissing, finding.Problem);
        Assert.Equal(App, finding.Repository);
        Assert.Equal(["stable", "v1"], finding.Tags);
        Assert.Equal(image.Layers[1], finding.Blob);
        // Deleting the file left its directory, which the listing still shows: counted, but not a problem of its own.
        Assert.Equal(1, report.BlobsVanished);
    }

    [Fact]
    public async Task Run_CorruptManifest_IsReportedOnceAsCorruptManifestNotAsItsReferences()
    {
        var image = await _h.PushImageAsync(App, "v1", "one");
        FlipFirstByte(image.Manifest);

        var (report, _) = await ScrubAsync();

        Assert.Contains(report.Findings, f => f.Problem == ScrubProblem.BlobCorrupt && f.Blob == image.Manifest);
        var manifest = Assert.Single(report.Findings, f => f.Problem == ScrubProblem.ManifestCorrupt);
        Assert.Equal(["v1"], manifest.Tags);
        Assert.Equal(2, report.Findings.Count);
        // A process that has not cached the (verified) bytes finds nothing to serve; one that had keeps serving the right bytes.
        var fresh = new ManifestStore(_h.Driver, _h.Blobs, _h.Tags, _h.Referrers);
        Assert.Null(await fresh.GetAsync(App, Reference.Parse("v1"), Ct));
        Assert.Equal(image.Content, (await _h.Manifests.GetAsync(App, Reference.Parse("v1"), Ct))!.Content);
    }

    [Fact]
    public async Task Run_UnlinkedLayerDanglingTagAndMissingChild_AreEachReported()
    {
        var image = await _h.PushImageAsync(App, "v1", "one");
        var index = await _h.PushIndexAsync(App, "multi", image);
        File.Delete(Local(StoragePaths.LayerLink(App, image.Layers[0])));
        var nowhere = Digest.Compute(Bytes("a manifest this repository never had"));
        await _h.Driver.PutContentAsync(StoragePaths.TagCurrentLink(App, "ghost"), Bytes(nowhere.ToString()), Ct);
        await _h.Driver.DeleteAsync(StoragePaths.ManifestRevisionDirectory(App, image.Manifest), Ct);

        var (report, _) = await ScrubAsync();

        // The child lost its revision link (so v1 now dangles too), and its layer lost its _layers link.
        Assert.Contains(report.Findings, f => f.Problem == ScrubProblem.ReferenceNotLinked && f.Manifest == index && f.Blob == image.Manifest);
        Assert.Contains(report.Findings, f => f.Problem == ScrubProblem.TagDangling && f.Tags.SequenceEqual(["ghost"]) && f.Manifest == nowhere);
        Assert.Contains(report.Findings, f => f.Problem == ScrubProblem.TagDangling && f.Tags.SequenceEqual(["v1"]));
        Assert.Equal(3, report.Findings.Count);

        await _h.Driver.PutContentAsync(StoragePaths.ManifestRevisionLink(App, image.Manifest), Bytes(image.Manifest.ToString()), Ct);
        var (again, _) = await ScrubAsync();
        Assert.Contains(again.Findings, f => f.Problem == ScrubProblem.ReferenceNotLinked && f.Manifest == image.Manifest && f.Blob == image.Layers[0]);
    }

    [Fact]
    public async Task Run_BlobDeletedBetweenListingAndReading_IsNotAProblem()
    {
        var image = await _h.PushImageAsync(App, "v1", "one");
        var orphan = await _h.PutBlobAsync(App, "unreferenced");
        var driver = new DeletingBeforeReadDriver(_h.Driver, StoragePaths.BlobData(orphan));

        var (report, _) = await ScrubAsync(driver: driver);

        Assert.True(report.Clean, string.Join('\n', report.Findings));
        Assert.Equal(1, report.BlobsVanished);
        Assert.Equal(image.AllBlobs.Count(), report.BlobsHashed);
    }

    [Fact]
    public async Task Run_ThenGarbageCollection_DoesNotBringTheCorruptBlobBack()
    {
        // The collector restores whatever it finds in its own quarantine; the scrub's holding area must not be that.
        var image = await _h.PushImageAsync(App, "v1", "one");
        FlipFirstByte(image.Layers[0]);
        await ScrubAsync();

        await _h.NewCollector().RecoverAsync(Ct);
        await _h.CollectAsync(Offline);

        Assert.False(await _h.BlobExistsAsync(image.Layers[0]));
        Assert.True(File.Exists(Local(CorruptBlobs.DataPath(image.Layers[0]))));
        Assert.Contains(image.Layers[0], await CorruptBlobs.ListAsync(_h.Driver, Ct));
    }

    [Fact]
    public async Task Run_RateLimited_StillHashesEverything()
    {
        // Not a timing test: the bucket starts with a second's worth of bytes, so a small store never waits.
        await _h.PushImageAsync(App, "v1", "one");

        var (report, _) = await ScrubAsync(new ScrubOptions { BytesPerSecond = 1024 * 1024 });

        Assert.True(report.Clean);
        Assert.Equal(3, report.BlobsHashed);
    }

    [Fact]
    public async Task RunAsync_NegativeRate_IsRefused() =>
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => NewScrubber().RunAsync(new ScrubOptions { BytesPerSecond = -1 }, null, Ct));

    private sealed class ListProgress(List<ScrubFinding> findings) : IProgress<ScrubFinding>
    {
        public void Report(ScrubFinding value) => findings.Add(value);
    }

    /// <summary>Deletes one path just before it is opened for reading: a collection between the scrub's listing and its read.</summary>
    private sealed class DeletingBeforeReadDriver(IStorageDriver inner, string victim) : ForwardingDriver(inner)
    {
        public override async Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken)
        {
            if (path == victim)
            {
                await Inner.DeleteAsync(path, cancellationToken);
            }

            return await Inner.OpenReadAsync(path, offset, cancellationToken);
        }
    }
}
