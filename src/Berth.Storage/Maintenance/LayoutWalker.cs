using System.Runtime.CompilerServices;
using Berth.Core;
using Berth.Storage.Drivers;

namespace Berth.Storage.Maintenance;

/// <summary>
/// Full, unpaged enumerations of the layout for maintenance jobs. <see cref="CatalogStore"/> pages
/// names for the API and only counts directories holding <c>_manifests</c>; a collector must also
/// see repositories that so far hold only <c>_layers</c> or <c>_uploads</c> (a push whose manifest
/// has not arrived yet), because their links protect blobs and their uploads may need purging.
/// </summary>
internal static class LayoutWalker
{
    /// <summary>
    /// Every directory below <c>repositories/</c> holding an underscore directory, depth first.
    /// Underscore directories are never descended into (repository components cannot start with
    /// <c>_</c>), so a nested repository (<c>a/b</c> under <c>a</c>) is still found.
    /// Directories whose path is not a valid repository name are skipped and reported to
    /// <paramref name="invalid"/>.
    /// </summary>
    public static async IAsyncEnumerable<RepositoryName> RepositoriesAsync(IStorageDriver driver, Action<string>? invalid,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pending = new Stack<string>();
        pending.Push(StoragePaths.RepositoriesRoot);
        while (pending.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var directory = pending.Pop();
            var children = await Links.ListOrEmptyAsync(driver, directory, cancellationToken);
            var isRepository = false;
            var subdirectories = new List<string>();
            foreach (var child in children)
            {
                if (Links.LastSegment(child).StartsWith('_'))
                {
                    isRepository = true;
                }
                else
                {
                    subdirectories.Add(child);
                }
            }

            if (isRepository && directory.Length > StoragePaths.RepositoriesRoot.Length)
            {
                var value = directory[(StoragePaths.RepositoriesRoot.Length + 1)..];
                if (RepositoryName.TryParse(value, out var name))
                {
                    yield return name;
                }
                else
                {
                    invalid?.Invoke(value);
                }
            }

            // Reverse order so names come out in roughly lexical order when the driver lists sorted.
            subdirectories.Sort(StringComparer.Ordinal);
            for (var i = subdirectories.Count - 1; i >= 0; i--)
            {
                pending.Push(subdirectories[i]);
            }
        }
    }

    /// <summary>
    /// The digests named by a two-level <c>&lt;alg&gt;/&lt;hex&gt;</c> tree below <paramref name="path"/>
    /// (revisions, layer links, referrer subjects, tag history, quarantine), by path as distribution
    /// enumerates them. Entries that do not spell a supported digest are ignored.
    /// </summary>
    public static async Task<List<Digest>> DigestTreeAsync(IStorageDriver driver, string path, CancellationToken cancellationToken)
    {
        var result = new List<Digest>();
        foreach (var algorithmDirectory in await Links.ListOrEmptyAsync(driver, path, cancellationToken))
        {
            var algorithm = Links.LastSegment(algorithmDirectory);
            if (!Digest.IsSupportedAlgorithm(algorithm))
            {
                continue;
            }

            foreach (var entry in await Links.ListOrEmptyAsync(driver, algorithmDirectory, cancellationToken))
            {
                if (Digest.TryParse(algorithm + ":" + Links.LastSegment(entry), out var digest))
                {
                    result.Add(digest);
                }
            }
        }

        return result;
    }

    /// <summary>
    /// Every blob directory of the content store, <c>blobs/&lt;alg&gt;/&lt;hex[0:2]&gt;/&lt;hex&gt;</c>, by
    /// prefix directory so a caller can stat them in parallel. Whether <c>data</c> exists is the
    /// caller's to check (the filesystem keeps empty directories).
    /// </summary>
    public static async IAsyncEnumerable<List<Digest>> BlobPrefixesAsync(IStorageDriver driver,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var algorithmDirectory in await Links.ListOrEmptyAsync(driver, StoragePaths.BlobsRoot, cancellationToken))
        {
            var algorithm = Links.LastSegment(algorithmDirectory);
            if (!Digest.IsSupportedAlgorithm(algorithm))
            {
                continue;
            }

            foreach (var prefixDirectory in await Links.ListOrEmptyAsync(driver, algorithmDirectory, cancellationToken))
            {
                var prefix = Links.LastSegment(prefixDirectory);
                var digests = new List<Digest>();
                foreach (var entry in await Links.ListOrEmptyAsync(driver, prefixDirectory, cancellationToken))
                {
                    // A blob filed under the wrong prefix is not reachable by any store: leave it alone.
                    if (Digest.TryParse(algorithm + ":" + Links.LastSegment(entry), out var digest)
                        && digest.Encoded.StartsWith(prefix, StringComparison.Ordinal) && prefix.Length == 2)
                    {
                        digests.Add(digest);
                    }
                }

                yield return digests;
            }
        }
    }

    /// <summary>Stat, or null when the path does not exist.</summary>
    public static async Task<StorageFileInfo?> StatOrNullAsync(IStorageDriver driver, string path, CancellationToken cancellationToken)
    {
        try
        {
            return await driver.StatAsync(path, cancellationToken);
        }
        catch (StoragePathNotFoundException)
        {
            return null;
        }
    }
}
