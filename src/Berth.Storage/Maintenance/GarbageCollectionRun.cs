using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Berth.Core;
using Berth.Storage.Caching;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging;

namespace Berth.Storage.Maintenance;

/// <summary>
/// The state of one collection; <see cref="GarbageCollector"/> documents the algorithm. Marking is
/// sequential per repository (the mark set is shared), while the next few repositories are read ahead;
/// storage reads within a phase run up to <see cref="GarbageCollectionOptions.MaxConcurrency"/> at a time.
/// </summary>
/// Every link it removes, and every blob it quarantines, is dropped from the blob descriptor cache before and after
/// the change (see <see cref="IBlobDescriptorCache"/> for why twice).
internal sealed class GarbageCollectionRun(IStorageDriver driver, TagStore tags, ReferrerStore referrers, IBlobDescriptorCache cache,
    TimeProvider time, ILogger logger, GarbageCollectionOptions options, IProgress<string>? progress)
{
    /// <summary>Repositories read ahead of the mark, each with up to <see cref="GarbageCollectionOptions.MaxConcurrency"/> reads of its own.</summary>
    private const int RepositoryReadAhead = 4;

    private readonly HashSet<DigestKey> _marked = [];
    private readonly List<RepositoryState> _repositories = [];
    private readonly Dictionary<RepositoryName, RepositoryState> _byName = [];
    private readonly ConcurrentDictionary<DigestKey, BlobCandidate> _quarantined = new();
    private readonly Lock _progressLock = new();
    private HashSet<DigestKey> _pendingQuarantine = [];
    private DateTimeOffset _protectedSince;
    private bool _rescanning;
    private int _manifestsScanned;
    private int _manifestsDeleted;
    private int _blobsScanned;
    private int _blobsInGrace;
    private int _blobsDeleted;
    private long _bytesFreed;
    private int _linksRemoved;
    private int _blobsRestored;

    public async Task<GarbageCollectionReport> ExecuteAsync(CancellationToken cancellationToken)
    {
        var startedAt = time.GetUtcNow();
        var started = time.GetTimestamp();
        _protectedSince = startedAt - options.GracePeriod;
        MaintenanceLog.CollectionStarted(logger, options.DryRun, options.DeleteUntagged, options.GracePeriod);

        int recovered;
        var phaseStarted = started;
        if (options.DryRun)
        {
            recovered = 0;
            _pendingQuarantine = [.. (await Quarantine.ListAsync(driver, cancellationToken)).Select(DigestKey.Of)];
            if (_pendingQuarantine.Count > 0)
            {
                MaintenanceLog.QuarantinePending(logger, _pendingQuarantine.Count);
                Report($"{_pendingQuarantine.Count} blobs are in quarantine from an interrupted run; a run that is not a dry run restores them");
            }
        }
        else
        {
            recovered = await RecoverQuarantineAsync(driver, logger, cancellationToken);
        }

        PhaseDone("recover", ref phaseStarted);
        await MarkAsync(cancellationToken);
        PhaseDone("mark", ref phaseStarted);
        await InvokeAsync(options.Hooks?.AfterMark, cancellationToken);
        var plan = await PlanAsync(cancellationToken);
        PhaseDone("plan", ref phaseStarted);

        if (options.DryRun)
        {
            _manifestsDeleted = plan.ManifestCount;
            _blobsDeleted = plan.Blobs.Count;
            _bytesFreed = plan.Blobs.Sum(b => b.Size);
            _linksRemoved = plan.Blobs.Sum(b => b.Linkers.Length) + plan.DanglingLinks.Count;
        }
        else
        {
            try
            {
                await DeleteManifestsAsync(cancellationToken);
                PhaseDone("delete manifests", ref phaseStarted);
                await QuarantineAsync(plan.Blobs, cancellationToken);
                PhaseDone("quarantine", ref phaseStarted);
                await InvokeAsync(options.Hooks?.AfterQuarantine, cancellationToken);
                if (_quarantined.Count > 0 || _manifestsDeleted > 0)
                {
                    if (options.SettleDelay > TimeSpan.Zero)
                    {
                        await Task.Delay(options.SettleDelay, time, cancellationToken);
                        PhaseDone("settle", ref phaseStarted);
                    }

                    await RescanAsync(cancellationToken);
                    PhaseDone("rescan", ref phaseStarted);
                }

                await InvokeAsync(options.Hooks?.BeforePurge, cancellationToken);
                await PurgeAsync(cancellationToken);
                PhaseDone("purge", ref phaseStarted);
                await RemoveDanglingLinksAsync(plan.DanglingLinks, cancellationToken);
                PhaseDone("dangling links", ref phaseStarted);
            }
            finally
            {
                if (!_quarantined.IsEmpty)
                {
                    await RestoreAllAsync();
                }
            }
        }

        var report = new GarbageCollectionReport
        {
            DryRun = options.DryRun,
            StartedAt = startedAt,
            Duration = time.GetElapsedTime(started),
            Repositories = _repositories.Count(r => !r.AddedByRescan),
            ManifestsScanned = _manifestsScanned,
            ManifestsDeleted = _manifestsDeleted,
            BlobsScanned = _blobsScanned,
            BlobsMarked = _marked.Count,
            BlobsInGracePeriod = _blobsInGrace,
            BlobsDeleted = _blobsDeleted,
            BytesFreed = _bytesFreed,
            LinksRemoved = _linksRemoved,
            BlobsRestored = _blobsRestored,
            QuarantineRecovered = recovered,
        };
        Report(options.DryRun
            ? $"{report.BlobsMarked} blobs marked, {report.BlobsDeleted} blobs ({report.BytesFreed} bytes) and {report.ManifestsDeleted} manifests eligible for deletion"
            : $"{report.BlobsMarked} blobs marked, {report.BlobsDeleted} blobs deleted ({report.BytesFreed} bytes freed), {report.ManifestsDeleted} manifests deleted, {report.LinksRemoved} links removed, {report.BlobsRestored} blobs restored");
        MaintenanceLog.CollectionFinished(logger, report.Duration, report.Repositories, report.ManifestsDeleted, report.ManifestsScanned,
            report.BlobsDeleted, report.BlobsScanned, report.BytesFreed, report.LinksRemoved, report.BlobsRestored, report.DryRun);
        return report;
    }

    /// <summary>Moves everything in quarantine back to <c>blobs/</c>; returns how many were moved.</summary>
    public static async Task<int> RecoverQuarantineAsync(IStorageDriver driver, ILogger logger, CancellationToken cancellationToken)
    {
        var restored = 0;
        foreach (var digest in await Quarantine.ListAsync(driver, cancellationToken))
        {
            if (await Quarantine.RestoreAsync(driver, digest, cancellationToken))
            {
                restored++;
            }
        }

        if (restored > 0)
        {
            MaintenanceLog.QuarantineRecovered(logger, restored);
        }

        return restored;
    }

    // ---- mark ----

    private async Task MarkAsync(CancellationToken cancellationToken)
    {
        // Repositories are read a window at a time (their listings, manifests and tags in parallel: on an object store
        // each is a round trip) and marked one after another in walk order, since the mark set is shared.
        var window = new List<RepositoryName>(RepositoryReadAhead);
        await foreach (var name in LayoutWalker.RepositoriesAsync(driver, path => MaintenanceLog.InvalidRepositoryDirectory(logger, path), cancellationToken))
        {
            window.Add(name);
            if (window.Count == RepositoryReadAhead)
            {
                await ScanWindowAsync(window, cancellationToken);
                window.Clear();
            }
        }

        await ScanWindowAsync(window, cancellationToken);

        if (!options.DeleteUntagged)
        {
            return;
        }

        // registry:2 keeps an untagged manifest whose digest is marked anywhere (the same image
        // tagged in another repository). Keeping one may mark more, so repeat until stable.
        bool changed;
        do
        {
            changed = false;
            foreach (var repository in _repositories)
            {
                var rescued = repository.CandidatesWhere(_marked.Contains).ToList();
                if (rescued.Count > 0)
                {
                    await KeepAsync(repository, rescued, cancellationToken);
                    changed = true;
                }
            }
        }
        while (changed);
    }

    private async Task ScanWindowAsync(List<RepositoryName> names, CancellationToken cancellationToken)
    {
        var contents = new RepositoryContent[names.Count];
        await Parallel.ForAsync(0, names.Count, Parallelism(cancellationToken), async (index, token) =>
            contents[index] = await ReadRepositoryAsync(names[index], token));
        for (var index = 0; index < names.Count; index++)
        {
            Report(names[index].Value);
            await MarkRepositoryAsync(Register(names[index], addedByRescan: false), contents[index], cancellationToken);
            contents[index] = null!;
        }
    }

    /// <summary>What the mark needs of a repository, read without touching the shared mark state.</summary>
    private async Task<RepositoryContent> ReadRepositoryAsync(RepositoryName name, CancellationToken cancellationToken)
    {
        var root = StoragePaths.Repository(name);
        var revisions = await LayoutWalker.DigestTreeAsync(driver, root + "/_manifests/revisions", cancellationToken);
        var nodes = new ConcurrentDictionary<Digest, ManifestReferences?>();
        await ForEachAsync(revisions, async (digest, token) => nodes[digest] = await LoadAsync(digest, token), cancellationToken);

        var indexedReferrers = new List<(Digest Subject, Digest Referrer)>();
        foreach (var subject in await LayoutWalker.DigestTreeAsync(driver, root + "/_referrers", cancellationToken))
        {
            foreach (var referrer in await referrers.ListAsync(name, subject, cancellationToken))
            {
                indexedReferrers.Add((subject, referrer));
            }
        }

        List<string> tagNames = [.. await tags.ListAsync(name, cancellationToken, fresh: true) ?? []];

        // Only a collection of untagged manifests asks where each tag points.
        var tagTargets = new ConcurrentBag<Digest>();
        if (options.DeleteUntagged)
        {
            await ForEachAsync(tagNames, async (tag, token) =>
            {
                if (await tags.ResolveAsync(name, tag, token) is { } target)
                {
                    tagTargets.Add(target);
                }
            }, cancellationToken);
        }

        return new RepositoryContent(revisions, nodes, indexedReferrers, tagNames, tagTargets);
    }

    private async Task MarkRepositoryAsync(RepositoryState repository, RepositoryContent content, CancellationToken cancellationToken)
    {
        var revisions = content.Revisions;
        repository.AddRevisions(revisions);
        _manifestsScanned += revisions.Count;

        var nodes = content.Nodes;
        repository.Nodes = nodes;
        foreach (var (digest, node) in nodes)
        {
            if (node is { Subject: { } subject })
            {
                repository.AddReferrer(subject, digest);
            }

            if (node is { Understood: false })
            {
                MaintenanceLog.ManifestNotUnderstood(logger, digest, repository.Name);
            }
        }

        foreach (var (subject, referrer) in content.IndexedReferrers)
        {
            repository.AddReferrer(subject, referrer);
        }

        repository.TagNames = content.TagNames;

        // As registry:2: revisions are what exists; tags only decide which of them are reached. A
        // tag naming a manifest without a revision link (left by an old manifest delete) keeps nothing.
        var roots = new List<Digest>();
        if (options.DeleteUntagged)
        {
            roots.AddRange(content.TagTargets.Where(repository.HasRevision));
            roots.AddRange(revisions.Where(d => nodes[d] is null or { Understood: false }));
        }
        else
        {
            roots.AddRange(revisions);
        }

        await KeepAsync(repository, roots, cancellationToken);

        if (options.DeleteUntagged)
        {
            // An untagged revision younger than the grace period may be an index's child whose
            // index is still being pushed; keep it as a root.
            var young = new ConcurrentBag<Digest>();
            await ForEachAsync(revisions.Where(d => !repository.IsKept(d)).ToList(), async (digest, token) =>
            {
                if (await RevisionModifiedAtAsync(repository.Name, digest, token) is { } modified && modified >= _protectedSince)
                {
                    young.Add(digest);
                }
            }, cancellationToken);
            await KeepAsync(repository, young, cancellationToken);
        }

        // Parsed content is kept only while the repository is marked; later phases reload on demand.
        repository.Nodes = null;
    }

    /// <summary>Keeps <paramref name="roots"/> in <paramref name="repository"/> with everything they reach, marking as it goes.</summary>
    private async Task KeepAsync(RepositoryState repository, IEnumerable<Digest> roots, CancellationToken cancellationToken)
    {
        var queue = new Queue<Digest>(roots);
        while (queue.TryDequeue(out var digest))
        {
            if (!repository.Keep(digest))
            {
                continue;
            }

            await MarkBlobAsync(digest, cancellationToken);
            if (_rescanning && repository.Deleted.Contains(digest))
            {
                await RestoreRevisionAsync(repository, digest, cancellationToken);
            }

            var node = repository.Nodes is { } nodes && nodes.TryGetValue(digest, out var cached)
                ? cached
                : await LoadAsync(digest, cancellationToken);
            if (node is not null)
            {
                foreach (var blob in node.Blobs)
                {
                    await MarkBlobAsync(blob, cancellationToken);
                }

                foreach (var child in node.Manifests)
                {
                    // The lenient scan of an unknown format lists layers too; following those as
                    // manifests would read every small layer, so follow only known revisions.
                    if (node.Understood || repository.HasRevision(child))
                    {
                        queue.Enqueue(child);
                    }
                }
            }

            if (repository.ReferrersOf.TryGetValue(digest, out var referrersOfDigest))
            {
                // Only referrers that are manifests of this repository (the re-scan adds new
                // revisions to the set, and this run's deletions are still in it).
                foreach (var referrer in referrersOfDigest.Where(repository.HasRevision))
                {
                    queue.Enqueue(referrer);
                }
            }
        }
    }

    private async Task MarkBlobAsync(Digest digest, CancellationToken cancellationToken)
    {
        var key = DigestKey.Of(digest);
        _marked.Add(key);
        if (_rescanning && _quarantined.ContainsKey(key))
        {
            // Forget it only once it is back (or a push took it back first): if the move throws,
            // the run's finally block still knows to restore it.
            await Quarantine.RestoreAsync(driver, digest, cancellationToken);
            _quarantined.TryRemove(key, out _);
            Interlocked.Increment(ref _blobsRestored);
            MaintenanceLog.BlobRestored(logger, digest);
            Report($"blob {digest} was referenced during collection; restored");
        }
    }

    /// <summary>A manifest's references, null when its content is missing.</summary>
    private async Task<ManifestReferences?> LoadAsync(Digest digest, CancellationToken cancellationToken)
    {
        byte[] content;
        try
        {
            content = await driver.GetContentAsync(StoragePaths.BlobData(digest), ManifestStore.MaxManifestBytes, cancellationToken);
        }
        catch (StoragePathNotFoundException)
        {
            return null;
        }
        catch (StorageObjectTooLargeException)
        {
            return ManifestReferences.Opaque;
        }

        return ManifestReferences.Extract(content);
    }

    // ---- plan ----

    private async Task<SweepPlan> PlanAsync(CancellationToken cancellationToken)
    {
        // Which repositories link each unmarked digest (the links to remove), and whether any of those links is young.
        // Listed now, not during the mark, so that only the unmarked ones are ever held (half of a million links or more at
        // scale). A window of repositories is listed at once and merged in order, so at most a window's links are held
        // beyond the unmarked ones, and every run lists the linkers in the same order.
        var linked = new Dictionary<DigestKey, LinkedDigest>();
        foreach (var window in _repositories.Chunk(options.MaxConcurrency))
        {
            var listings = new List<(Digest Digest, DateTimeOffset ModifiedAt)>[window.Length];
            await ForEachAsync(Enumerable.Range(0, window.Length), async (index, token) =>
                listings[index] = await LayoutWalker.LayerLinksAsync(driver, window[index].Name, token), cancellationToken);
            for (var index = 0; index < window.Length; index++)
            {
                foreach (var (digest, modifiedAt) in listings[index])
                {
                    var key = DigestKey.Of(digest);
                    if (!_marked.Contains(key))
                    {
                        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(linked, key, out _);
                        entry.Linkers = entry.Linkers is null ? [window[index]] : [.. entry.Linkers, window[index]];
                        entry.YoungLink |= modifiedAt >= _protectedSince;
                    }
                }
            }
        }

        // Every blob's data, prefix directories listed in parallel (one listing request per thousand blobs on an object
        // store, sizes and times included): the unmarked ones past the grace period are the candidates; every unmarked
        // one present (young or old) tells its links apart from dangling ones.
        var old = new ConcurrentBag<(DigestKey Key, long Size)>();
        var young = new ConcurrentBag<DigestKey>();
        await ForEachAsync(LayoutWalker.BlobPrefixDirectoriesAsync(driver, cancellationToken), async (prefix, token) =>
        {
            foreach (var (digest, info) in await LayoutWalker.BlobDataAsync(driver, prefix.Algorithm, prefix.Directory, token))
            {
                Interlocked.Increment(ref _blobsScanned);
                var key = DigestKey.Of(digest);
                if (_marked.Contains(key))
                {
                    continue;
                }

                if (info.ModifiedAt >= _protectedSince)
                {
                    Interlocked.Increment(ref _blobsInGrace);
                    young.Add(key);
                }
                else
                {
                    old.Add((key, info.Size));
                }
            }
        }, cancellationToken);

        var oldBlobs = old.ToArray();
        old.Clear();
        foreach (var key in young.Concat(oldBlobs.Select(b => b.Key)))
        {
            ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(linked, key);
            if (!Unsafe.IsNullRef(ref entry))
            {
                entry.Present = true;
            }
        }

        // An old blob with a young link was re-linked without being rewritten (a dedup'ed upload, a mount): kept. A link
        // rewritten after the listing is the re-scan's to find, as one made after the plan is.
        var blobs = new List<BlobCandidate>(oldBlobs.Length);
        foreach (var blob in oldBlobs)
        {
            var entry = linked.GetValueOrDefault(blob.Key);
            if (entry.YoungLink)
            {
                _blobsInGrace++;
                continue;
            }

            blobs.Add(new BlobCandidate(blob.Key, blob.Size, entry.Linkers ?? []));
        }

        // A dry run does not recover a crashed run's quarantine, but a real run would first: links
        // to those blobs are not dangling.
        var dangling = new ConcurrentBag<(RepositoryState Repository, Digest Digest)>();
        await ForEachAsync(linked.Where(l => !l.Value.Present && !_pendingQuarantine.Contains(l.Key)).ToList(), async (entry, token) =>
        {
            var digest = entry.Key.ToDigest();
            foreach (var repository in entry.Value.Linkers!)
            {
                var link = await LayoutWalker.StatOrNullAsync(driver, StoragePaths.LayerLink(repository.Name, digest), token);
                if (link is not null && link.ModifiedAt < _protectedSince)
                {
                    dangling.Add((repository, digest));
                }
            }
        }, cancellationToken);

        var manifestCount = 0;
        foreach (var repository in _repositories)
        {
            foreach (var digest in repository.Candidates.Order())
            {
                manifestCount++;
                Report($"{repository.Name}: manifest eligible for deletion: {digest}");
            }
        }

        blobs.Sort((x, y) => x.Key.CompareTo(y.Key));
        foreach (var blob in progress is null ? [] : blobs)
        {
            var digest = blob.Digest;
            Report($"blob eligible for deletion: {digest}");
            foreach (var repository in blob.Linkers)
            {
                Report($"{repository.Name}: layer link eligible for deletion: {digest}");
            }
        }

        foreach (var (repository, digest) in dangling)
        {
            Report($"{repository.Name}: dangling layer link eligible for deletion: {digest}");
        }

        return new SweepPlan(manifestCount, blobs, [.. dangling]);
    }

    // ---- sweep ----

    private async Task DeleteManifestsAsync(CancellationToken cancellationToken)
    {
        foreach (var repository in _repositories)
        {
            var candidates = repository.Candidates.ToList();
            foreach (var digest in candidates)
            {
                // Re-pushed since the mark: leave it to the re-scan, which follows it as a root.
                if (await RevisionModifiedAtAsync(repository.Name, digest, cancellationToken) is not { } modified || modified >= _protectedSince)
                {
                    continue;
                }

                foreach (var subject in repository.SubjectsOf(digest))
                {
                    await SafeDelete.DeleteLinkAsync(driver, StoragePaths.ReferrerLink(repository.Name, subject, digest), cancellationToken);
                }

                await cache.InvalidateAsync(repository.Name, digest, cancellationToken);
                await SafeDelete.DeleteLinkAsync(driver, StoragePaths.ManifestRevisionLink(repository.Name, digest), cancellationToken);
                await cache.InvalidateAsync(repository.Name, digest, cancellationToken);
                repository.Deleted.Add(digest);
                _manifestsDeleted++;
                MaintenanceLog.ManifestDeleted(logger, digest, repository.Name);
            }

            if (repository.Deleted.Count == 0)
            {
                continue;
            }

            // Tag history (tags/<tag>/index) must not name a manifest that is gone, as registry:2's vacuum ensures.
            foreach (var tag in repository.TagNames)
            {
                var history = await LayoutWalker.DigestTreeAsync(driver, StoragePaths.Tag(repository.Name, tag) + "/index", cancellationToken);
                foreach (var digest in history.Where(repository.Deleted.Contains))
                {
                    await SafeDelete.DeleteLinkAsync(driver, StoragePaths.TagIndexLink(repository.Name, tag, digest), cancellationToken);
                }
            }
        }
    }

    private async Task QuarantineAsync(IReadOnlyList<BlobCandidate> blobs, CancellationToken cancellationToken)
    {
        await ForEachAsync(blobs, async (blob, token) =>
        {
            // Register first: if the move completes and the run is then cancelled, the finally
            // block must know to move it back (restoring something never moved is a no-op).
            var digest = blob.Digest;
            _quarantined[blob.Key] = blob;
            await ForgetEverywhereAsync(blob, digest, token);
            if (!await Quarantine.EnterAsync(driver, digest, token))
            {
                _quarantined.TryRemove(blob.Key, out _);
            }

            // Quarantined data is invisible to pulls, so a cached "present" would be wrong in every linking repository.
            await ForgetEverywhereAsync(blob, digest, token);
        }, cancellationToken);
    }

    private async Task ForgetEverywhereAsync(BlobCandidate blob, Digest digest, CancellationToken cancellationToken)
    {
        foreach (var repository in blob.Linkers)
        {
            await cache.InvalidateAsync(repository.Name, digest, cancellationToken);
        }
    }

    /// <summary>Follows what appeared during the run, restoring the quarantined blobs and deleted revisions it reaches.</summary>
    private async Task RescanAsync(CancellationToken cancellationToken)
    {
        _rescanning = true;
        await foreach (var name in LayoutWalker.RepositoriesAsync(driver, null, cancellationToken))
        {
            var repository = _byName.GetValueOrDefault(name) ?? Register(name, addedByRescan: true);
            var root = StoragePaths.Repository(name);

            if (!_quarantined.IsEmpty)
            {
                foreach (var (digest, modifiedAt) in await LayoutWalker.LayerLinksAsync(driver, name, cancellationToken))
                {
                    var key = DigestKey.Of(digest);
                    if (!_quarantined.TryGetValue(key, out var quarantined))
                    {
                        continue;
                    }

                    // A link the plan did not see is new by definition; one it saw counts only if rewritten.
                    var fresh = !quarantined.Linkers.Contains(repository) || modifiedAt >= _protectedSince;
                    if (fresh)
                    {
                        await MarkBlobAsync(digest, cancellationToken);
                    }
                }
            }

            var roots = new List<Digest>();
            var revisions = await LayoutWalker.DigestTreeAsync(driver, root + "/_manifests/revisions", cancellationToken);
            roots.AddRange(revisions.Where(d => !repository.IsKept(d)));
            repository.AddRevisions(revisions);

            if (repository.Deleted.Count > 0)
            {
                // A tag moved onto a manifest this run deleted must resolve again. (A tag moved
                // onto an index whose child it deleted needs nothing here: the index is a new
                // revision, and following it restores the child.)
                foreach (var tag in await tags.ListAsync(name, cancellationToken, fresh: true) ?? [])
                {
                    if (await tags.ResolveAsync(name, tag, cancellationToken) is { } target && repository.Deleted.Contains(target))
                    {
                        roots.Add(target);
                    }
                }
            }

            if (roots.Count > 0)
            {
                await KeepAsync(repository, roots, cancellationToken);
            }
        }
    }

    private async Task RestoreRevisionAsync(RepositoryState repository, Digest digest, CancellationToken cancellationToken)
    {
        // Content first (already restored by the caller's mark), then the revision link, then the
        // index that points at it: the order of ManifestStore.PutAsync.
        await Links.WriteAsync(driver, StoragePaths.ManifestRevisionLink(repository.Name, digest), digest, cancellationToken);
        foreach (var subject in repository.SubjectsOf(digest))
        {
            await referrers.AddAsync(repository.Name, subject, digest, cancellationToken);
        }

        repository.Deleted.Remove(digest);
        _manifestsDeleted--;
        MaintenanceLog.ManifestRestored(logger, digest, repository.Name);
        Report($"{repository.Name}: manifest {digest} was referenced during collection; restored");
    }

    private async Task PurgeAsync(CancellationToken cancellationToken)
    {
        await ForEachAsync(_quarantined.Values.OrderBy(b => b.Key).ToList(), async (blob, token) =>
        {
            if (!_quarantined.TryRemove(blob.Key, out _))
            {
                return;
            }

            var digest = blob.Digest;
            if (!await Quarantine.PurgeAsync(driver, digest, token))
            {
                // A push or pull took it back (CollectionHandshake): it is in use, links included.
                return;
            }

            Interlocked.Increment(ref _blobsDeleted);
            Interlocked.Add(ref _bytesFreed, blob.Size);
            MaintenanceLog.BlobDeleted(logger, digest, blob.Size);
            Quarantine.TryRemoveEmptyBlobDirectory(driver, digest);

            var unlinked = new List<RepositoryState>();
            foreach (var repository in blob.Linkers)
            {
                var link = await LayoutWalker.StatOrNullAsync(driver, StoragePaths.LayerLink(repository.Name, digest), token);
                if (link is not null && link.ModifiedAt < _protectedSince
                    && await SafeDelete.DeleteLinkAsync(driver, StoragePaths.LayerLink(repository.Name, digest), token))
                {
                    unlinked.Add(repository);
                }
            }

            // An upload may have committed this digest again while the links were being removed
            // (data moved in, then the link written). Its link may be among those just removed,
            // and its data is there now: put the links back, they point at real content.
            if (unlinked.Count > 0 && await LayoutWalker.StatOrNullAsync(driver, StoragePaths.BlobData(digest), token) is not null)
            {
                foreach (var repository in unlinked)
                {
                    await Links.WriteAsync(driver, StoragePaths.LayerLink(repository.Name, digest), digest, token);
                }

                unlinked.Clear();
            }

            Interlocked.Add(ref _linksRemoved, unlinked.Count);
        }, cancellationToken);
    }

    private async Task RemoveDanglingLinksAsync(IReadOnlyList<(RepositoryState Repository, Digest Digest)> dangling, CancellationToken cancellationToken)
    {
        foreach (var (repository, digest) in dangling)
        {
            var link = await LayoutWalker.StatOrNullAsync(driver, StoragePaths.LayerLink(repository.Name, digest), cancellationToken);
            if (link is null || link.ModifiedAt >= _protectedSince
                || await LayoutWalker.StatOrNullAsync(driver, StoragePaths.BlobData(digest), cancellationToken) is not null)
            {
                continue;
            }

            await cache.InvalidateAsync(repository.Name, digest, cancellationToken);
            if (await SafeDelete.DeleteLinkAsync(driver, StoragePaths.LayerLink(repository.Name, digest), cancellationToken))
            {
                _linksRemoved++;
            }

            await cache.InvalidateAsync(repository.Name, digest, cancellationToken);
        }
    }

    /// <summary>Puts back everything still in quarantine after a failure; never throws.</summary>
    private async Task RestoreAllAsync()
    {
        foreach (var key in _quarantined.Keys.ToList())
        {
            var digest = key.ToDigest();
            try
            {
                // Not the run's token: a cancelled run must still leave nothing half-done.
                await Quarantine.RestoreAsync(driver, digest, CancellationToken.None);
                _quarantined.TryRemove(key, out _);
            }
            catch (Exception ex)
            {
                MaintenanceLog.RestoreFailed(logger, digest, ex);
            }
        }
    }

    // ---- helpers ----

    private async Task<DateTimeOffset?> RevisionModifiedAtAsync(RepositoryName name, Digest digest, CancellationToken cancellationToken)
    {
        var info = await LayoutWalker.StatOrNullAsync(driver, StoragePaths.ManifestRevisionLink(name, digest), cancellationToken)
            ?? await LayoutWalker.StatOrNullAsync(driver, StoragePaths.ManifestRevisionDirectory(name, digest), cancellationToken);
        return info?.ModifiedAt;
    }

    /// <summary>Logs how long the phase that just ended took (debug level: what an operator sizing a run asks first).</summary>
    private void PhaseDone(string phase, ref long phaseStarted)
    {
        var now = time.GetTimestamp();
        MaintenanceLog.CollectionPhase(logger, phase, time.GetElapsedTime(phaseStarted, now));
        phaseStarted = now;
    }

    private RepositoryState Register(RepositoryName name, bool addedByRescan)
    {
        var repository = new RepositoryState(name, addedByRescan);
        _repositories.Add(repository);
        _byName[name] = repository;
        return repository;
    }

    private Task ForEachAsync<T>(IEnumerable<T> source, Func<T, CancellationToken, ValueTask> body, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(source, Parallelism(cancellationToken), body);

    private Task ForEachAsync<T>(IAsyncEnumerable<T> source, Func<T, CancellationToken, ValueTask> body, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(source, Parallelism(cancellationToken), body);

    private ParallelOptions Parallelism(CancellationToken cancellationToken) =>
        new() { MaxDegreeOfParallelism = options.MaxConcurrency, CancellationToken = cancellationToken };

    private static async Task InvokeAsync(Func<CancellationToken, Task>? hook, CancellationToken cancellationToken)
    {
        if (hook is not null)
        {
            await hook(cancellationToken);
        }
    }

    private void Report(string line)
    {
        if (progress is null)
        {
            return;
        }

        lock (_progressLock)
        {
            progress.Report(line);
        }
    }

    /// <summary>
    /// An unmarked digest's linking repositories, whether any of their links was young when listed, and whether its data
    /// was there when the plan looked.
    /// </summary>
    private struct LinkedDigest
    {
        // An array, not a list: nearly every digest has one linker, and there are hundreds of thousands of them.
        public RepositoryState[]? Linkers;
        public bool YoungLink;
        public bool Present;
    }

    private sealed record BlobCandidate(DigestKey Key, long Size, RepositoryState[] Linkers)
    {
        /// <summary>Built anew on each call: take it once per use.</summary>
        public Digest Digest => Key.ToDigest();
    }

    /// <summary>A repository as <see cref="ReadRepositoryAsync"/> found it: revisions with their parsed references, referrers
    /// indexed under <c>_referrers</c>, tag names, and (for a collection of untagged manifests) the tags' targets.</summary>
    private sealed record RepositoryContent(List<Digest> Revisions, ConcurrentDictionary<Digest, ManifestReferences?> Nodes,
        List<(Digest Subject, Digest Referrer)> IndexedReferrers, List<string> TagNames, IReadOnlyCollection<Digest> TagTargets);

    private sealed record SweepPlan(int ManifestCount, IReadOnlyList<BlobCandidate> Blobs,
        IReadOnlyList<(RepositoryState Repository, Digest Digest)> DanglingLinks);

    private sealed class RepositoryState(RepositoryName name, bool addedByRescan)
    {
        public RepositoryName Name { get; } = name;

        /// <summary>True for a repository that appeared during the run (only the re-scan saw it).</summary>
        public bool AddedByRescan { get; } = addedByRescan;

        // Revision digests, by path, as the mark found them (plus new ones the re-scan saw), and the manifests kept in
        // this repository (revisions, and whatever digests they reach). Held as keys: at a million blobs these are
        // hundreds of thousands of digests.
        private readonly HashSet<DigestKey> _revisions = [];
        private readonly HashSet<DigestKey> _kept = [];

        public List<string> TagNames { get; set; } = [];

        /// <summary>Subject → manifests naming it, from the referrers index and from parsed subjects.</summary>
        public Dictionary<Digest, HashSet<Digest>> ReferrersOf { get; } = [];

        /// <summary>The reverse of <see cref="ReferrersOf"/>: referrer → its subjects (normally one).</summary>
        private Dictionary<Digest, HashSet<Digest>> SubjectsOfReferrer { get; } = [];

        /// <summary>Revisions this run deleted, so the re-scan can put back any that turn out to be needed.</summary>
        public HashSet<Digest> Deleted { get; } = [];

        /// <summary>Parsed revisions while the repository is being marked; null afterwards.</summary>
        public ConcurrentDictionary<Digest, ManifestReferences?>? Nodes { get; set; }

        /// <summary>Revisions not kept: deleted by the sweep unless the re-scan reaches them.</summary>
        public IEnumerable<Digest> Candidates => CandidatesWhere(_ => true);

        public IEnumerable<Digest> CandidatesWhere(Func<DigestKey, bool> predicate) =>
            _revisions.Where(k => !_kept.Contains(k) && predicate(k)).Select(k => k.ToDigest());

        public bool HasRevision(Digest digest) => _revisions.Contains(DigestKey.Of(digest));

        public void AddRevisions(IEnumerable<Digest> digests) => _revisions.UnionWith(digests.Select(DigestKey.Of));

        /// <summary>Keeps <paramref name="digest"/>; false if it was kept already.</summary>
        public bool Keep(Digest digest) => _kept.Add(DigestKey.Of(digest));

        public bool IsKept(Digest digest) => _kept.Contains(DigestKey.Of(digest));

        public void AddReferrer(Digest subject, Digest referrer)
        {
            if (!ReferrersOf.TryGetValue(subject, out var set))
            {
                ReferrersOf[subject] = set = [];
            }

            set.Add(referrer);
            if (!SubjectsOfReferrer.TryGetValue(referrer, out var subjects))
            {
                SubjectsOfReferrer[referrer] = subjects = [];
            }

            subjects.Add(subject);
        }

        public IEnumerable<Digest> SubjectsOf(Digest referrer) =>
            SubjectsOfReferrer.TryGetValue(referrer, out var subjects) ? subjects : [];
    }
}
