using Berth.Auth;
using Berth.Core;
using Berth.Ui.Browsing;

namespace Berth.Ui.Tests;

public sealed class RegistryBrowserTests : IDisposable
{
    private readonly UiHarness _h = new();

    private static CancellationToken Ct => UiHarness.Ct;

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task TagsAsync_UnknownRepository_IsNull()
    {
        Assert.Null(await _h.Browser.TagsAsync(UiHarness.Name("no/such"), Ct));
    }

    [Fact]
    public async Task TagsAsync_AfterPushes_ListsEveryTagWithItsDigest()
    {
        var name = UiHarness.Name("team/app");
        var first = await PushImageAsync(name, "v1");
        var before = await _h.Browser.TagsAsync(name, Ct);

        var second = await PushImageAsync(name, "v2");
        var after = await _h.Browser.TagsAsync(name, Ct);

        Assert.Equal(["v1"], before!.Rows.Keys);
        Assert.Equal(2, after!.Count);
        Assert.Equal(first.Digest, after.Rows["v1"].Digest);
        Assert.Equal(second.Digest, after.Rows["v2"].Digest);
        Assert.NotNull(after.LastPush);
    }

    [Fact]
    public async Task TagsAsync_TagMoved_ShowsTheNewDigestAtOnce()
    {
        var name = UiHarness.Name("team/moved");
        var old = await PushImageAsync(name, "latest");
        await PushImageAsync(name, "stable");
        Assert.Equal(old.Digest, (await _h.Browser.TagsAsync(name, Ct))!.Rows["latest"].Digest);

        // The tag list is unchanged: only TagsChanged tells the browser that "latest" moved.
        var moved = await PushImageAsync(name, "latest");
        var view = await _h.Browser.TagsAsync(name, Ct);

        Assert.Equal(moved.Digest, view!.Rows["latest"].Digest);
        Assert.NotEqual(old.Digest, moved.Digest);
        Assert.Equal(["latest", "stable"], view.Sorted(TagOrder.Name, null).Select(row => row.Tag));
    }

    [Fact]
    public async Task TagsAsync_TagDeleted_IsGone()
    {
        var name = UiHarness.Name("team/deleted");
        await PushImageAsync(name, "v1");
        await PushImageAsync(name, "v2");
        await _h.Browser.TagsAsync(name, Ct);

        Assert.True(await _h.Tags.DeleteAsync(name, "v1", Ct));
        var view = await _h.Browser.TagsAsync(name, Ct);

        Assert.Equal(["v2"], view!.Rows.Keys);
    }

    [Fact]
    public async Task Sorted_Newest_PutsTheLastPushFirstAndFilters()
    {
        var name = UiHarness.Name("team/sorted");
        foreach (var tag in new[] { "b", "a-1", "c", "a-2" })
        {
            await PushImageAsync(name, tag);
            await Task.Delay(20);
        }

        var view = await _h.Browser.TagsAsync(name, Ct);

        Assert.Equal(["a-2", "c", "a-1", "b"], view!.Sorted(TagOrder.Newest, null).Select(row => row.Tag));
        Assert.Equal(["a-1", "a-2", "b", "c"], view.Sorted(TagOrder.Name, null).Select(row => row.Tag));
        Assert.Equal(["a-1", "a-2"], view.Sorted(TagOrder.Name, "A-").Select(row => row.Tag));
    }

    [Fact]
    public async Task SummaryAsync_Image_SumsManifestConfigAndLayers()
    {
        var name = UiHarness.Name("team/summary");
        var config = await _h.PutBlobAsync(name, UiHarness.Config("arm64", "2026-05-06T07:08:09Z"));
        var layer1 = await _h.PutBlobAsync(name, UiHarness.Random(1000));
        var layer2 = await _h.PutBlobAsync(name, UiHarness.Random(3000));
        var bytes = UiHarness.ImageManifest(config, layer1, layer2, layer1);
        var manifest = await _h.PutManifestAsync(name, "v1", bytes, UiHarness.OciManifest);

        var summary = await _h.Browser.SummaryAsync(name, manifest.Digest, Ct);

        Assert.NotNull(summary);
        Assert.False(summary.IsIndex);
        Assert.Null(summary.ArtifactType);
        Assert.Equal(bytes.Length + config.Size + 1000 + 3000, summary.Size);
        Assert.Equal(["linux/arm64"], summary.Platforms);
        Assert.Equal(new DateTimeOffset(2026, 5, 6, 7, 8, 9, TimeSpan.Zero), summary.Created);
        Assert.Equal(3, summary.Blobs.Count);
    }

