using Berth.Core;
using static Berth.Storage.Tests.Stores.StoreHarness;

namespace Berth.Storage.Tests.Stores;

public sealed class CatalogStoreTests
{
    private static readonly Digest AnyDigest = Digest.Compute(Bytes("manifest"));
    private readonly StoreHarness _h = new();

    private async Task CreateRepositoriesAsync(params string[] names)
    {
        foreach (var name in names)
        {
            await _h.Tags.SetAsync(Name(name), "latest", AnyDigest, Ct);
        }
    }

    private async Task<IReadOnlyList<string>> PageThroughAsync(int limit)
    {
        var all = new List<string>();
        string? last = null;
        for (var pages = 0; pages < 100; pages++)
        {
            var (names, more) = await _h.Catalog.ListAsync(limit, last, Ct);
            all.AddRange(names);
            if (!more)
            {
                return all;
            }

            Assert.NotEmpty(names);
            last = names[^1];
        }

        throw new InvalidOperationException("paging did not terminate");
    }

    [Fact]
    public async Task List_EmptyRegistry_ReturnsNothing()
    {
        var (names, more) = await _h.Catalog.ListAsync(100, null, Ct);

        Assert.Empty(names);
        Assert.False(more);
    }

    [Fact]
    public async Task List_FindsNestedRepositories()
    {
        await CreateRepositoriesAsync("ubuntu", "library/ubuntu", "x/y/z", "library/ubuntu/extra");

        var (names, more) = await _h.Catalog.ListAsync(100, null, Ct);

        Assert.Equal(["library/ubuntu", "library/ubuntu/extra", "ubuntu", "x/y/z"], names);
        Assert.False(more);
    }

    [Fact]
    public async Task List_RepositoryWithOnlyBlobs_IsListed_AsRegistry2Does_ButOnlyUploads_IsNot()
    {
        // registry:2 marks a repository by its _layers directory (handleRepository in catalog.go).
        await CreateRepositoriesAsync("real");
        await _h.PutBlobAsync(Name("only/blobs"), Bytes("layer"));
        var upload = _h.Uploads.Start();
        await _h.Uploads.AppendAsync(Name("only/uploads"), upload.Id, new UploadVoucher(upload.StartedAt, 0), new MemoryStream(Bytes("part")), 0, 4, Ct);

        var (names, _) = await _h.Catalog.ListAsync(100, null, Ct);

        Assert.Equal(["only/blobs", "real"], names);
    }

    [Fact]
    public async Task List_RepositoryCreatedThroughManifestPush_IsListed()
    {
        var name = Name("pushed/app");
        var config = await _h.PutBlobAsync(name, Bytes("{}"));
        var manifest = Bytes($$"""
            {"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}",
             "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{config}}","size":2},"layers":[]}
            """);
        await _h.Manifests.PutAsync(name, Reference.Parse("v1"), manifest, null, Ct);

        Assert.Equal(["pushed/app"], (await _h.Catalog.ListAsync(10, null, Ct)).Names);
    }

    [Fact]
    public async Task List_WithLimit_ReturnsFirstPageAndMore()
    {
        await CreateRepositoriesAsync("alpha", "beta", "gamma/one", "gamma/two", "zeta");

        var (names, more) = await _h.Catalog.ListAsync(2, null, Ct);

        Assert.Equal(["alpha", "beta"], names);
        Assert.True(more);
    }

    [Fact]
    public async Task List_WithLast_ContinuesAfterIt()
    {
        await CreateRepositoriesAsync("alpha", "beta", "gamma/one", "gamma/two", "zeta");

        var second = await _h.Catalog.ListAsync(2, "beta", Ct);
        var third = await _h.Catalog.ListAsync(2, "gamma/two", Ct);

        Assert.Equal(["gamma/one", "gamma/two"], second.Names);
        Assert.True(second.More);
        Assert.Equal(["zeta"], third.Names);
        Assert.False(third.More);
    }

    [Fact]
    public async Task List_LastThatIsNotARepository_StartsAtTheNextName()
    {
        await CreateRepositoriesAsync("alpha", "beta", "gamma/one");

        var (names, more) = await _h.Catalog.ListAsync(10, "b", Ct);

        Assert.Equal(["beta", "gamma/one"], names);
        Assert.False(more);
    }

    [Fact]
    public async Task List_LastAfterEverything_ReturnsNothing()
    {
        await CreateRepositoriesAsync("alpha", "beta");

        var (names, more) = await _h.Catalog.ListAsync(10, "zzz", Ct);

        Assert.Empty(names);
        Assert.False(more);
    }

    [Fact]
    public async Task List_LimitZero_ReturnsNoNames()
    {
        await CreateRepositoriesAsync("alpha");

        var (names, more) = await _h.Catalog.ListAsync(0, null, Ct);

        Assert.Empty(names);
        Assert.True(more);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(100)]
    public async Task List_PagingThroughEverything_ReturnsEachRepositoryOnce(int limit)
    {
        string[] repositories = ["a", "a/b", "a-b", "a.b", "a_b", "a/b/c", "b", "library/ubuntu", "z9"];
        await CreateRepositoriesAsync(repositories);

        var paged = await PageThroughAsync(limit);

        Assert.Equal(repositories.Order(StringComparer.Ordinal), paged.Order(StringComparer.Ordinal));
        Assert.Equal(paged.Count, paged.Distinct(StringComparer.Ordinal).Count());
    }

    /// <summary>
    /// registry:2 orders the catalog path by path, component-wise (<c>lessPath</c> in
    /// registry/storage/catalog.go compares with <c>/</c> mapped to <c>\x00</c>), so <c>a/b</c> comes
    /// before <c>a-b</c>. CatalogStore sorts with plain ordinal string order (<c>-</c> 0x2D before
    /// <c>/</c> 0x2F) and gives <c>a, a-b, a/b</c>.
    /// </summary>
    [Fact]
    public async Task List_NestedAndSeparatorNames_UseRegistryPathOrder()
    {
        await CreateRepositoriesAsync("a-b", "a/b", "a", "a.b", "a/b/c", "a_b");

        var (names, _) = await _h.Catalog.ListAsync(100, null, Ct);

        Assert.Equal(["a", "a/b", "a/b/c", "a-b", "a.b", "a_b"], names);
    }

    /// <summary>
    /// A client that paged a registry:2 catalog holds <c>last=a/b</c> and expects <c>a-b</c> next.
    /// See <see cref="List_NestedAndSeparatorNames_UseRegistryPathOrder"/>.
    /// </summary>
    [Fact]
    public async Task List_WithLastNestedName_ContinuesInRegistryPathOrder()
    {
        await CreateRepositoriesAsync("a", "a/b", "a-b");

        var afterA = await _h.Catalog.ListAsync(1, "a", Ct);
        var afterAb = await _h.Catalog.ListAsync(1, "a/b", Ct);

        Assert.Equal(["a/b"], afterA.Names);
        Assert.True(afterA.More);
        Assert.Equal(["a-b"], afterAb.Names);
        Assert.False(afterAb.More);
    }
}
