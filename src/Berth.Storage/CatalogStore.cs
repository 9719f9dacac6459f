using Berth.Storage.Drivers;

namespace Berth.Storage;

/// <summary>
/// The repository catalog. A directory below <c>repositories/</c> is a repository when it holds
/// <c>_manifests</c> or <c>_layers</c>; directories starting with <c>_</c> are never descended into, because
/// repository path components cannot start with one.
/// </summary>
public sealed class CatalogStore(IStorageDriver driver)
{
    /// <summary>Up to <paramref name="limit"/> repository names after <paramref name="last"/>, in lexical order.</summary>
    public async Task<(IReadOnlyList<string> Names, bool More)> ListAsync(int limit, string? last, CancellationToken cancellationToken)
    {
        var all = new List<string>();
        await CollectAsync(StoragePaths.RepositoriesRoot, all, cancellationToken);
        all.Sort(RepositoryPathComparer.Instance);

        var start = 0;
        if (last is not null)
        {
            var index = all.BinarySearch(last, RepositoryPathComparer.Instance);
            start = index >= 0 ? index + 1 : ~index;
        }

        var count = Math.Max(0, Math.Min(limit, all.Count - start));
        return (all.GetRange(start, count), start + count < all.Count);
    }

    private async Task CollectAsync(string directory, List<string> names, CancellationToken cancellationToken)
    {
        var children = await Links.ListOrEmptyAsync(driver, directory, cancellationToken);
        var subdirectories = new List<string>();
        var isRepository = false;
        foreach (var child in children)
        {
            var segment = Links.LastSegment(child);
            if (segment is "_manifests" or "_layers")
            {
                // registry:2 counts a repository holding only blobs (_layers) too; so do we.
                isRepository = true;
            }
            else if (!segment.StartsWith('_'))
            {
                subdirectories.Add(child);
            }
        }

        if (isRepository)
        {
            names.Add(directory[(StoragePaths.RepositoriesRoot.Length + 1)..]);
        }

        foreach (var subdirectory in subdirectories)
        {
            await CollectAsync(subdirectory, names, cancellationToken);
        }
    }
}

/// <summary>
/// registry:2's catalog order: names compared component by component, which is ordinal order
/// with <c>/</c> sorting before every other character (<c>a</c>, <c>a/b</c>, <c>a-b</c>). Paging
/// with <c>last</c> depends on both sides agreeing on it.
/// </summary>
public sealed class RepositoryPathComparer : IComparer<string>
{
    public static readonly RepositoryPathComparer Instance = new();

    public int Compare(string? x, string? y)
    {
        if (x is null || y is null)
        {
            return x is null ? (y is null ? 0 : -1) : 1;
        }

        var length = Math.Min(x.Length, y.Length);
        for (var i = 0; i < length; i++)
        {
            var a = x[i] == '/' ? '\0' : x[i];
            var b = y[i] == '/' ? '\0' : y[i];
            if (a != b)
            {
                return a.CompareTo(b);
            }
        }

        return x.Length.CompareTo(y.Length);
    }
}
