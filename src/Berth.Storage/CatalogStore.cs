using Berth.Storage.Drivers;

namespace Berth.Storage;

/// <summary>
/// The repository catalog. A directory below <c>repositories/</c> is a repository when it holds
/// <c>_manifests</c>; directories starting with <c>_</c> are never descended into, because
/// repository path components cannot start with one.
/// </summary>
public sealed class CatalogStore(IStorageDriver driver)
{
    /// <summary>Up to <paramref name="limit"/> repository names after <paramref name="last"/>, in lexical order.</summary>
    public async Task<(IReadOnlyList<string> Names, bool More)> ListAsync(int limit, string? last, CancellationToken cancellationToken)
    {
        var all = new List<string>();
        await CollectAsync(StoragePaths.RepositoriesRoot, all, cancellationToken);
        all.Sort(StringComparer.Ordinal);

        var start = 0;
        if (last is not null)
        {
            var index = all.BinarySearch(last, StringComparer.Ordinal);
            start = index >= 0 ? index + 1 : ~index;
        }

        var count = Math.Max(0, Math.Min(limit, all.Count - start));
        return (all.GetRange(start, count), start + count < all.Count);
    }

    private async Task CollectAsync(string directory, List<string> names, CancellationToken cancellationToken)
    {
        var children = await Links.ListOrEmptyAsync(driver, directory, cancellationToken);
        var subdirectories = new List<string>();
        foreach (var child in children)
        {
            var segment = Links.LastSegment(child);
            if (segment == "_manifests")
            {
                names.Add(directory[(StoragePaths.RepositoriesRoot.Length + 1)..]);
            }
            else if (!segment.StartsWith('_'))
            {
                subdirectories.Add(child);
            }
        }

        foreach (var subdirectory in subdirectories)
        {
            await CollectAsync(subdirectory, names, cancellationToken);
        }
    }
}
