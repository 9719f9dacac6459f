using System.Text;
using Berth.Core;
using Berth.Storage.Drivers;
using Berth.Storage.Tests.Maintenance;

namespace Berth.Storage.Tests.Stores;

/// <summary>
/// On storage without directory times (S3; here the in-memory driver, which behaves the same way) the catalog is
/// served from a snapshot keyed by the <c>_berth/catalog-version</c> token: no listing request while nothing changed,
/// and a repository another Berth process creates is listed at once.
/// </summary>
public sealed class RemoteCatalogSnapshotTests
{
    private static readonly Digest Blob = Digest.Compute("layer"u8);
    private readonly RequestCountingDriver _storage = new(new InMemoryDriver());

    [Fact]
    public async Task Unchanged_catalog_is_served_without_listing_storage()
    {
        var writer = BerthProcess();
        await writer.LinkAsync(RepositoryName.Parse("team/a"), Blob, CancellationToken.None);
        await writer.LinkAsync(RepositoryName.Parse("team/b"), Blob, CancellationToken.None);
        var catalog = new CatalogStore(_storage);

        Assert.Equal(["team/a", "team/b"], await ListAsync(catalog));
        var listingsAfterFirstWalk = _storage.Lists;
        Assert.Equal(["team/a", "team/b"], await ListAsync(catalog));
        Assert.Equal(["team/a", "team/b"], await ListAsync(catalog));

        Assert.Equal(listingsAfterFirstWalk, _storage.Lists);
    }

    [Fact]
    public async Task A_walk_overlaps_the_listings_of_one_level()
    {
        var storage = new RequestCountingDriver(new InMemoryDriver()) { ListDelay = TimeSpan.FromMilliseconds(20) };
        var writer = new BlobStore(storage, catalog: new CatalogStore(storage));
        var expected = Enumerable.Range(0, 40).Select(i => $"team/r{i:D2}").ToList();
        foreach (var name in expected)
        {
            await writer.LinkAsync(RepositoryName.Parse(name), Blob, CancellationToken.None);
        }

        Assert.Equal(expected, await ListAsync(new CatalogStore(storage)));

        // One listing after another took a round trip per repository; now a level's are in flight together, bounded.
        Assert.InRange(storage.MaxListsInFlight, 2, 16);
    }

    [Fact]
    public async Task A_repository_another_berth_process_creates_is_listed_at_once()
    {
        var catalog = new CatalogStore(_storage);
        await BerthProcess().LinkAsync(RepositoryName.Parse("team/a"), Blob, CancellationToken.None);
        Assert.Equal(["team/a"], await ListAsync(catalog));

        await BerthProcess().LinkAsync(RepositoryName.Parse("team/a/nested"), Blob, CancellationToken.None);
        await BerthProcess().LinkAsync(RepositoryName.Parse("other"), Blob, CancellationToken.None);

        Assert.Equal(["other", "team/a", "team/a/nested"], await ListAsync(catalog));
    }

    [Fact]
    public async Task The_version_token_lives_outside_the_repositories()
    {
        await BerthProcess().LinkAsync(RepositoryName.Parse("team/a"), Blob, CancellationToken.None);

        Assert.NotEmpty(await _storage.GetContentAsync(CatalogStore.RemoteVersionPath, 64, CancellationToken.None));
        Assert.StartsWith(StoragePaths.Root + "/_berth/", CatalogStore.RemoteVersionPath, StringComparison.Ordinal);
        Assert.Equal(["team/a"], await ListAsync(new CatalogStore(_storage)));
    }

    [Fact]
    public async Task Past_the_refresh_interval_the_snapshot_answers_while_one_background_walk_refreshes_it()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var catalog = new CatalogStore(_storage, clock);
        await BerthProcess().LinkAsync(RepositoryName.Parse("team/a"), Blob, CancellationToken.None);
        Assert.Equal(["team/a"], await ListAsync(catalog));

        // A writer that is not Berth (registry:2 on the same bucket) adds a repository without moving the version token.
        var foreign = RepositoryName.Parse("foreign");
        await _storage.PutContentAsync(StoragePaths.ManifestRevisionLink(foreign, Blob), Encoding.ASCII.GetBytes(Blob.ToString()), CancellationToken.None);
        Assert.Equal(["team/a"], await ListAsync(catalog));

        // Past the interval the request is answered from the snapshot at once, not after a walk of the whole tree...
        clock.Advance(CatalogStore.RemoteFullWalkInterval);
        Assert.Equal(["team/a"], await ListAsync(catalog));

        // ...and the walk it started in the background brings the foreign repository in.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        IReadOnlyList<string> names;
        do
        {
            await Task.Delay(20);
            names = await ListAsync(catalog);
        }
        while (names.Count < 2 && DateTime.UtcNow < deadline);

        Assert.Equal(["foreign", "team/a"], names);
    }

    /// <summary>A blob store as another Berth process has it: with a catalog of its own that announces new repositories.</summary>
    private BlobStore BerthProcess() => new(_storage, catalog: new CatalogStore(_storage));

    private static async Task<IReadOnlyList<string>> ListAsync(CatalogStore catalog) =>
        (await catalog.ListAsync(1000, null, CancellationToken.None)).Names;
}
