using System.Collections.Concurrent;
using System.Text;
using Berth.Core;
using Berth.Storage.Drivers;

namespace Berth.Storage;

/// <summary>
/// The repository catalog. A directory below <c>repositories/</c> is a repository when it holds
/// <c>_manifests</c> or <c>_layers</c>; directories starting with <c>_</c> are never descended into, because
/// repository path components cannot start with one.
/// </summary>
/// <remarks>
/// <para>The sorted list of names is kept as a snapshot with a version of the storage's repository set, and served
/// while that version is unchanged: on the local filesystem the modification time of <c>repositories/</c> (one stat),
/// elsewhere (S3) a small token object, <c>_berth/catalog-version</c> (one GET instead of a listing request per
/// directory of the tree). A new repository does not change either by itself (it only moves its own parent's time), so
/// every Berth process that writes into a repository it has not seen listed bumps the version after the write
/// (<see cref="NoteWrittenAsync"/>), and every process sharing the storage walks again. Writers that are not Berth
/// (registry:2 on the same volume or bucket) do not bump it; for them the tree is walked again in the background (the
/// snapshot answering meanwhile) once it is older than <see cref="FullWalkInterval"/> on the filesystem and
/// <see cref="RemoteFullWalkInterval"/> elsewhere, or ten times the last walk's duration when that is longer. Below the
/// snapshot, a filesystem walk caches every directory's listing, validated by its modification time, so a walk costs
/// one stat per directory instead of one listing.</para>
/// </remarks>
/// <param name="driver">The storage.</param>
/// <param name="time">The clock that ages snapshots (tests move it); the system's by default.</param>
public sealed class CatalogStore(IStorageDriver driver, TimeProvider? time = null)
{
    /// <summary>On the filesystem, the longest a repository created by a writer other than Berth can stay out of the catalog.</summary>
    public static readonly TimeSpan FullWalkInterval = TimeSpan.FromSeconds(5);

    /// <summary>The same for object stores, where a walk is a listing request per directory and costs far more.</summary>
    public static readonly TimeSpan RemoteFullWalkInterval = TimeSpan.FromSeconds(60);

    /// <summary>The token object remote storage keeps the repository-set version in; outside <c>repositories/</c>, so
    /// registry:2 never sees it.</summary>
    public const string RemoteVersionPath = StoragePaths.Root + "/_berth/catalog-version";

    private const int MaxCachedDirectories = 200_000;
    private const int RemoteWalkConcurrency = 16;
    private const int MaxAnnouncedRepositories = 100_000;

    // As for directory listings: a time within the last second may not have moved on for a change made in that second.
    private static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(1);

    private readonly DirectoryListingCache<CatalogDirectory> _directories = new(driver, MaxCachedDirectories, CatalogDirectory.Of);
    private readonly string? _localRoot = LocalRepositoriesRoot(driver);
    // Listings in flight during a walk: on the filesystem each is a stat (or a read of the directory) and the cores
    // bound it; an object store answers each after a round trip, so more of them overlap.
    private readonly int _walkConcurrency = LocalRepositoriesRoot(driver) is null ? RemoteWalkConcurrency : Math.Max(2, Environment.ProcessorCount);
    private readonly ConcurrentDictionary<string, byte> _announced = new(StringComparer.Ordinal);
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private volatile CatalogSnapshot? _snapshot;
    private int _refreshing;

    /// <summary>Up to <paramref name="limit"/> repository names after <paramref name="last"/>, in lexical order.</summary>
    public async Task<(IReadOnlyList<string> Names, bool More)> ListAsync(int limit, string? last, CancellationToken cancellationToken)
    {
        var all = await SortedNamesAsync(cancellationToken);
        var start = 0;
        if (last is not null)
        {
            var index = Array.BinarySearch(all, last, RepositoryPathComparer.Instance);
            start = index >= 0 ? index + 1 : ~index;
        }

        var count = Math.Max(0, Math.Min(limit, all.Length - start));
        return (new ArraySegment<string>(all, start, count), start + count < all.Length);
    }

