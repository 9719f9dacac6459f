using Berth.Core;
using Berth.Storage.Caching;
using Berth.Storage.Drivers;
using Berth.Storage.Tests.Maintenance;
using static Berth.Storage.Tests.Stores.StoreHarness;

namespace Berth.Storage.Tests.Caching;

/// <summary><see cref="InMemoryBlobDescriptorCache"/> and how <see cref="BlobStore"/> and <see cref="ManifestStore"/> use it.</summary>
public sealed class BlobDescriptorCacheTests
{
    private static readonly RepositoryName App = Name("team/app");
    private static readonly Digest Blob = Digest.Compute(Bytes("layer"));

    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly IStorageDriver _driver = new ValidatingDriver(new InMemoryDriver());

    [Fact]
    public async Task Cache_StoresPerRepository()
    {
        using var cache = new InMemoryBlobDescriptorCache(100, _clock);

        await cache.SetAsync(App, Blob, 5, Ct);

        Assert.Equal(5, await cache.GetAsync(App, Blob, Ct));
        Assert.Null(await cache.GetAsync(Name("team/other"), Blob, Ct));
    }

    [Fact]
    public async Task Cache_RefusesAnEntryInvalidatedAMomentAgo_AndTakesItOnceTheTombstoneExpires()
    {
        using var cache = new InMemoryBlobDescriptorCache(100, _clock);
        await cache.SetAsync(App, Blob, 5, Ct);

        await cache.InvalidateAsync(App, Blob, Ct);
        await cache.SetAsync(App, Blob, 5, Ct); // a reader that looked at storage before the delete
        Assert.Null(await cache.GetAsync(App, Blob, Ct));

        _clock.Advance(InMemoryBlobDescriptorCache.TombstoneLifetime + TimeSpan.FromSeconds(1));
        await cache.SetAsync(App, Blob, 5, Ct);
        Assert.Equal(5, await cache.GetAsync(App, Blob, Ct));
    }

    [Fact]
    public async Task Cache_StaysWithinItsCapacity()
    {
        using var cache = new InMemoryBlobDescriptorCache(10, _clock);
        for (var i = 0; i < 100; i++)
        {
            await cache.SetAsync(Name($"team/app{i}"), Blob, i, Ct);
        }

        var cached = 0;
        for (var i = 0; i < 100; i++)
        {
            cached += await cache.GetAsync(Name($"team/app{i}"), Blob, Ct) is null ? 0 : 1;
        }

        Assert.InRange(cached, 1, 10);
    }

    [Fact]
    public async Task Stat_IsAnsweredFromTheCacheOnceSeen()
    {
        using var cache = new InMemoryBlobDescriptorCache(100, _clock);
        var blobs = new BlobStore(_driver, cache);
        var digest = await PutLinkedBlobAsync(blobs, "cached layer");

        Assert.Equal(12, await blobs.StatAsync(App, digest, Ct));
        Assert.Equal(12, await cache.GetAsync(App, digest, Ct));

        // Storage loses the link behind the store's back (as another replica deleting without a shared cache):
        // the cached answer stands, which is why replicas that delete share Redis instead.
        await _driver.DeleteAsync(StoragePaths.LayerLinkDirectory(App, digest), Ct);
        Assert.Equal(12, await blobs.StatAsync(App, digest, Ct));
    }

    [Fact]
    public async Task Stat_DoesNotCacheAbsentBlobs()
    {
        using var cache = new InMemoryBlobDescriptorCache(100, _clock);
        var blobs = new BlobStore(_driver, cache);

        Assert.Null(await blobs.StatAsync(App, Blob, Ct));
        Assert.Null(await cache.GetAsync(App, Blob, Ct));

        var digest = await PutLinkedBlobAsync(blobs, "layer");
        Assert.Equal(digest, Blob);
        Assert.Equal(5, await blobs.StatAsync(App, Blob, Ct));
    }

    [Fact]
    public async Task Unlink_DropsTheCachedEntry()
    {
        using var cache = new InMemoryBlobDescriptorCache(100, _clock);
        var blobs = new BlobStore(_driver, cache);
        var digest = await PutLinkedBlobAsync(blobs, "deleted layer");
        Assert.NotNull(await blobs.StatAsync(App, digest, Ct));

        Assert.True(await blobs.UnlinkAsync(App, digest, Ct));

        Assert.Null(await cache.GetAsync(App, digest, Ct));
        Assert.Null(await blobs.StatAsync(App, digest, Ct));
    }

    [Fact]
    public async Task ManifestDelete_DropsTheManifestsCachedEntry()
    {
        using var cache = new InMemoryBlobDescriptorCache(100, _clock);
        var blobs = new BlobStore(_driver, cache);
        var manifests = new ManifestStore(_driver, blobs, new TagStore(_driver), new ReferrerStore(_driver));
        var config = await PutLinkedBlobAsync(blobs, "{}");
        var content = Bytes($$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{config}}","size":2},"layers":[]}""");
        var (digest, _) = await manifests.PutAsync(App, Reference.Parse("v1"), content, "application/vnd.oci.image.manifest.v1+json", Ct);
        Assert.Equal(content.Length, await blobs.StatAsync(App, digest, Ct));

        Assert.True(await manifests.DeleteAsync(App, digest, Ct));

        Assert.Null(await blobs.StatAsync(App, digest, Ct));
    }

    private static async Task<Digest> PutLinkedBlobAsync(BlobStore blobs, string text)
    {
        var content = Bytes(text);
        var digest = Digest.Compute(content);
        await blobs.PutContentAsync(digest, content, Ct);
        await blobs.LinkAsync(App, digest, Ct);
        return digest;
    }
}
