using System.Collections.Concurrent;
using System.Diagnostics;
using Berth.Core;
using Berth.Storage.Drivers;

namespace Berth.Storage.Maintenance;

/// <summary>What one repository keeps in storage.</summary>
/// <param name="Name">The repository.</param>
/// <param name="Bytes">The size of every blob the repository links (layers, configs and manifests), each counted once here.</param>
/// <param name="Blobs">How many blobs it links.</param>
/// <param name="ExclusiveBytes">
/// The part of <paramref name="Bytes"/> no other repository links: what deleting the repository would free at the next
/// garbage collection.
/// </param>
/// <param name="ExclusiveBlobs">How many of its blobs no other repository links.</param>
public sealed record RepositoryUsage(RepositoryName Name, long Bytes, int Blobs, long ExclusiveBytes, int ExclusiveBlobs);

/// <summary>Storage use of the whole registry at <see cref="TakenAt"/>.</summary>
/// <param name="TakenAt">When the walk started.</param>
/// <param name="Duration">How long it took.</param>
/// <param name="Repositories">Every repository, by name.</param>
/// <param name="UniqueBytes">The size of every linked blob counted once for the registry (shared layers deduplicated).</param>
/// <param name="UniqueBlobs">How many distinct blobs repositories link.</param>
public sealed record StorageUsageReport(DateTimeOffset TakenAt, TimeSpan Duration, IReadOnlyList<RepositoryUsage> Repositories, long UniqueBytes,
    int UniqueBlobs)
{
    /// <summary>The sum of every repository's <see cref="RepositoryUsage.Bytes"/>: shared blobs counted once per repository.</summary>
    public long RepositoryBytes => Repositories.Sum(repository => repository.Bytes);

    /// <summary>For each of <see cref="Repositories"/>, the indexes into <see cref="BlobSizes"/> of the blobs it links.</summary>
    internal IReadOnlyList<int[]> LinkedBlobs { get; init; } = [];

    /// <summary>The size of every distinct linked blob.</summary>
    internal IReadOnlyList<long> BlobSizes { get; init; } = [];

    /// <summary>
    /// Bytes and blob count of the repositories <paramref name="include"/> accepts, each blob counted once however many
    /// of them link it (what a user who sees only those repositories may be told about).
    /// </summary>
    public (long Bytes, int Blobs) DeduplicatedTotal(Func<RepositoryName, bool> include)
    {
        ArgumentNullException.ThrowIfNull(include);
        var counted = new bool[BlobSizes.Count];
        long bytes = 0;
        var blobs = 0;
        for (var i = 0; i < Repositories.Count; i++)
        {
            if (!include(Repositories[i].Name))
            {
                continue;
            }

            foreach (var blob in LinkedBlobs[i])
            {
                if (!counted[blob])
                {
                    counted[blob] = true;
                    bytes += BlobSizes[blob];
                    blobs++;
                }
            }
        }

        return (bytes, blobs);
    }
}

/// <summary>
/// Measures storage use from the layout: a repository uses the blobs its <c>_layers</c> and <c>_manifests/revisions</c>
/// links name (what registry:2's garbage collector would keep for it, before unreferenced links are swept), and a
/// blob's size is its <c>data</c> file's. Blobs linked by no repository (waiting for garbage collection) are not counted.
/// </summary>
/// <remarks>
/// One walk lists every repository's two link trees and stats each distinct blob once; sizes are remembered across
/// walks (content under a digest cannot change), so a later walk costs the listings and the new blobs' stats only.
/// </remarks>
public sealed class StorageUsageScanner(IStorageDriver driver, TimeProvider? time = null)
{
    private const int Parallelism = 16;
    private const int MaxRememberedSizes = 1_000_000;

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<Digest, long> _sizes = new();

    /// <summary>Walks the whole layout once.</summary>
    public async Task<StorageUsageReport> ScanAsync(CancellationToken cancellationToken)
    {
        var takenAt = _time.GetUtcNow();
        var started = Stopwatch.GetTimestamp();
        var names = new List<RepositoryName>();
        await foreach (var name in LayoutWalker.RepositoriesAsync(driver, null, cancellationToken))
        {
            names.Add(name);
        }

        var linked = new HashSet<Digest>[names.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, names.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (index, token) =>
            {
                var root = StoragePaths.Repository(names[index]);
                var digests = new HashSet<Digest>(await LayoutWalker.DigestTreeAsync(driver, root + "/_layers", token));
                digests.UnionWith(await LayoutWalker.DigestTreeAsync(driver, root + "/_manifests/revisions", token));
                linked[index] = digests;
            });

        var linkCounts = new Dictionary<Digest, int>();
        foreach (var digests in linked)
        {
            foreach (var digest in digests)
            {
                linkCounts[digest] = linkCounts.GetValueOrDefault(digest) + 1;
            }
        }

        if (_sizes.Count > MaxRememberedSizes)
        {
            _sizes.Clear();
        }

        var sizes = new ConcurrentDictionary<Digest, long>();
        await Parallel.ForEachAsync(linkCounts.Keys, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (digest, token) =>
            {
                if (_sizes.TryGetValue(digest, out var known))
                {
                    sizes[digest] = known;
                }
                else if (await LayoutWalker.StatOrNullAsync(driver, StoragePaths.BlobData(digest), token) is { IsDirectory: false } info)
                {
                    sizes[digest] = _sizes[digest] = info.Size;
                }
            });

        // Distinct blobs with a size, numbered, so a report can total any subset of repositories without their digests.
        var blobIndex = new Dictionary<Digest, int>(sizes.Count);
        var blobSizes = new List<long>(sizes.Count);
        foreach (var (digest, size) in sizes)
        {
            blobIndex[digest] = blobSizes.Count;
            blobSizes.Add(size);
        }

        var repositories = new (RepositoryUsage Usage, int[] Links)[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            long bytes = 0, exclusiveBytes = 0;
            int exclusiveBlobs = 0;
            var links = new List<int>(linked[i].Count);
            foreach (var digest in linked[i])
            {
                if (!blobIndex.TryGetValue(digest, out var index))
                {
                    continue;
                }

                var size = blobSizes[index];
                links.Add(index);
                bytes += size;
                if (linkCounts[digest] == 1)
                {
                    exclusiveBytes += size;
                    exclusiveBlobs++;
                }
            }

            repositories[i] = (new RepositoryUsage(names[i], bytes, links.Count, exclusiveBytes, exclusiveBlobs), [.. links]);
        }

        Array.Sort(repositories, (a, b) => RepositoryPathComparer.Instance.Compare(a.Usage.Name.Value, b.Usage.Name.Value));
        return new StorageUsageReport(takenAt, Stopwatch.GetElapsedTime(started), [.. repositories.Select(repository => repository.Usage)],
            blobSizes.Sum(), blobSizes.Count)
        {
            LinkedBlobs = [.. repositories.Select(repository => repository.Links)],
            BlobSizes = blobSizes,
        };
    }
}