    /// <summary>
    /// Tells the catalog that <paramref name="name"/> was just written into (a blob linked, a manifest stored), so the
    /// repository may be new. Bumps the repository-set version once per repository this process has not seen listed.
    /// </summary>
    public async Task NoteWrittenAsync(RepositoryName name, CancellationToken cancellationToken)
    {
        if (_snapshot is { } snapshot && Array.BinarySearch(snapshot.Names, name.Value, RepositoryPathComparer.Instance) >= 0
            || !_announced.TryAdd(name.Value, 0))
        {
            return;
        }

        if (_announced.Count > MaxAnnouncedRepositories)
        {
            _announced.Clear();
        }

        try
        {
            if (_localRoot is not null)
            {
                Directory.SetLastWriteTimeUtc(_localRoot, DateTime.UtcNow);
            }
            else
            {
                await driver.PutContentAsync(RemoteVersionPath, Encoding.ASCII.GetBytes(Guid.NewGuid().ToString("N")), cancellationToken);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Only the catalog's freshness in other processes depends on it, and the full-walk interval bounds that.
            _announced.TryRemove(name.Value, out _);
        }
    }

    private async Task<string[]> SortedNamesAsync(CancellationToken cancellationToken)
    {
        // Read before the walk: a change made during the walk moves the version past what the snapshot records.
        var version = await RepositorySetVersionAsync(cancellationToken);
        if (version is null)
        {
            return [];
        }

        if (_snapshot is { } snapshot && snapshot.Version == version.Value.Stamp)
        {
            // Unchanged by any Berth: only a writer that is not Berth can have added a repository since the walk. Past
            // the interval the snapshot is still the answer while one walk refreshes it in the background, so no request
            // waits for a walk a large tree makes long (about 5 s at 100,000 repositories on the filesystem).
            if (_time.GetElapsedTime(snapshot.WalkedAt) >= RefreshInterval(snapshot))
            {
                RefreshInBackground(version.Value);
            }

            return snapshot.Names;
        }

        return await WalkAsync(version.Value, cancellationToken);
    }

    /// <summary>
    /// How old a snapshot may grow before a background walk refreshes it: the driver's interval, or ten times the last
    /// walk's duration when that is longer, so refreshing a large tree takes at most a tenth of one core.
    /// </summary>
    private TimeSpan RefreshInterval(CatalogSnapshot snapshot)
    {
        var interval = _localRoot is null ? RemoteFullWalkInterval : FullWalkInterval;
        return snapshot.WalkDuration * 10 > interval ? snapshot.WalkDuration * 10 : interval;
    }

    private void RefreshInBackground((string Stamp, bool Settled) version)
    {
        if (Interlocked.CompareExchange(ref _refreshing, 1, 0) != 0)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                // On no request's token: the walk serves whoever asks next.
                await WalkAsync(version, CancellationToken.None);
            }
            catch (Exception)
            {
                // Whatever failed the walk (a store that stopped answering), the snapshot stays the answer and the
                // next request past the interval tries again; a request that needs a walk reports the failure itself.
            }
            finally
            {
                Volatile.Write(ref _refreshing, 0);
            }
        });
    }

    private async Task<string[]> WalkAsync((string Stamp, bool Settled) version, CancellationToken cancellationToken)
    {
        var walkedAt = _time.GetTimestamp();
        var sorted = await CollectAsync(cancellationToken);
        Array.Sort(sorted, RepositoryPathComparer.Instance);
        if (version.Settled)
        {
            // The snapshot's age counts from the walk's start: a change during the walk may be missing from it.
            _snapshot = new CatalogSnapshot(version.Stamp, walkedAt, _time.GetElapsedTime(walkedAt), sorted);
        }

        return sorted;
    }

    /// <summary>The repository-set version (see the remarks), whether it may be cached under, or null when there are no repositories.</summary>
    private async Task<(string Stamp, bool Settled)?> RepositorySetVersionAsync(CancellationToken cancellationToken)
    {
        if (_localRoot is not null)
        {
            try
            {
                var modifiedAt = (await driver.StatAsync(StoragePaths.RepositoriesRoot, cancellationToken)).ModifiedAt;
                return (modifiedAt.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture), modifiedAt < DateTimeOffset.UtcNow - SettleTime);
            }
            catch (StoragePathNotFoundException)
            {
                return null;
            }
        }

        try
        {
            return (Encoding.ASCII.GetString(await driver.GetContentAsync(RemoteVersionPath, 64, cancellationToken)), true);
        }
        catch (StoragePathNotFoundException)
        {
            // No Berth has written here yet (a registry:2 bucket): the interval alone refreshes the snapshot.
            return ("", true);
        }
    }

    private static string? LocalRepositoriesRoot(IStorageDriver driver) =>
        driver.AsLocal()?.LocalPath(StoragePaths.RepositoriesRoot);

    /// <summary>
    /// Every repository below <c>repositories/</c>, unsorted: the tree level by level, each level's directories listed
    /// <see cref="_walkConcurrency"/> at a time. On an object store each listing is a request of its own, and one
    /// after another they made the first catalog of 1,000 repositories over S3 take about a minute.
    /// </summary>
    private async Task<string[]> CollectAsync(CancellationToken cancellationToken)
    {
        var names = new ConcurrentBag<string>();
        var level = new[] { StoragePaths.RepositoriesRoot };
        var options = new ParallelOptions { MaxDegreeOfParallelism = _walkConcurrency, CancellationToken = cancellationToken };
        while (level.Length > 0)
        {
            var below = new ConcurrentBag<string[]>();
            await Parallel.ForEachAsync(level, options, async (directory, token) =>
            {
                if (await _directories.GetAsync(directory, token) is not { } listing)
                {
                    return;
                }

                if (listing.IsRepository)
                {
                    names.Add(directory[(StoragePaths.RepositoriesRoot.Length + 1)..]);
                }

                if (listing.Subdirectories.Length > 0)
                {
                    below.Add(listing.Subdirectories);
                }
            });
            level = [.. below.SelectMany(d => d)];
        }

        return [.. names];
    }

    /// <summary>A full walk's sorted names, with the repository-set version it was taken under.</summary>
    private sealed record CatalogSnapshot(string Version, long WalkedAt, TimeSpan WalkDuration, string[] Names);

    /// <summary>What the catalog needs of one directory: whether it is a repository, and where to descend.</summary>
    private sealed record CatalogDirectory(bool IsRepository, string[] Subdirectories)
    {
        public static CatalogDirectory Of(IReadOnlyList<string> children)
        {
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

            return new CatalogDirectory(isRepository, [.. subdirectories]);
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
