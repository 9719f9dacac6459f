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
    /// Every prefix directory of the content store, <c>blobs/&lt;alg&gt;/&lt;hex[0:2]&gt;</c>, with its algorithm, so that a
    /// caller can list them in parallel (<see cref="BlobDataAsync"/>).
    /// </summary>
    public static async IAsyncEnumerable<(string Algorithm, string Directory)> BlobPrefixDirectoriesAsync(IStorageDriver driver,
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
                if (Links.LastSegment(prefixDirectory).Length == 2)
                {
                    yield return (algorithm, prefixDirectory);
                }
            }
        }
    }

    /// <summary>
    /// Every blob directory of the content store, <c>blobs/&lt;alg&gt;/&lt;hex[0:2]&gt;/&lt;hex&gt;</c>, by prefix directory,
    /// whether or not it holds <c>data</c> (the filesystem keeps empty directories; the scrub counts them).
    /// </summary>
    public static async IAsyncEnumerable<List<Digest>> BlobPrefixesAsync(IStorageDriver driver,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (algorithm, prefixDirectory) in BlobPrefixDirectoriesAsync(driver, cancellationToken))
        {
            var prefix = Links.LastSegment(prefixDirectory);
            var digests = new List<Digest>();
            foreach (var entry in await Links.ListOrEmptyAsync(driver, prefixDirectory, cancellationToken))
            {
                // A blob filed under the wrong prefix is not reachable by any store: leave it alone.
                if (Digest.TryParse(algorithm + ":" + Links.LastSegment(entry), out var digest) && digest.Encoded.StartsWith(prefix, StringComparison.Ordinal))
                {
                    digests.Add(digest);
                }
            }

            yield return digests;
        }
    }

    /// <summary>
    /// The blobs of one prefix directory whose <c>data</c> is there, with its size and modification time. On an object
    /// store one <see cref="IStorageDriver.ListFilesAsync"/>: a listing request per thousand blobs instead of a HEAD per
    /// blob. On the filesystem a stat per blob, by name, which costs less than opening every blob directory to find its
    /// one file. Anything else below the directory (a blob filed under the wrong prefix, which no store can reach, or a
    /// stray file) is left alone.
    /// </summary>
    public static async Task<List<(Digest Digest, StorageFileInfo Data)>> BlobDataAsync(IStorageDriver driver, string algorithm,
        string prefixDirectory, CancellationToken cancellationToken)
    {
        var prefix = Links.LastSegment(prefixDirectory);
        var result = new List<(Digest, StorageFileInfo)>();
        if (driver.AsLocal() is not null)
        {
            foreach (var entry in await Links.ListOrEmptyAsync(driver, prefixDirectory, cancellationToken))
            {
                if (Digest.TryParse(algorithm + ":" + Links.LastSegment(entry), out var digest) && digest.Encoded.StartsWith(prefix, StringComparison.Ordinal)
                    && await StatOrNullAsync(driver, StoragePaths.BlobData(digest), cancellationToken) is { IsDirectory: false } data)
                {
                    result.Add((digest, data));
                }
            }

            return result;
        }

        foreach (var file in await driver.ListFilesAsync(prefixDirectory, cancellationToken))
        {
            if (EntryBelow(file.Path, prefixDirectory, "data") is { } encoded && encoded.StartsWith(prefix, StringComparison.Ordinal)
                && Digest.TryParse(algorithm + ":" + encoded, out var digest))
            {
                result.Add((digest, file));
            }
        }

        return result;
    }

    /// <summary>
    /// A repository's layer links that are there (<c>_layers/&lt;alg&gt;/&lt;hex&gt;/link</c>), with their modification times:
    /// on an object store from one <see cref="IStorageDriver.ListFilesAsync"/>, on the filesystem a stat per link by name
    /// (as for <see cref="BlobDataAsync"/>).
    /// </summary>
    public static async Task<List<(Digest Digest, DateTimeOffset ModifiedAt)>> LayerLinksAsync(IStorageDriver driver, RepositoryName name,
        CancellationToken cancellationToken)
    {
        var layers = StoragePaths.Repository(name) + "/_layers";
        var result = new List<(Digest, DateTimeOffset)>();
        if (driver.AsLocal() is not null)
        {
            foreach (var digest in await DigestTreeAsync(driver, layers, cancellationToken))
            {
                if (await StatOrNullAsync(driver, StoragePaths.LayerLink(name, digest), cancellationToken) is { IsDirectory: false } link)
                {
                    result.Add((digest, link.ModifiedAt));
                }
            }

            return result;
        }

        foreach (var file in await driver.ListFilesAsync(layers, cancellationToken))
        {
            // <layers>/<alg>/<hex>/link: split off the algorithm, then take the hex as for a blob.
            var algorithmEnd = file.Path.IndexOf('/', layers.Length + 1);
            if (algorithmEnd < 0)
            {
                continue;
            }

            var algorithm = file.Path[(layers.Length + 1)..algorithmEnd];
            if (EntryBelow(file.Path, file.Path[..algorithmEnd], "link") is { } encoded && Digest.TryParse(algorithm + ":" + encoded, out var digest))
            {
                result.Add((digest, file.ModifiedAt));
            }
        }

        return result;
    }

    /// <summary>For <c>&lt;directory&gt;/&lt;entry&gt;/&lt;fileName&gt;</c> exactly, the entry's name; otherwise null.</summary>
    private static string? EntryBelow(string path, string directory, string fileName)
    {
        var start = directory.Length + 1;
        var end = path.Length - fileName.Length - 1;
        return end > start && path.StartsWith(directory, StringComparison.Ordinal) && path[directory.Length] == '/'
            && path[end] == '/' && path.EndsWith(fileName, StringComparison.Ordinal) && path.IndexOf('/', start, end - start) < 0
            ? path[start..end]
            : null;
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