    [Fact]
    public async Task SummaryAsync_ManifestOfAnotherRepository_IsNull()
    {
        var name = UiHarness.Name("team/owner");
        var image = await PushImageAsync(name, "v1");
        await PushImageAsync(UiHarness.Name("team/other"), "v1");

        Assert.NotNull(await _h.Browser.SummaryAsync(name, image.Digest, Ct));
        Assert.Null(await _h.Browser.SummaryAsync(UiHarness.Name("team/other"), image.Digest, Ct));
    }

    [Fact]
    public async Task SummaryAsync_Index_CountsEachBlobOnceAndNamesEveryPlatform()
    {
        var name = UiHarness.Name("team/multi");
        var shared = await _h.PutBlobAsync(name, UiHarness.Random(5000));
        var amdConfig = await _h.PutBlobAsync(name, UiHarness.Config("amd64", "2026-01-01T00:00:00Z"));
        var armConfig = await _h.PutBlobAsync(name, UiHarness.Config("arm64", "2026-02-01T00:00:00Z"));
        var amdLayer = await _h.PutBlobAsync(name, UiHarness.Random(700));
        var armLayer = await _h.PutBlobAsync(name, UiHarness.Random(900));
        var amd = await _h.PutManifestAsync(name, Digest.Compute(UiHarness.ImageManifest(amdConfig, shared, amdLayer)).ToString(),
            UiHarness.ImageManifest(amdConfig, shared, amdLayer), UiHarness.OciManifest);
        var arm = await _h.PutManifestAsync(name, Digest.Compute(UiHarness.ImageManifest(armConfig, shared, armLayer)).ToString(),
            UiHarness.ImageManifest(armConfig, shared, armLayer), UiHarness.OciManifest);
        var indexBytes = UiHarness.Index((amd.Digest, amd.Size, "amd64"), (arm.Digest, arm.Size, "arm64"));
        var index = await _h.PutManifestAsync(name, "latest", indexBytes, UiHarness.OciIndex);

        var summary = await _h.Browser.SummaryAsync(name, index.Digest, Ct);

        Assert.NotNull(summary);
        Assert.True(summary.IsIndex);
        Assert.Equal(["linux/amd64", "linux/arm64"], summary.Platforms);
        Assert.Equal(indexBytes.Length + amd.Size + arm.Size + amdConfig.Size + armConfig.Size + 5000 + 700 + 900, summary.Size);
        Assert.Equal(new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero), summary.Created);
    }

    [Fact]
    public async Task SummaryAsync_IndexWithMissingChild_HasNoSizeUntilTheChildReturns()
    {
        var name = UiHarness.Name("team/partial");
        var present = await PushImageAsync(name, null);
        var missing = await PushImageAsync(name, null);
        var index = await _h.PutManifestAsync(name, "latest",
            UiHarness.Index((present.Digest, present.Size, "amd64"), (missing.Digest, missing.Size, "arm64")), UiHarness.OciIndex);
        Assert.True(await _h.Manifests.DeleteAsync(name, missing.Digest, Ct));

        var partial = await _h.Browser.SummaryAsync(name, index.Digest, Ct);
        await _h.PutManifestAsync(name, missing.Digest.ToString(), missing.Bytes, UiHarness.OciManifest);
        var complete = await _h.Browser.SummaryAsync(name, index.Digest, Ct);

        Assert.NotNull(partial);
        Assert.Null(partial.Size);
        Assert.Equal(["linux/amd64", "linux/arm64"], partial.Platforms);
        Assert.NotNull(complete!.Size);
    }

    /// <summary>
    /// An index's size depends on which children the repository holds, not only on its content: a summary cached while
    /// every child was there goes on claiming a size after a child is deleted.
    /// </summary>
    [Fact]
    public async Task SummaryAsync_ChildDeletedAfterAView_HasNoSize()
    {
        var name = UiHarness.Name("team/shrunk");
        var kept = await PushImageAsync(name, null);
        var deleted = await PushImageAsync(name, null);
        var index = await _h.PutManifestAsync(name, "latest",
            UiHarness.Index((kept.Digest, kept.Size, "amd64"), (deleted.Digest, deleted.Size, "arm64")), UiHarness.OciIndex);
        Assert.NotNull((await _h.Browser.SummaryAsync(name, index.Digest, Ct))!.Size);

        Assert.True(await _h.Manifests.DeleteAsync(name, deleted.Digest, Ct));
        var after = await _h.Browser.SummaryAsync(name, index.Digest, Ct);

        Assert.Null(after!.Size);
    }

    [Fact]
    public async Task ReferrersAsync_ArtifactWithSubject_IsListedWithItsArtifactType()
    {
        var name = UiHarness.Name("team/signed");
        var image = await PushImageAsync(name, "v1");
        var empty = await _h.PutBlobAsync(name, "{}"u8.ToArray());
        var payload = await _h.PutBlobAsync(name, UiHarness.Random(64));
        var artifact = System.Text.Encoding.UTF8.GetBytes($$"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json",
             "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{{empty.Digest}}","size":2},
             "layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"{{payload.Digest}}","size":64}],
             "subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{{image.Digest}}","size":{{image.Size}} } }
            """);
        var signature = await _h.PutManifestAsync(name, Digest.Compute(artifact).ToString(), artifact, UiHarness.OciManifest);

        var referrers = await _h.Browser.ReferrersAsync(name, image.Digest, Ct);

        var referrer = Assert.Single(referrers);
        Assert.Equal(signature.Digest, referrer.Digest);
        Assert.Equal("application/vnd.dev.cosign.artifact.sig.v1+json", referrer.ArtifactType);
        Assert.Empty(await _h.Browser.ReferrersAsync(name, signature.Digest, Ct));
    }

    [Fact]
    public async Task VisibleRepositoriesAsync_Grant_LeavesOutWhatItMayNotPullAndFilters()
    {
        foreach (var repository in new[] { "public/web", "public/api", "private/db", "team/web" })
        {
            await PushImageAsync(UiHarness.Name(repository), "v1");
        }

        var grant = new PrefixGrant("public/");

        Assert.Equal(["public/api", "public/web"], (await _h.Browser.VisibleRepositoriesAsync(grant, null, Ct)).Order(StringComparer.Ordinal));
        Assert.Equal(["public/web"], await _h.Browser.VisibleRepositoriesAsync(grant, "WEB", Ct));
        Assert.Empty(await _h.Browser.VisibleRepositoriesAsync(grant, "db", Ct));
        Assert.Equal(4, (await _h.Browser.VisibleRepositoriesAsync(AllowAllGrant.Instance, null, Ct)).Count);
    }

    [Fact]
    public async Task ConfigAsync_Image_ReadsItsConfig()
    {
        var name = UiHarness.Name("team/config");
        var image = await PushImageAsync(name, "v1");
        var summary = await _h.Browser.SummaryAsync(name, image.Digest, Ct);

        var config = await _h.Browser.ConfigAsync(summary!, Ct);

        Assert.NotNull(config);
        Assert.Equal("amd64", config.Architecture);
        Assert.True(config.Labels.ContainsKey("unique"));
    }

    private async Task<(Digest Digest, long Size, byte[] Bytes)> PushImageAsync(RepositoryName name, string? tag)
    {
        var config = await _h.PutBlobAsync(name, UiHarness.Config());
        var layer = await _h.PutBlobAsync(name, UiHarness.Random(100));
        var bytes = UiHarness.ImageManifest(config, layer);
        var (digest, size) = await _h.PutManifestAsync(name, tag ?? Digest.Compute(bytes).ToString(), bytes, UiHarness.OciManifest);
        return (digest, size, bytes);
    }

    private sealed class PrefixGrant(string prefix) : IAccessGrant
    {
        public string? Subject => "someone";

        public bool Allows(AccessRequest request) => request.Name.StartsWith(prefix, StringComparison.Ordinal);
    }
}
