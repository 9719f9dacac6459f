using Berth.Core;
using Berth.Storage.Drivers;

namespace Berth.Storage.Tests.Stores;

/// <summary>
/// On storage without directory times (S3; here the in-memory driver) tag lists are cached under a per-repository
/// version token: repeated and paged listings cost no listing request, and a tag added or removed through another
/// Berth process shows at once.
/// </summary>
public sealed class RemoteTagListTests
{
    private static readonly RepositoryName App = RepositoryName.Parse("team/app");
    private static readonly Digest Target = Digest.Compute("manifest"u8);
    private readonly RequestCountingDriver _storage = new(new InMemoryDriver());

    [Fact]
    public async Task An_unchanged_list_is_served_without_listing_storage()
    {
        var replica = new TagStore(_storage);
        await replica.SetAsync(App, "a", Target, CancellationToken.None);
        await replica.SetAsync(App, "b", Target, CancellationToken.None);

        Assert.Equal(["a", "b"], await replica.ListAsync(App, CancellationToken.None));
        var listings = _storage.Lists;
        Assert.Equal(["a", "b"], await replica.ListAsync(App, CancellationToken.None));
        Assert.Equal(["a", "b"], await replica.ListAsync(App, CancellationToken.None));

        Assert.Equal(listings, _storage.Lists);
    }

    [Fact]
    public async Task Tags_added_and_removed_through_another_replica_show_at_once()
    {
        var reader = new TagStore(_storage);
        var writer = new TagStore(_storage);
        await writer.SetAsync(App, "a", Target, CancellationToken.None);
        Assert.Equal(["a"], await reader.ListAsync(App, CancellationToken.None));

        await writer.SetAsync(App, "b", Target, CancellationToken.None);
        Assert.Equal(["a", "b"], await reader.ListAsync(App, CancellationToken.None));

        Assert.True(await writer.DeleteAsync(App, "a", CancellationToken.None));
        Assert.Equal(["b"], await reader.ListAsync(App, CancellationToken.None));
    }

    [Fact]
    public async Task Moving_a_tag_keeps_the_cached_list_and_a_fresh_listing_always_asks_storage()
    {
        var replica = new TagStore(_storage);
        await replica.SetAsync(App, "latest", Target, CancellationToken.None);
        Assert.Equal(["latest"], await replica.ListAsync(App, CancellationToken.None));
        var listings = _storage.Lists;

        await replica.SetAsync(App, "latest", Digest.Compute("other manifest"u8), CancellationToken.None);
        Assert.Equal(["latest"], await replica.ListAsync(App, CancellationToken.None));
        Assert.Equal(listings, _storage.Lists);

        Assert.Equal(["latest"], await replica.ListAsync(App, CancellationToken.None, fresh: true));
        Assert.Equal(listings + 1, _storage.Lists);
    }

    [Fact]
    public async Task Continuation_pages_reuse_the_list_the_walk_started_with_and_a_new_walk_sees_changes()
    {
        var reader = new TagStore(_storage);
        var writer = new TagStore(_storage);
        await writer.SetAsync(App, "a", Target, CancellationToken.None);
        Assert.Equal(["a"], await reader.ListAsync(App, CancellationToken.None));

        await writer.SetAsync(App, "b", Target, CancellationToken.None);

        // The next page of the walk that began a moment ago: answered from that walk's list, no round trip.
        Assert.Equal(["a"], await reader.ListAsync(App, CancellationToken.None, continuation: true));
        // A new walk (a first page) validates and sees the new tag.
        Assert.Equal(["a", "b"], await reader.ListAsync(App, CancellationToken.None));
    }
}
