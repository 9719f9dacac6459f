using Berth.Core;
using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;
using Xunit.Abstractions;
using static Berth.Storage.Tests.Maintenance.MaintenanceHarness;

namespace Berth.Storage.Tests.Maintenance;

/// <summary>The garbage collector's behaviour, run against every driver.</summary>
public abstract partial class GarbageCollectorSuite : IDisposable
{
    private static readonly RepositoryName App = Name("library/app");
    private static readonly RepositoryName Other = Name("library/other");

    private static string Desc(string mediaType, Digest digest, long size) => MaintenanceHarness.Descriptor(mediaType, digest, size);
    private MaintenanceHarness? _h;

    /// <summary>The stores under test, over a fresh driver of the kind the subclass provides.</summary>
    internal MaintenanceHarness H => LazyInitializer.EnsureInitialized(ref _h, () => new MaintenanceHarness(CreateDriver()));

    protected GarbageCollectorSuite(ITestOutputHelper output) => Output = output;

    /// <summary>Where the concurrent test writes its figures.</summary>
    protected ITestOutputHelper Output { get; }

    protected abstract IStorageDriver CreateDriver();

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }

    // ---- mark and sweep ----

    [Fact]
    public async Task Run_UnreferencedBlob_IsDeletedWithItsLinkAndReferencedContentKept()
    {
        var image = await H.PushImageAsync(App, "v1", "one");
        var orphan = await H.PutBlobAsync(App, "nobody references me");
        H.AgeEverything();

        var report = await H.CollectAsync(Offline);

        Assert.False(await H.BlobExistsAsync(orphan));
        Assert.False(await H.LayerLinkExistsAsync(App, orphan));
        foreach (var blob in image.AllBlobs)
        {
            Assert.True(await H.BlobExistsAsync(blob));
        }

        Assert.True(await H.LayerLinkExistsAsync(App, image.Layers[0]));
        Assert.NotNull(await H.Manifests.GetAsync(App, Reference.Parse("v1"), Ct));
        Assert.Equal(1, report.Repositories);
        Assert.Equal(1, report.ManifestsScanned);
        Assert.Equal(4, report.BlobsScanned);
        Assert.Equal(1, report.BlobsDeleted);
        Assert.Equal(Bytes("nobody references me").Length, report.BytesFreed);
        Assert.Equal(1, report.LinksRemoved);
        Assert.Equal(0, report.ManifestsDeleted);
        Assert.False(report.DryRun);
        Assert.Empty(await Quarantine.ListAsync(H.Driver, Ct));
    }

    [Fact]
    public async Task Run_CollectedBlobsAndManifests_LeaveNoCachedDescriptorBehind()
    {
        var orphan = await H.PutBlobAsync(App, "cached, then collected");
        var gone = await H.PushImageAsync(App, null, "untagged and collected");
        foreach (var digest in (Digest[])[orphan, .. gone.AllBlobs])
        {
            Assert.NotNull(await H.Blobs.StatAsync(App, digest, Ct)); // now cached
        }

        H.AgeEverything();
        await H.CollectAsync(Offline with { DeleteUntagged = true });

        foreach (var digest in (Digest[])[orphan, .. gone.AllBlobs])
        {
            Assert.Null(await H.Cache.GetAsync(App, digest, Ct));
            Assert.Null(await H.Blobs.StatAsync(App, digest, Ct));
        }
    }

    [Fact]
    public async Task Run_DeletedManifest_ItsBlobsAreCollected()
    {
        var keep = await H.PushImageAsync(App, "keep", "keep");
        var gone = await H.PushImageAsync(App, "gone", "gone");
        Assert.True(await H.Manifests.DeleteAsync(App, gone.Manifest, Ct));
        H.AgeEverything();

        var report = await H.CollectAsync(Offline);

        foreach (var blob in gone.AllBlobs)
        {
            Assert.False(await H.BlobExistsAsync(blob));
        }

        foreach (var blob in keep.AllBlobs)
        {
            Assert.True(await H.BlobExistsAsync(blob));
        }

        Assert.Equal(3, report.BlobsDeleted);
        Assert.Equal(gone.Content.Length + Bytes("{\"seed\":\"gone\"}").Length + Bytes("layer of gone").Length, report.BytesFreed);
        Assert.Equal(2, report.LinksRemoved);
    }

    [Fact]
    public async Task Run_BlobSharedAcrossRepositories_KeptWhileAnyRepositoryReferencesIt()
    {
        var a = await H.PushImageAsync(App, "v1", "a", ["shared layer", "only in app"]);
        var b = await H.PushImageAsync(Other, "v1", "b", ["shared layer"]);
        var shared = b.Layers[0];
        Assert.Equal(shared, a.Layers[0]);
        await H.Manifests.DeleteAsync(App, a.Manifest, Ct);
        H.AgeEverything();

        await H.CollectAsync(Offline);

        Assert.True(await H.BlobExistsAsync(shared));
        Assert.True(await H.LayerLinkExistsAsync(App, shared));
        Assert.True(await H.LayerLinkExistsAsync(Other, shared));
        Assert.False(await H.BlobExistsAsync(a.Layers[1]));
        Assert.False(await H.LayerLinkExistsAsync(App, a.Layers[1]));
        Assert.False(await H.BlobExistsAsync(a.Config));
        Assert.False(await H.BlobExistsAsync(a.Manifest));
        Assert.NotNull(await H.Manifests.GetAsync(Other, Reference.Parse("v1"), Ct));

        await H.Manifests.DeleteAsync(Other, b.Manifest, Ct);
        H.AgeEverything();
        var report = await H.CollectAsync(Offline);

        Assert.False(await H.BlobExistsAsync(shared));
        Assert.False(await H.LayerLinkExistsAsync(App, shared));
        Assert.False(await H.LayerLinkExistsAsync(Other, shared));
        Assert.Equal(3, report.BlobsDeleted);
        Assert.Equal(3, report.LinksRemoved);
    }

    [Fact]
    public async Task Run_WithoutDeleteUntagged_KeepsUntaggedManifests()
    {
        var untagged = await H.PushImageAsync(App, null, "untagged");
        var replaced = await H.PushImageAsync(App, "latest", "first");
        await H.PushImageAsync(App, "latest", "second");
        H.AgeEverything();

        var report = await H.CollectAsync(Offline);

        Assert.True(await H.Manifests.ExistsAsync(App, untagged.Manifest, Ct));
        Assert.True(await H.Manifests.ExistsAsync(App, replaced.Manifest, Ct));
        Assert.Equal(0, report.BlobsDeleted);
        Assert.Equal(0, report.ManifestsDeleted);
        Assert.Equal(3, report.ManifestsScanned);
    }

    [Fact]
    public async Task Run_DeleteUntagged_RemovesUnreachedManifestsButKeepsIndexChildrenAndReferrers()
    {
        var child1 = await H.PushImageAsync(App, null, "child1");
        var child2 = await H.PushImageAsync(App, null, "child2");
        var index = await H.PushIndexAsync(App, "multi", child1, child2);
        var signature = await H.PushImageAsync(App, null, "signature of index", subject: index, subjectMediaType: MediaTypes.OciIndex);
        var sbomOfSignature = await H.PushImageAsync(App, null, "sbom of signature", subject: signature.Manifest);
        var orphan = await H.PushImageAsync(App, null, "orphan");
        var orphanSignature = await H.PushImageAsync(App, null, "signature of orphan", subject: orphan.Manifest);
        var old = await H.PushImageAsync(App, "latest", "old");
        var current = await H.PushImageAsync(App, "latest", "new");
        H.AgeEverything();

        var report = await H.CollectAsync(Offline with { DeleteUntagged = true });

        foreach (var kept in new[] { child1.Manifest, child2.Manifest, index, signature.Manifest, sbomOfSignature.Manifest, current.Manifest })
        {
            Assert.True(await H.Manifests.ExistsAsync(App, kept, Ct), $"{kept} should be kept");
        }

        foreach (var deleted in new[] { orphan, orphanSignature, old })
        {
            Assert.False(await H.ExistsAsync(StoragePaths.ManifestRevisionLink(App, deleted.Manifest)));
            foreach (var blob in deleted.AllBlobs)
            {
                Assert.False(await H.BlobExistsAsync(blob));
                Assert.False(await H.LayerLinkExistsAsync(App, blob));
            }
        }

        foreach (var blob in child1.AllBlobs.Concat(child2.AllBlobs).Concat(signature.AllBlobs).Concat(sbomOfSignature.AllBlobs).Append(index))
        {
            Assert.True(await H.BlobExistsAsync(blob));
        }

        Assert.Equal([signature.Manifest], await H.Referrers.ListAsync(App, index, Ct));
        Assert.Equal([sbomOfSignature.Manifest], await H.Referrers.ListAsync(App, signature.Manifest, Ct));
        Assert.Empty(await H.Referrers.ListAsync(App, orphan.Manifest, Ct));
        Assert.False(await H.ExistsAsync(StoragePaths.TagIndexLink(App, "latest", old.Manifest)));
        Assert.True(await H.ExistsAsync(StoragePaths.TagIndexLink(App, "latest", current.Manifest)));
        Assert.Equal(current.Manifest, await H.Tags.ResolveAsync(App, "latest", Ct));
        Assert.Equal(9, report.ManifestsScanned);
        Assert.Equal(3, report.ManifestsDeleted);
        Assert.Equal(9, report.BlobsDeleted);
    }

    [Fact]
    public async Task Run_DeleteUntaggedOnRegistryTwoVolume_KeepsReferrersFoundByTheirSubjectField()
    {
        var image = await H.PushImageAsync(App, "v1", "image");
        var signature = await H.PushImageAsync(App, null, "signature", subject: image.Manifest);
        // registry:2 keeps no referrers index; only the manifest's subject field links them.
        await H.Driver.DeleteAsync(StoragePaths.Repository(App) + "/_referrers", Ct);
        H.AgeEverything();

        var report = await H.CollectAsync(Offline with { DeleteUntagged = true });

        Assert.True(await H.Manifests.ExistsAsync(App, signature.Manifest, Ct));
        Assert.All(await Task.WhenAll(signature.AllBlobs.Select(H.BlobExistsAsync)), Assert.True);
        Assert.Equal(0, report.ManifestsDeleted);
    }

    [Fact]
    public async Task Run_DeleteUntagged_KeepsUntaggedManifestTaggedInAnotherRepository()
    {
        var here = await H.PushImageAsync(App, null, "same");
        var there = await H.PushImageAsync(Other, "v1", "same");
        Assert.Equal(here.Manifest, there.Manifest);
        H.AgeEverything();

        var report = await H.CollectAsync(Offline with { DeleteUntagged = true });

        Assert.True(await H.Manifests.ExistsAsync(App, here.Manifest, Ct));
        Assert.Equal(0, report.ManifestsDeleted);
        Assert.Equal(0, report.BlobsDeleted);
    }

    [Fact]
    public async Task Run_UnparseableManifests_AreNeverDeletedAndWhatTheyNameIsKept()
    {
        var layer = await H.PutBlobAsync(App, "schema1 layer");
        var schema1 = Bytes($$"""{"schemaVersion":1,"name":"library/app","tag":"old","architecture":"amd64","fsLayers":[{"blobSum":"{{layer}}"}],"history":[]}""");
        var schema1Digest = await H.WriteManifestUncheckedAsync(App, null, schema1);
        var garbageDigest = await H.WriteManifestUncheckedAsync(App, null, Bytes("not json at all"));
        H.AgeEverything();

        var report = await H.CollectAsync(Offline with { DeleteUntagged = true });

        Assert.True(await H.Manifests.ExistsAsync(App, schema1Digest, Ct));
        Assert.True(await H.Manifests.ExistsAsync(App, garbageDigest, Ct));
        Assert.True(await H.BlobExistsAsync(layer));
        Assert.True(await H.LayerLinkExistsAsync(App, layer));
        Assert.Equal(0, report.ManifestsDeleted);
        Assert.Equal(0, report.BlobsDeleted);
    }

    [Fact]
    public async Task Run_ForeignLayerStoredLocally_IsNotKeptByTheManifest()
    {
        var config = await H.PutBlobAsync(App, "{\"foreign\":true}");
        var foreign = await H.PutBlobAsync(App, "foreign bytes that were pushed anyway");
        var content = Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.DockerManifest}}","config":{{Desc("application/vnd.docker.container.image.v1+json", config, 16)}},"layers":[{{Desc(MediaTypes.DockerForeignLayer, foreign, 37)}}]}""");
        await H.PutManifestAsync(App, "win", content, MediaTypes.DockerManifest);
        H.AgeEverything();

        await H.CollectAsync(Offline);

        Assert.True(await H.BlobExistsAsync(config));
        Assert.False(await H.BlobExistsAsync(foreign));
    }

    [Fact]
    public async Task Run_RepositoryWithOnlyLayers_IsWalkedAndItsNestedRepositoryToo()
    {
        var parentOrphan = await H.PutBlobAsync(Name("library"), "pushed, manifest never came");
        var nested = await H.PushImageAsync(Name("library/app/nested"), "v1", "nested");
        H.AgeEverything();

        var report = await H.CollectAsync(Offline);

        Assert.False(await H.BlobExistsAsync(parentOrphan));
        Assert.False(await H.LayerLinkExistsAsync(Name("library"), parentOrphan));
        Assert.All(await Task.WhenAll(nested.AllBlobs.Select(H.BlobExistsAsync)), Assert.True);
        Assert.Equal(2, report.Repositories);
    }

    [Fact]
    public async Task Run_DanglingLayerLink_IsRemoved()
    {
        var missing = Digest.Compute(Bytes("never stored"));
        await H.Blobs.LinkAsync(App, missing, Ct);
        await H.PushImageAsync(App, "v1", "one");
        H.AgeEverything();

        var report = await H.CollectAsync(Offline);

        Assert.False(await H.LayerLinkExistsAsync(App, missing));
        Assert.Equal(1, report.LinksRemoved);
        Assert.Equal(0, report.BlobsDeleted);
    }

    [Fact]
    public async Task Run_UploadsInProgress_AreNotTouched()
    {
        var upload = H.Uploads.Start();
        await H.Uploads.AppendAsync(App, upload.Id, new UploadVoucher(upload.StartedAt, 0), new MemoryStream(Bytes("half an upload")), null, null, Ct);
        H.AgeEverything();

        await H.CollectAsync(Offline);

        Assert.Equal(14, (await H.Uploads.StatusAsync(App, upload.Id, null, Ct)).Size);
    }

    [Fact]
    public async Task Run_DryRun_ChangesNothingAndReportsWhatWouldGo()
    {
        await H.PushImageAsync(App, "v1", "kept");
        var orphan = await H.PutBlobAsync(App, "orphan");
        var untagged = await H.PushImageAsync(App, null, "untagged");
        await H.Blobs.LinkAsync(App, Digest.Compute(Bytes("dangling")), Ct);
        H.AgeEverything();
        var before = await H.SnapshotAsync();
        var lines = new List<string>();

        var report = await H.CollectAsync(Offline with { DryRun = true, DeleteUntagged = true }, lines);

        Assert.Equal(before, await H.SnapshotAsync());
        Assert.True(report.DryRun);
        Assert.Equal(1, report.ManifestsDeleted);
        Assert.Equal(4, report.BlobsDeleted);
        Assert.Equal(4, report.LinksRemoved);
        Assert.Equal(Bytes("orphan").Length + untagged.Content.Length + Bytes("{\"seed\":\"untagged\"}").Length + Bytes("layer of untagged").Length,
            report.BytesFreed);
        Assert.Contains($"blob eligible for deletion: {orphan}", lines);
        Assert.Contains($"library/app: manifest eligible for deletion: {untagged.Manifest}", lines);
        Assert.Contains("library/app", lines);
    }

    [Fact]
    public async Task Run_DryRun_LeavesAnInterruptedRunsQuarantineAlone()
    {
        var image = await H.PushImageAsync(App, "v1", "one");
        await H.Driver.MoveAsync(StoragePaths.BlobData(image.Layers[0]), Quarantine.PathOf(image.Layers[0]), Ct);
        var before = await H.SnapshotAsync();

        var report = await H.CollectAsync(Offline with { DryRun = true });

        Assert.Equal(before, await H.SnapshotAsync());
        Assert.Equal(0, report.QuarantineRecovered);
    }

    // ---- grace period ----

    [Fact]
    public async Task Run_GracePeriod_ProtectsYoungBlobsAndBlobsWithYoungLinks()
    {
        var old = await H.PutBlobAsync(App, "old orphan");
        var remounted = await H.PutBlobAsync(App, "old data, mounted again just now");
        H.AgeEverything();
        var young = await H.PutBlobAsync(App, "young orphan");
        await H.Blobs.LinkAsync(Other, remounted, Ct);
        H.Clock.Advance(TimeSpan.FromMinutes(30));

        var report = await H.CollectAsync(Offline with { GracePeriod = TimeSpan.FromHours(1) });

        Assert.False(await H.BlobExistsAsync(old));
        Assert.True(await H.BlobExistsAsync(young));
        Assert.True(await H.BlobExistsAsync(remounted));
        Assert.True(await H.LayerLinkExistsAsync(App, remounted));
        Assert.True(await H.LayerLinkExistsAsync(App, young));
        Assert.Equal(1, report.BlobsDeleted);
        Assert.Equal(2, report.BlobsInGracePeriod);
    }

    [Fact]
    public async Task Run_GracePeriodElapsed_CollectsWhatItProtectedBefore()
    {
        var orphan = await H.PutBlobAsync(App, "orphan");
        H.Clock.Advance(TimeSpan.FromMinutes(59));
        await H.CollectAsync(GarbageCollectionOptions.Online with { SettleDelay = TimeSpan.Zero });
        Assert.True(await H.BlobExistsAsync(orphan));

        H.Clock.Advance(TimeSpan.FromMinutes(2));
        var report = await H.CollectAsync(GarbageCollectionOptions.Online with { SettleDelay = TimeSpan.Zero });

        Assert.False(await H.BlobExistsAsync(orphan));
        Assert.Equal(1, report.BlobsDeleted);
    }

    [Fact]
    public async Task Run_DeleteUntaggedWithGracePeriod_KeepsYoungUntaggedManifests()
    {
        var oldOrphan = await H.PushImageAsync(App, null, "old orphan");
        H.AgeEverything();
        var childOfIndexInFlight = await H.PushImageAsync(App, null, "child pushed before its index");

        var report = await H.CollectAsync(Offline with { DeleteUntagged = true, GracePeriod = TimeSpan.FromHours(1) });

        Assert.False(await H.ExistsAsync(StoragePaths.ManifestRevisionLink(App, oldOrphan.Manifest)));
        Assert.True(await H.Manifests.ExistsAsync(App, childOfIndexInFlight.Manifest, Ct));
        Assert.All(await Task.WhenAll(childOfIndexInFlight.AllBlobs.Select(H.BlobExistsAsync)), Assert.True);
        Assert.Equal(1, report.ManifestsDeleted);
        Assert.Equal(3, report.BlobsDeleted);
    }

    // ---- online safety: references that appear during the run ----

    [Fact]
    public async Task Run_LayerLinkedDuringRun_BlobIsRestoredFromQuarantine()
    {
        var blob = await H.PutBlobAsync(App, "about to be mounted");
        H.AgeEverything();
        var sawQuarantine = false;
        var hooks = new GarbageCollectionHooks
        {
            AfterQuarantine = async ct =>
            {
                sawQuarantine = await H.InQuarantineAsync(blob) && !await H.BlobExistsAsync(blob);
                await H.Blobs.LinkAsync(Other, blob, ct);
            },
        };

        var report = await H.CollectAsync(Offline with { Hooks = hooks });

        Assert.True(sawQuarantine);
        Assert.True(await H.BlobExistsAsync(blob));
        Assert.False(await H.InQuarantineAsync(blob));
        Assert.True(await H.LayerLinkExistsAsync(Other, blob));
        Assert.NotNull(await H.Blobs.StatAsync(Other, blob, Ct));
        Assert.Equal(1, report.BlobsRestored);
        Assert.Equal(0, report.BlobsDeleted);
        Assert.Equal(0, report.BytesFreed);
    }

    [Fact]
    public async Task Run_LayerLinkedBetweenMarkAndPlan_BlobIsKeptWithoutQuarantine()
    {
        // The plan lists the layer links of the repositories the mark walked itself, after the mark, so a link made in
        // between is seen there as young and its blob is never moved aside.
        var blob = await H.PutBlobAsync(App, "mounted while the mark ran");
        var othersOwn = await H.PutBlobAsync(Other, "makes the repository exist before the mark");
        H.AgeEverything();
        var hooks = new GarbageCollectionHooks { AfterMark = ct => H.Blobs.LinkAsync(Other, blob, ct) };

        var report = await H.CollectAsync(Offline with { Hooks = hooks });

        Assert.True(await H.BlobExistsAsync(blob));
        Assert.True(await H.LayerLinkExistsAsync(Other, blob));
        Assert.True(await H.LayerLinkExistsAsync(App, blob));
        Assert.False(await H.BlobExistsAsync(othersOwn));
        Assert.Equal(0, report.BlobsRestored);
        Assert.Equal(1, report.BlobsDeleted);
        Assert.Equal(1, report.BlobsInGracePeriod);
    }

    [Fact]
    public async Task Run_SameRepositoryRelinksDuringRun_BlobIsRestored()
    {
        var blob = await H.PutBlobAsync(App, "uploaded again, deduplicated");
        H.AgeEverything();
        var hooks = new GarbageCollectionHooks { AfterQuarantine = ct => H.Blobs.LinkAsync(App, blob, ct) };

        var report = await H.CollectAsync(Offline with { Hooks = hooks });

        Assert.True(await H.BlobExistsAsync(blob));
        Assert.True(await H.LayerLinkExistsAsync(App, blob));
        Assert.Equal(1, report.BlobsRestored);
    }

    [Fact]
    public async Task Run_ManifestPushedDuringRun_ItsQuarantinedBlobsAreRestored()
    {
        var config = await H.PutBlobAsync(App, "{\"late\":1}");
        var layer = await H.PutBlobAsync(App, "layer uploaded long ago");
        H.AgeEverything();
        var content = Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{{Desc(OciConfig, config, 10)}},"layers":[{{Desc(OciLayer, layer, 23)}}]}""");
        var hooks = new GarbageCollectionHooks
        {
            // The push checked its blobs before they were quarantined, and writes its link now.
            AfterQuarantine = async _ => await H.WriteManifestUncheckedAsync(App, "late", content),
        };

        var report = await H.CollectAsync(Offline with { Hooks = hooks });

        Assert.True(await H.BlobExistsAsync(config));
        Assert.True(await H.BlobExistsAsync(layer));
        Assert.True(await H.LayerLinkExistsAsync(App, layer));
        var pulled = await H.Manifests.GetAsync(App, Reference.Parse("late"), Ct);
        Assert.NotNull(pulled);
        Assert.Equal(content, pulled.Content);
        Assert.NotNull(await H.Blobs.StatAsync(App, layer, Ct));
        Assert.Equal(2, report.BlobsRestored);
        Assert.Equal(0, report.BlobsDeleted);
    }

    [Fact]
    public async Task Run_TagMovedOntoDeletedManifestDuringRun_ManifestAndBlobsAreRestored()
    {
        await H.PushImageAsync(App, "v1", "tagged");
        var untagged = await H.PushImageAsync(App, null, "retagged late");
        H.AgeEverything();
        var deletedWhenHookRan = false;
        var hooks = new GarbageCollectionHooks
        {
            AfterQuarantine = async ct =>
            {
                deletedWhenHookRan = !await H.ExistsAsync(StoragePaths.ManifestRevisionLink(App, untagged.Manifest));
                await H.Tags.SetAsync(App, "late", untagged.Manifest, ct);
            },
        };

        var report = await H.CollectAsync(Offline with { DeleteUntagged = true, Hooks = hooks });

        Assert.True(deletedWhenHookRan);
        var pulled = await H.Manifests.GetAsync(App, Reference.Parse("late"), Ct);
        Assert.NotNull(pulled);
        Assert.Equal(untagged.Content, pulled.Content);
        Assert.All(await Task.WhenAll(untagged.AllBlobs.Select(H.BlobExistsAsync)), Assert.True);
        Assert.Equal(3, report.BlobsRestored);
        Assert.Equal(0, report.ManifestsDeleted);
        Assert.Equal(0, report.BlobsDeleted);
    }

    [Fact]
    public async Task Run_IndexPushedDuringRunOverDeletedChild_ChildIsRestored()
    {
        var child = await H.PushImageAsync(App, null, "child");
        H.AgeEverything();
        var index = Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[{{Desc(MediaTypes.OciManifest, child.Manifest, child.Content.Length)}}]}""");
        var hooks = new GarbageCollectionHooks { AfterQuarantine = async _ => await H.WriteManifestUncheckedAsync(App, "multi", index) };

        var report = await H.CollectAsync(Offline with { DeleteUntagged = true, Hooks = hooks });

        Assert.True(await H.Manifests.ExistsAsync(App, child.Manifest, Ct));
        Assert.All(await Task.WhenAll(child.AllBlobs.Select(H.BlobExistsAsync)), Assert.True);
        Assert.Equal(0, report.ManifestsDeleted);
        Assert.Equal(0, report.BlobsDeleted);
    }

    [Fact]
    public async Task Run_BlobRecommittedDuringPurge_KeepsItsFreshLink()
    {
        var blob = await H.PutBlobAsync(App, "recommitted");
        H.AgeEverything();
        var hooks = new GarbageCollectionHooks
        {
            // After the re-scan: an upload commit finds the digest absent and moves fresh data in.
            BeforePurge = async ct =>
            {
                await H.Blobs.PutContentAsync(blob, Bytes("recommitted"), ct);
                await H.Blobs.LinkAsync(Other, blob, ct);
            },
        };

        var report = await H.CollectAsync(Offline with { Hooks = hooks });

        Assert.True(await H.BlobExistsAsync(blob));
        Assert.True(await H.LayerLinkExistsAsync(Other, blob));
        Assert.True(await H.LayerLinkExistsAsync(App, blob));
        Assert.False(await H.InQuarantineAsync(blob));
        // BlobStore's existence check takes the quarantined copy back before the commit would
        // write fresh data, so nothing is left for the collector to delete.
        Assert.Equal(0, report.BlobsDeleted);
        Assert.Equal(0, report.LinksRemoved);
    }

    // ---- the push side of the handshake ----

    [Fact]
    public async Task EnsureContent_PresentBlob_IsTrueAndChangesNothing()
    {
        var blob = await H.PutBlobAsync(App, "present");
        var before = await H.SnapshotAsync();

        Assert.True(await CollectionHandshake.EnsureContentAsync(H.Driver, blob, Ct));

        Assert.Equal(before, await H.SnapshotAsync());
    }

    [Fact]
    public async Task EnsureContent_QuarantinedBlob_IsMovedBack()
    {
        var blob = await H.PutBlobAsync(App, "quarantined");
        await H.Driver.MoveAsync(StoragePaths.BlobData(blob), Quarantine.PathOf(blob), Ct);

        Assert.True(await CollectionHandshake.EnsureContentAsync(H.Driver, blob, Ct));

        Assert.True(await H.BlobExistsAsync(blob));
        Assert.False(await H.InQuarantineAsync(blob));
    }

    [Fact]
    public async Task EnsureContent_DeletedBlob_IsFalse()
    {
        Assert.False(await CollectionHandshake.EnsureContentAsync(H.Driver, Digest.Compute(Bytes("never stored")), Ct));
    }

    [Fact]
    public async Task Run_PushRestoresQuarantinedBlobBeforeTheRescan_CollectorDeletesNothing()
    {
        var layer = await H.PutBlobAsync(App, "re-used by a push during the run");
        H.AgeEverything();
        var hooks = new GarbageCollectionHooks
        {
            AfterQuarantine = async ct =>
            {
                // A push that verified before the quarantine takes its blob back after writing its link.
                Assert.True(await CollectionHandshake.EnsureContentAsync(H.Driver, layer, ct));
            },
        };

        var report = await H.CollectAsync(Offline with { Hooks = hooks });

        Assert.True(await H.BlobExistsAsync(layer));
        Assert.True(await H.LayerLinkExistsAsync(App, layer));
        Assert.Equal(0, report.BlobsDeleted);
        Assert.Equal(0, report.LinksRemoved);
    }

    // ---- crashes and failures ----

    [Fact]
    public async Task Run_QuarantineLeftByACrash_IsRestoredBeforeAnythingElse()
    {
        var image = await H.PushImageAsync(App, "v1", "one");
        var orphan = await H.PutBlobAsync(App, "orphan caught in the crash");
        await H.Driver.MoveAsync(StoragePaths.BlobData(image.Layers[0]), Quarantine.PathOf(image.Layers[0]), Ct);
        await H.Driver.MoveAsync(StoragePaths.BlobData(orphan), Quarantine.PathOf(orphan), Ct);
        H.AgeEverything();

        var report = await H.CollectAsync(Offline);

        Assert.Equal(2, report.QuarantineRecovered);
        Assert.True(await H.BlobExistsAsync(image.Layers[0]));
        Assert.False(await H.BlobExistsAsync(orphan));
        Assert.Equal(1, report.BlobsDeleted);
        Assert.Empty(await Quarantine.ListAsync(H.Driver, Ct));
    }

    [Fact]
    public async Task Recover_MovesQuarantinedBlobsBack()
    {
        var image = await H.PushImageAsync(App, "v1", "one");
        await H.Driver.MoveAsync(StoragePaths.BlobData(image.Config), Quarantine.PathOf(image.Config), Ct);

        Assert.Equal(1, await H.NewCollector().RecoverAsync(Ct));

        Assert.True(await H.BlobExistsAsync(image.Config));
        Assert.Equal(0, await H.NewCollector().RecoverAsync(Ct));
    }

    [Fact]
    public async Task Run_FailingAfterQuarantine_RestoresEverythingItQuarantined()
    {
        var orphans = new List<Digest>();
        for (var i = 0; i < 5; i++)
        {
            orphans.Add(await H.PutBlobAsync(App, $"orphan {i}"));
        }

        H.AgeEverything();
        var hooks = new GarbageCollectionHooks { AfterQuarantine = _ => throw new IOException("storage went away") };

        await Assert.ThrowsAsync<IOException>(() => H.CollectAsync(Offline with { Hooks = hooks }));

        Assert.All(await Task.WhenAll(orphans.Select(H.BlobExistsAsync)), Assert.True);
        Assert.Empty(await Quarantine.ListAsync(H.Driver, Ct));
    }

    [Fact]
    public async Task Run_CancelledAfterQuarantine_RestoresEverythingItQuarantined()
    {
        var orphan = await H.PutBlobAsync(App, "orphan");
        H.AgeEverything();
        using var cts = new CancellationTokenSource();
        var hooks = new GarbageCollectionHooks
        {
            AfterQuarantine = async ct =>
            {
                await cts.CancelAsync();
                ct.ThrowIfCancellationRequested();
            },
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => H.NewCollector().RunAsync(Offline with { Hooks = hooks }, null, cts.Token));

        Assert.True(await H.BlobExistsAsync(orphan));
        Assert.False(await H.InQuarantineAsync(orphan));
    }

    [Fact]
    public async Task Run_InvalidOptions_Throw()
    {
        var collector = H.NewCollector();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => collector.RunAsync(Offline with { GracePeriod = TimeSpan.FromSeconds(-1) }, null, Ct));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => collector.RunAsync(Offline with { MaxConcurrency = 0 }, null, Ct));
    }

    [Fact]
    public async Task Run_Twice_SecondRunFindsNothing()
    {
        await H.PushImageAsync(App, "v1", "one");
        await H.PutBlobAsync(App, "orphan");
        await H.PushImageAsync(App, null, "untagged");
        H.AgeEverything();
        await H.CollectAsync(Offline with { DeleteUntagged = true });
        var after = await H.SnapshotAsync();

        var report = await H.CollectAsync(Offline with { DeleteUntagged = true });

        Assert.Equal(0, report.BlobsDeleted + report.ManifestsDeleted + report.LinksRemoved);
        Assert.Equal(after, await H.SnapshotAsync());
    }
}

public sealed class InMemoryGarbageCollectorTests(ITestOutputHelper output) : GarbageCollectorSuite(output)
{
    protected override IStorageDriver CreateDriver() => new InMemoryDriver();
}
