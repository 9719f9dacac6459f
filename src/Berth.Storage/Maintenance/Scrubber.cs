using System.Buffers;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Berth.Core;
using Berth.Core.Errors;
using Berth.Core.Manifests;
using Berth.Storage.Caching;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging;

namespace Berth.Storage.Maintenance;

/// <summary>
/// Checks that what the registry stores is what it was given: every blob re-hashed, every
/// manifest's references present and linked, every tag pointing at a manifest of its repository.
/// Corrupt blobs are moved to <see cref="CorruptBlobs"/> so pulls get a clean 404 and a re-push
/// stores the bytes again.
/// </summary>
/// <remarks>
/// <para><b>Order.</b> First every blob under <c>blobs/</c> is streamed through its digest's hash
/// (never held whole, paced by <see cref="ScrubOptions.BytesPerSecond"/>). Then every repository
/// is walked: revision links, the manifests they name, what those manifests reference, and tags.
/// Only then are corrupt blobs moved aside, with their blob-descriptor cache entries dropped (in
/// every repository that links them) before and after the move, so the moment between finding a
/// bad blob and hiding it is the length of the metadata walk, not of the whole read.</para>
/// <para><b>Running beside a registry and its collector.</b> Data is published by rename (or an S3
/// commit), so a blob is never seen half-written. A blob listed and then deleted by a collection
/// before it is read is counted as vanished, not as a problem; a reference whose data is absent
/// is re-checked against the revision link before it is reported (a manifest deleted mid-scrub
/// is not a broken one), and data the collector holds in its own quarantine counts as present
/// (the collector puts back what is referenced). Content pushed after the hashing phase is
/// checked for presence only.</para>
/// </remarks>
public sealed class Scrubber(IStorageDriver driver, IBlobDescriptorCache cache, TimeProvider time, ILogger<Scrubber> logger)
{
    private const int ReadBufferSize = 1024 * 1024;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly IStorageDriver _driver = driver;
    private readonly IBlobDescriptorCache _cache = cache;
    private readonly TimeProvider _time = time;
    private readonly ILogger _logger = logger;

