using Berth.Core;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Storage.Tests.Stores;

/// <summary>
/// The filesystem catalog caches every directory's listing and the whole sorted list; it must still see every
/// repository another Berth process creates at once (nested ones included), and one created by a writer that is not
/// Berth (registry:2 on the same volume) within <see cref="CatalogStore.FullWalkInterval"/>.
/// </summary>
public sealed class CatalogCacheTests : IDisposable
{
    private static readonly Digest Blob = Digest.Compute("layer"u8);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "berth-catalog-" + Guid.NewGuid().ToString("N"));
    private readonly CatalogStore _catalog;
    private readonly BlobStore _otherBerth;
    private readonly BlobStore _foreignWriter;

    public CatalogCacheTests()
    {
        _catalog = new CatalogStore(Driver());
        var otherDriver = Driver();
        _otherBerth = new BlobStore(otherDriver, catalog: new CatalogStore(otherDriver));
        _foreignWriter = new BlobStore(Driver());
    }

    [Fact]
    public async Task Cached_catalog_follows_repositories_another_berth_process_creates_at_once()
    {
        await CreateAsync("team/a");
        await CreateAsync("team/b");
        AgeEverything();
        Assert.Equal(["team/a", "team/b"], await ListAsync());
        Assert.Equal(["team/a", "team/b"], await ListAsync());

        await CreateAsync("team/c");        // a new sibling
        await CreateAsync("team/a/nested"); // a repository inside a cached repository
        await CreateAsync("other");         // a new top-level name
        Assert.Equal(["other", "team/a", "team/a/nested", "team/b", "team/c"], await ListAsync());

        AgeEverything();
        Assert.Equal(["other", "team/a", "team/a/nested", "team/b", "team/c"], await ListAsync());
        Directory.CreateDirectory(Path.Combine(RepositoriesRoot, "parent-only", "child"));
        Assert.Equal(["other", "team/a", "team/a/nested", "team/b", "team/c"], await ListAsync());
        await CreateAsync("parent-only/child/repo");
        Assert.Equal(["other", "parent-only/child/repo", "team/a", "team/a/nested", "team/b", "team/c"], await ListAsync());
    }

    [Fact]
    public async Task Cached_catalog_sees_a_repository_another_program_creates_within_the_full_walk_interval()
    {
        await CreateAsync("team/a");
        AgeEverything();
        Assert.Equal(["team/a"], await ListAsync());

        await _foreignWriter.LinkAsync(RepositoryName.Parse("team/foreign"), Blob, CancellationToken.None);
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        while (!(await ListAsync()).Contains("team/foreign") && stopwatch.Elapsed < CatalogStore.FullWalkInterval * 3)
        {
            await Task.Delay(100);
        }

        // Within the interval; the bound allows for a loaded machine, where the polling itself is slow.
        Assert.Equal(["team/a", "team/foreign"], await ListAsync());
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string RepositoriesRoot => Path.Combine(_root, "docker/registry/v2/repositories");

    private ValidatingDriver Driver() => new(new FilesystemDriver(_root, NullLogger<FilesystemDriver>.Instance));

    private Task CreateAsync(string name) => _otherBerth.LinkAsync(RepositoryName.Parse(name), Blob, CancellationToken.None);

    private async Task<IReadOnlyList<string>> ListAsync() => (await _catalog.ListAsync(1000, null, CancellationToken.None)).Names;

    /// <summary>Makes every directory look minutes old, so the catalog caches all of them.</summary>
    private void AgeEverything()
    {
        var old = DateTime.UtcNow.AddMinutes(-5);
        foreach (var directory in Directory.EnumerateDirectories(RepositoriesRoot, "*", SearchOption.AllDirectories).Prepend(RepositoriesRoot))
        {
            Directory.SetLastWriteTimeUtc(directory, old);
        }
    }
}
