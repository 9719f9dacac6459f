using System.Text;
using Berth.Core;
using Berth.Storage.Drivers;
using static Berth.Storage.Tests.Stores.StoreHarness;

namespace Berth.Storage.Tests.Stores;

public sealed class TagStoreTests
{
    private static readonly RepositoryName Repo = Name("library/app");
    private static readonly Digest First = Digest.Compute(Bytes("first"));
    private static readonly Digest Second = Digest.Compute(Bytes("second"));
    private readonly StoreHarness _h = new();

    [Fact]
    public async Task List_ReturnsTagsInOrdinalOrder()
    {
        string[] tags = ["b", "a", "Z", "A", "_x", "a-1", "a.1", "a_1", "10", "9", "latest", "v1.10", "v1.9"];
        foreach (var tag in tags)
        {
            await _h.Tags.SetAsync(Repo, tag, First, Ct);
        }

        var listed = await _h.Tags.ListAsync(Repo, Ct);

        Assert.Equal(["10", "9", "A", "Z", "_x", "a", "a-1", "a.1", "a_1", "b", "latest", "v1.10", "v1.9"], listed);
    }

    [Fact]
    public async Task List_UnknownRepository_ReturnsNull()
    {
        Assert.Null(await _h.Tags.ListAsync(Name("no/such/repo"), Ct));
    }

    [Fact]
    public async Task List_RepositoryWithoutTags_ReturnsEmpty()
    {
        await _h.PutBlobAsync(Repo, Bytes("a layer"));

        Assert.Equal([], await _h.Tags.ListAsync(Repo, Ct));
    }

    [Fact]
    public async Task List_AfterLastTagDeleted_ReturnsEmpty()
    {
        await _h.PutBlobAsync(Repo, Bytes("a layer"));
        await _h.Tags.SetAsync(Repo, "only", First, Ct);

        Assert.True(await _h.Tags.DeleteAsync(Repo, "only", Ct));

        Assert.Equal([], await _h.Tags.ListAsync(Repo, Ct));
    }

    [Fact]
    public async Task Set_ExistingTag_RepointsAndKeepsHistory()
    {
        await _h.Tags.SetAsync(Repo, "latest", First, Ct);

        await _h.Tags.SetAsync(Repo, "latest", Second, Ct);

        Assert.Equal(Second, await _h.Tags.ResolveAsync(Repo, "latest", Ct));
        Assert.True(await _h.ExistsAsync(StoragePaths.TagIndexLink(Repo, "latest", First)));
        Assert.True(await _h.ExistsAsync(StoragePaths.TagIndexLink(Repo, "latest", Second)));
    }

    [Fact]
    public async Task Set_NewOrMovedTag_ReadsOnlyTheCurrentLinkThatIsMissing()
    {
        var storage = new RequestCountingDriver(new InMemoryDriver());
        var tags = new TagStore(storage);

        await tags.SetAsync(Repo, "v1", First, Ct);
        Assert.Equal(1, storage.MissingReads);
        await tags.SetAsync(Repo, "v1", Second, Ct);
        Assert.Equal(1, storage.MissingReads);

        Assert.Equal(Second, await tags.ResolveAsync(Repo, "v1", Ct));
        foreach (var digest in new[] { First, Second })
        {
            Assert.Equal(digest, Digest.Parse(Encoding.ASCII.GetString(await storage.GetContentAsync(StoragePaths.TagIndexLink(Repo, "v1", digest), 1024, Ct))));
        }
    }

    [Fact]
    public async Task Set_SameDigestAgain_RestoresAMissingHistoryEntry()
    {
        await _h.Tags.SetAsync(Repo, "latest", First, Ct);
        await _h.Driver.DeleteAsync(StoragePaths.TagIndexLink(Repo, "latest", First), Ct);

        await _h.Tags.SetAsync(Repo, "latest", First, Ct);

        Assert.True(await _h.ExistsAsync(StoragePaths.TagIndexLink(Repo, "latest", First)));
    }

    [Fact]
    public async Task Resolve_UnknownTag_ReturnsNull()
    {
        Assert.Null(await _h.Tags.ResolveAsync(Repo, "missing", Ct));
    }

    [Fact]
    public async Task Delete_UnknownTag_ReturnsFalse()
    {
        await _h.Tags.SetAsync(Repo, "a", First, Ct);

        Assert.False(await _h.Tags.DeleteAsync(Repo, "b", Ct));
        Assert.Equal(["a"], await _h.Tags.ListAsync(Repo, Ct));
    }

    [Fact]
    public async Task TagsOf_ReturnsOnlyTagsCurrentlyPointingAtDigest()
    {
        await _h.Tags.SetAsync(Repo, "x", First, Ct);
        await _h.Tags.SetAsync(Repo, "y", Second, Ct);
        await _h.Tags.SetAsync(Repo, "z", First, Ct);
        await _h.Tags.SetAsync(Repo, "moved", First, Ct);
        await _h.Tags.SetAsync(Repo, "moved", Second, Ct);

        var tags = await _h.Tags.TagsOfAsync(Repo, First, Ct);

        Assert.Equal(["x", "z"], tags.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task RepositoryExists_TrueOnlyOnceSomethingIsStored()
    {
        Assert.False(await _h.Tags.RepositoryExistsAsync(Repo, Ct));

        await _h.Tags.SetAsync(Repo, "v1", First, Ct);

        Assert.True(await _h.Tags.RepositoryExistsAsync(Repo, Ct));
    }

    /// <summary>
    /// <c>repositories/library</c> is only the parent directory of <c>library/app</c>, not a repository.
    /// Registry:2 answers NAME_UNKNOWN for it; RepositoryExistsAsync stats the directory and says true, so
    /// the API answers 200 with no tags (and MANIFEST_UNKNOWN instead of NAME_UNKNOWN for its manifests).
    /// </summary>
    [Fact]
    public async Task RepositoryExists_ParentDirectoryOfNestedRepository_IsFalse()
    {
        await _h.Tags.SetAsync(Repo, "v1", First, Ct);

        Assert.False(await _h.Tags.RepositoryExistsAsync(Name("library"), Ct));
    }

    /// <summary>See <see cref="RepositoryExists_ParentDirectoryOfNestedRepository_IsFalse"/>.</summary>
    [Fact]
    public async Task List_ParentDirectoryOfNestedRepository_ReturnsNull()
    {
        await _h.Tags.SetAsync(Repo, "v1", First, Ct);

        Assert.Null(await _h.Tags.ListAsync(Name("library"), Ct));
    }

    [Fact]
    public async Task Tags_AreScopedToTheirRepository()
    {
        await _h.Tags.SetAsync(Repo, "v1", First, Ct);
        await _h.Tags.SetAsync(Name("library/app/nested"), "v2", Second, Ct);

        Assert.Equal(["v1"], await _h.Tags.ListAsync(Repo, Ct));
        Assert.Equal(["v2"], await _h.Tags.ListAsync(Name("library/app/nested"), Ct));
        Assert.Null(await _h.Tags.ResolveAsync(Name("library/app/nested"), "v1", Ct));
    }
}