    /// <summary>
    /// Runs one scrub. <paramref name="findings"/> is told about each problem as it is found
    /// (blob corruption at the end of the hashing phase, the rest during the walk).
    /// </summary>
    public async Task<ScrubReport> RunAsync(ScrubOptions options, IProgress<ScrubFinding>? findings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var run = new Run(this, options, findings);
            return await run.ExecuteAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private enum DataState
    {
        Present,
        Corrupt,
        Missing,
    }

    private sealed class Run(Scrubber owner, ScrubOptions options, IProgress<ScrubFinding>? progress)
    {
        private readonly IStorageDriver _driver = owner._driver;
        private readonly ILogger _logger = owner._logger;
        private readonly ByteRateLimiter? _limiter = options.BytesPerSecond > 0 ? new ByteRateLimiter(options.BytesPerSecond, owner._time) : null;
        private readonly List<ScrubFinding> _findings = [];
        private readonly HashSet<Digest> _hashed = [];
        private readonly Dictionary<Digest, (Digest Actual, long Size)> _corrupt = [];

        // For each corrupt digest, the repositories that link it (layer or revision): their cache entries must go.
        private readonly Dictionary<Digest, HashSet<RepositoryName>> _linkers = [];
        private int _repositories, _manifests, _notUnderstood, _tags, _vanished, _movedAside;
        private long _bytes;

        public async Task<ScrubReport> ExecuteAsync(CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            MaintenanceLog.ScrubStarted(_logger, options.DryRun, options.BytesPerSecond);

            await HashBlobsAsync(cancellationToken);
            var hashing = Stopwatch.GetElapsedTime(started);

            await foreach (var repository in LayoutWalker.RepositoriesAsync(_driver, path => MaintenanceLog.InvalidRepositoryDirectory(_logger, path),
                               cancellationToken))
            {
                _repositories++;
                await CheckRepositoryAsync(repository, cancellationToken);
            }

            await MoveCorruptAsideAsync(cancellationToken);

            var report = new ScrubReport
            {
                DryRun = options.DryRun,
                Findings = _findings,
                Repositories = _repositories,
                Manifests = _manifests,
                ManifestsNotUnderstood = _notUnderstood,
                Tags = _tags,
                BlobsHashed = _hashed.Count + _corrupt.Count,
                BytesHashed = _bytes,
                BlobsCorrupt = _corrupt.Count,
                BlobsMovedAside = _movedAside,
                BlobsVanished = _vanished,
                HashingDuration = hashing,
                Duration = Stopwatch.GetElapsedTime(started),
            };
            MaintenanceLog.ScrubFinished(_logger, report.Duration, report.BlobsHashed, report.BytesHashed, report.MegabytesPerSecond,
                report.Findings.Count, report.BlobsCorrupt, report.BlobsMovedAside, report.DryRun);
            return report;
        }

        private void Report(ScrubFinding finding)
        {
            _findings.Add(finding);
            MaintenanceLog.ScrubFinding(_logger, finding.Code, finding.ToString());
            progress?.Report(finding);
        }

        private async Task HashBlobsAsync(CancellationToken cancellationToken)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(ReadBufferSize);
            try
            {
                await foreach (var prefix in LayoutWalker.BlobPrefixesAsync(_driver, cancellationToken))
                {
                    prefix.Sort((a, b) => string.CompareOrdinal(a.Encoded, b.Encoded));
                    foreach (var digest in prefix)
                    {
                        await HashBlobAsync(digest, buffer, cancellationToken);
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            foreach (var (digest, (actual, size)) in _corrupt)
            {
                Report(new ScrubFinding(ScrubProblem.BlobCorrupt, $"{size} bytes hash to {actual}") { Blob = digest });
            }
        }

        private async Task HashBlobAsync(Digest digest, byte[] buffer, CancellationToken cancellationToken)
        {
            using var hash = IncrementalHash.CreateHash(digest.HashAlgorithm);
            long size = 0;
            try
            {
                await using var stream = await _driver.OpenReadAsync(StoragePaths.BlobData(digest), 0, cancellationToken);
                while (true)
                {
                    var read = await stream.ReadAsync(buffer, cancellationToken);
                    if (read == 0)
                    {
                        break;
                    }

                    hash.AppendData(buffer, 0, read);
                    size += read;
                    _bytes += read;

                    // Charged for what was read, so many small blobs are not billed a whole buffer each.
                    if (_limiter is not null)
                    {
                        await _limiter.WaitAsync(read, cancellationToken);
                    }
                }
            }
            catch (Exception ex) when (IsGone(ex))
            {
                // Listed, then deleted (a collection) before or while it was read; or a directory the filesystem kept empty.
                _vanished++;
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                if (await LayoutWalker.StatOrNullAsync(_driver, StoragePaths.BlobData(digest), cancellationToken) is null)
                {
                    _vanished++;
                    return;
                }

                Report(new ScrubFinding(ScrubProblem.BlobUnreadable, $"reading failed: {ex.Message}") { Blob = digest });
                _hashed.Add(digest);
                return;
            }

            var actual = Digest.FromHash(digest.Algorithm, hash.GetHashAndReset());
            if (actual == digest)
            {
                _hashed.Add(digest);
            }
            else
            {
                _corrupt[digest] = (actual, size);
            }
        }

        private static bool IsGone(Exception exception) =>
            exception is StoragePathNotFoundException or FileNotFoundException or DirectoryNotFoundException;

        private async Task<DataState> StateAsync(Digest digest, CancellationToken cancellationToken)
        {
            if (_corrupt.ContainsKey(digest))
            {
                return DataState.Corrupt;
            }

            if (_hashed.Contains(digest))
            {
                return DataState.Present;
            }

            // Not seen while hashing: pushed since, held by a running collection (which restores what is referenced), or gone.
            if (await LayoutWalker.StatOrNullAsync(_driver, StoragePaths.BlobData(digest), cancellationToken) is { IsDirectory: false }
                || await LayoutWalker.StatOrNullAsync(_driver, Quarantine.PathOf(digest), cancellationToken) is { IsDirectory: false })
            {
                return DataState.Present;
            }

            return DataState.Missing;
        }

        private void NoteLinker(RepositoryName repository, Digest digest)
        {
            if (_corrupt.ContainsKey(digest))
            {
                if (!_linkers.TryGetValue(digest, out var repositories))
                {
                    _linkers[digest] = repositories = [];
                }

                repositories.Add(repository);
            }
        }

        private async Task CheckRepositoryAsync(RepositoryName repository, CancellationToken cancellationToken)
        {
            var repositoryPath = StoragePaths.Repository(repository);
            var layers = (await LayoutWalker.DigestTreeAsync(_driver, repositoryPath + "/_layers", cancellationToken)).ToHashSet();
            foreach (var layer in layers)
            {
                NoteLinker(repository, layer);
            }

            var revisions = await LayoutWalker.DigestTreeAsync(_driver, repositoryPath + "/_manifests/revisions", cancellationToken);
            var revisionSet = revisions.ToHashSet();
            foreach (var revision in revisions)
            {
                NoteLinker(repository, revision);
            }

            // Tags first: manifest findings name the tags that reach them.
            var tagsOf = new Dictionary<Digest, List<string>>();
            var tagDirectories = await Links.ListOrEmptyAsync(_driver, StoragePaths.Tags(repository), cancellationToken);
            foreach (var tag in tagDirectories.Select(Links.LastSegment).Order(StringComparer.Ordinal))
            {
                _tags++;
                var target = await Links.ReadAsync(_driver, StoragePaths.TagCurrentLink(repository, tag), cancellationToken);
                if (target is not { } digest)
                {
                    // A tag deleted meanwhile takes its whole directory with it.
                    if ((await Links.ListOrEmptyAsync(_driver, StoragePaths.Tag(repository, tag), cancellationToken)).Count > 0)
                    {
                        Report(new ScrubFinding(ScrubProblem.TagInvalid, "current/link is missing or does not hold a digest")
                        {
                            Repository = repository,
                            Tags = [tag],
                        });
                    }

                    continue;
                }

                if (!tagsOf.TryGetValue(digest, out var names))
                {
                    tagsOf[digest] = names = [];
                }

                names.Add(tag);
                if (!revisionSet.Contains(digest) && !await RevisionLinkedAsync(repository, digest, cancellationToken)
                    && await Links.ReadAsync(_driver, StoragePaths.TagCurrentLink(repository, tag), cancellationToken) == digest)
                {
                    Report(new ScrubFinding(ScrubProblem.TagDangling, $"names {digest}, which is not a manifest of the repository")
                    {
                        Repository = repository,
                        Tags = [tag],
                        Manifest = digest,
                    });
                }
            }

            var layerLinks = new Dictionary<Digest, bool>();
            foreach (var revision in revisions)
            {
                _manifests++;
                await CheckManifestAsync(repository, revision, revisionSet, layerLinks,
                    tagsOf.TryGetValue(revision, out var names) ? names : [], cancellationToken);
            }
        }

        private async Task<bool> RevisionLinkedAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken) =>
            await Links.ReadAsync(_driver, StoragePaths.ManifestRevisionLink(repository, digest), cancellationToken) == digest;

        private async Task CheckManifestAsync(RepositoryName repository, Digest manifest, HashSet<Digest> revisions,
            Dictionary<Digest, bool> layerLinks, IReadOnlyList<string> tags, CancellationToken cancellationToken)
        {
            var pending = new List<ScrubFinding>();
            ScrubFinding Finding(ScrubProblem problem, string detail, Digest? blob = null) =>
                new(problem, detail) { Repository = repository, Manifest = manifest, Tags = tags, Blob = blob };

            var link = await Links.ReadAsync(_driver, StoragePaths.ManifestRevisionLink(repository, manifest), cancellationToken);
            if (link is null)
            {
                // Deleted since it was listed (a manifest DELETE or a collection), or a directory without its link file.
                if ((await Links.ListOrEmptyAsync(_driver, StoragePaths.ManifestRevisionDirectory(repository, manifest), cancellationToken)).Count > 0)
                {
                    Report(Finding(ScrubProblem.RevisionLinkInvalid, "the revision link does not hold a digest"));
                }

                return;
            }

            if (link != manifest)
            {
                Report(Finding(ScrubProblem.RevisionLinkInvalid, $"the revision link holds {link}"));
                return;
            }

            switch (await StateAsync(manifest, cancellationToken))
            {
                case DataState.Missing:
                    pending.Add(Finding(ScrubProblem.ManifestMissing, "the manifest's data is missing"));
                    break;
                case DataState.Corrupt:
                    pending.Add(Finding(ScrubProblem.ManifestCorrupt, $"the manifest's bytes hash to {_corrupt[manifest].Actual}"));
                    break;
                default:
                    await CheckReferencesAsync(manifest, revisions, layerLinks, repository, pending, Finding, cancellationToken);
                    break;
            }

            // Report only what still holds: a manifest deleted while we looked is not a broken one.
            if (pending.Count > 0 && await RevisionLinkedAsync(repository, manifest, cancellationToken))
            {
                pending.ForEach(Report);
            }
        }

        private async Task CheckReferencesAsync(Digest manifest, HashSet<Digest> revisions, Dictionary<Digest, bool> layerLinks,
            RepositoryName repository, List<ScrubFinding> pending, Func<ScrubProblem, string, Digest?, ScrubFinding> finding,
            CancellationToken cancellationToken)
        {
            byte[] content;
            try
            {
                content = await _driver.GetContentAsync(StoragePaths.BlobData(manifest), ManifestStore.MaxManifestBytes, cancellationToken);
            }
            catch (StoragePathNotFoundException)
            {
                if (await StateAsync(manifest, cancellationToken) == DataState.Missing)
                {
                    pending.Add(finding(ScrubProblem.ManifestMissing, "the manifest's data is missing", null));
                }

                return;
            }
            catch (StorageObjectTooLargeException)
            {
                pending.Add(finding(ScrubProblem.ManifestUnparsable, $"larger than {ManifestStore.MaxManifestBytes} bytes", null));
                return;
            }

            Manifest parsed;
            try
            {
                parsed = ManifestParser.Parse(content, null);
            }
            catch (RegistryException ex)
            {
                if (IsJson(content))
                {
                    // schema1, or a format another registry accepted: kept as registry:2 keeps it, but not checked.
                    _notUnderstood++;
                }
                else
                {
                    pending.Add(finding(ScrubProblem.ManifestUnparsable, $"not a manifest: {ex.Message}", null));
                }

                return;
            }

            // RequiredBlobs leaves out foreign layers, whose bytes live elsewhere.
            var required = new List<(string Role, Digest Digest)>();
            if (parsed.Config is { } config && parsed.RequiredBlobs.Any(d => d.Digest == config.Digest))
            {
                required.Add(("config", config.Digest));
            }

            required.AddRange(parsed.RequiredBlobs.Where(d => parsed.Config?.Digest != d.Digest).Select(d => ("layer", d.Digest)));
            foreach (var (role, digest) in required.Distinct())
            {
                switch (await StateAsync(digest, cancellationToken))
                {
                    case DataState.Missing:
                        pending.Add(finding(ScrubProblem.ReferenceMissing, $"{role} {digest} has no data", digest));
                        break;
                    case DataState.Corrupt:
                        pending.Add(finding(ScrubProblem.ReferenceCorrupt, $"{role} {digest} is corrupt", digest));
                        break;
                    default:
                        if (!await LayerLinkedAsync(repository, digest, layerLinks, cancellationToken))
                        {
                            pending.Add(finding(ScrubProblem.ReferenceNotLinked, $"{role} {digest} is not linked into the repository (_layers)", digest));
                        }

                        break;
                }
            }

            foreach (var child in parsed.Manifests.Select(d => d.Digest).Distinct())
            {
                var state = await StateAsync(child, cancellationToken);
                if (!revisions.Contains(child) && !await RevisionLinkedAsync(repository, child, cancellationToken))
                {
                    pending.Add(finding(state == DataState.Missing ? ScrubProblem.ReferenceMissing : ScrubProblem.ReferenceNotLinked,
                        $"child manifest {child} is not a revision of the repository{(state == DataState.Missing ? " and has no data" : "")}", child));
                }
                else if (state != DataState.Present)
                {
                    // Its own revision check reports the details; here the index is named as broken too.
                    pending.Add(finding(state == DataState.Missing ? ScrubProblem.ReferenceMissing : ScrubProblem.ReferenceCorrupt,
                        $"child manifest {child} {(state == DataState.Missing ? "has no data" : "is corrupt")}", child));
                }
            }
        }

        private async Task<bool> LayerLinkedAsync(RepositoryName repository, Digest digest, Dictionary<Digest, bool> known,
            CancellationToken cancellationToken)
        {
            if (known.TryGetValue(digest, out var linked))
            {
                return linked;
            }

            // Read, not looked up in the listing: the pull path needs the link to name the digest, and a push may have
            // linked it since the listing.
            linked = await Links.ReadAsync(_driver, StoragePaths.LayerLink(repository, digest), cancellationToken) == digest;
            known[digest] = linked;
            return linked;
        }

        private static bool IsJson(byte[] content)
        {
            try
            {
                using var document = JsonDocument.Parse(content);
                return true;
            }
            catch (JsonException)
            {
                return false;
            }
        }

        private async Task MoveCorruptAsideAsync(CancellationToken cancellationToken)
        {
            if (options.DryRun)
            {
                return;
            }

            foreach (var (digest, (actual, size)) in _corrupt)
            {
                var linkers = _linkers.TryGetValue(digest, out var found) ? found : [];
                await ForgetAsync(linkers, digest, cancellationToken);
                var record = new CorruptBlobRecord(digest.ToString(), actual.ToString(), size, owner._time.GetUtcNow(),
                    $"the stored bytes hash to {actual}, not to the digest they are stored under");
                bool moved;
                try
                {
                    moved = await CorruptBlobs.MoveAsideAsync(_driver, record, cancellationToken);
                }
                finally
                {
                    await ForgetAsync(linkers, digest, CancellationToken.None);
                }

                if (moved)
                {
                    _movedAside++;
                    MaintenanceLog.BlobMovedAside(_logger, digest, CorruptBlobs.DataPath(digest));
                    var index = _findings.FindIndex(f => f.Problem == ScrubProblem.BlobCorrupt && f.Blob == digest);
                    if (index >= 0)
                    {
                        _findings[index] = _findings[index] with { MovedTo = CorruptBlobs.DataPath(digest) };
                    }
                }
            }
        }

        private async Task ForgetAsync(IEnumerable<RepositoryName> repositories, Digest digest, CancellationToken cancellationToken)
        {
            foreach (var repository in repositories)
            {
                await owner._cache.InvalidateAsync(repository, digest, cancellationToken);
            }
        }
    }
}
