using System.Collections.Concurrent;
using Berth.Core;
using Berth.Core.Errors;
using Berth.Core.Manifests;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Storage.Maintenance;

/// <summary>One quota rule: the repositories it covers and the most each of them may use.</summary>
/// <param name="Key">Where it was configured (<c>quotas.0</c>), which refusals name.</param>
/// <param name="Repositories">The patterns, as written, which refusals name.</param>
/// <param name="LimitBytes">The most bytes one repository the rule covers may use.</param>
/// <param name="Applies">True for the repositories the patterns match.</param>
public sealed record QuotaRule(string Key, IReadOnlyList<string> Repositories, long LimitBytes, Func<RepositoryName, bool> Applies);

/// <summary>A repository's quota and what it uses now.</summary>
/// <param name="Rule">The rule that applies.</param>
/// <param name="UsedBytes">The bytes counted against it.</param>
/// <param name="CheckedAt">When storage was last listed for the figure.</param>
public sealed record QuotaStatus(QuotaRule Rule, long UsedBytes, DateTimeOffset CheckedAt);

/// <summary>
/// Asked before an upload links a blob into a repository; throws a <see cref="RegistryException"/> to refuse it. A refused
/// blob is not linked, so a client that was refused leaves nothing behind in the repository.
/// </summary>
public interface IBlobAdmission
{
    /// <summary>Allows linking <paramref name="digest"/> (<paramref name="size"/> bytes) into <paramref name="name"/>, or throws.</summary>
    Task AdmitBlobAsync(RepositoryName name, Digest digest, long size, CancellationToken cancellationToken);
}

/// <summary>
/// Per-repository storage quotas, enforced at blob commit and at manifest PUT.
/// </summary>
/// <remarks>
/// <para>
/// <b>What counts.</b> A repository uses every distinct blob its manifests reach: each manifest revision it holds (tagged
/// or not), and the config and layers (and, for an index, the child manifests) those manifests name, each blob once per
/// repository however many of its manifests share it. A layer shared with another repository counts in both: a
/// repository's figure does not depend on what others hold. Blobs uploaded but named by no manifest do not count: they are
/// the middle of a push (or the remains of a refused or abandoned one, which garbage collection removes), so a refused
/// push changes nothing that is counted.
/// </para>
/// <para>
/// <b>Where a push is refused.</b> A blob commit is refused when that blob alone would take the repository over its limit
/// (it is then not linked, and the upload ends). A manifest PUT is refused when the manifest plus the blobs it names that
/// the repository does not count yet would take it over; nothing of the manifest is written then.
/// </para>
/// <para>
/// <b>Keeping the figure current.</b> The first check of a repository reads its manifests once; after that each check
/// lists the repository's manifest revisions (one listing) and reads only manifests it has not seen, and forgets those
/// that are gone (a delete here, on another replica, or by garbage collection). So replicas sharing a storage agree
/// within one listing; two replicas accepting manifests for the same repository at the same instant can overshoot the
/// limit by what those pushes add. Within one process, manifest PUTs to one repository are checked one at a time.
/// </para>
/// </remarks>
public sealed partial class RepositoryQuotas : IBlobAdmission
{
    private const int MaxRememberedSizes = 1_000_000;

    private readonly IStorageDriver _driver;
    private readonly ManifestStore _manifests;
    private readonly BlobStore _blobs;
    private readonly IReadOnlyList<QuotaRule> _rules;
    private readonly TimeProvider _time;
    private readonly ILogger<RepositoryQuotas> _logger;
    private readonly ConcurrentDictionary<string, RepositoryUse> _uses = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Digest, long> _sizes = new();

    public RepositoryQuotas(IStorageDriver driver, ManifestStore manifests, BlobStore blobs, IReadOnlyList<QuotaRule> rules, TimeProvider? time = null,
        ILogger<RepositoryQuotas>? logger = null)
    {
        _driver = driver;
        _manifests = manifests;
        _blobs = blobs;
        _rules = rules;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger<RepositoryQuotas>.Instance;
    }

    /// <summary>The configured rules, in order.</summary>
    public IReadOnlyList<QuotaRule> Rules => _rules;

    /// <summary>The first rule whose patterns match <paramref name="name"/>, or null when no quota applies.</summary>
    public QuotaRule? RuleFor(RepositoryName name)
    {
        foreach (var rule in _rules)
        {
            if (rule.Applies(name))
            {
                return rule;
            }
        }

        return null;
    }

    /// <summary>The repository's quota and current use (brought up to date with storage), or null when no quota applies.</summary>
    public async Task<QuotaStatus?> StatusAsync(RepositoryName name, CancellationToken cancellationToken)
    {
        if (RuleFor(name) is not { } rule)
        {
            return null;
        }

        var use = UseOf(name);
        await use.Gate.WaitAsync(cancellationToken);
        try
        {
            await RefreshAsync(name, use, cancellationToken);
            return new QuotaStatus(rule, use.Bytes, use.CheckedAt);
        }
        finally
        {
            use.Gate.Release();
        }
    }

    /// <summary>
    /// The figures of repositories checked so far, without touching storage (for metrics, which must not walk on a scrape).
    /// </summary>
    public IReadOnlyList<(RepositoryName Name, QuotaStatus Status)> KnownStatuses()
    {
        var known = new List<(RepositoryName, QuotaStatus)>();
        foreach (var (name, use) in _uses)
        {
            var repository = RepositoryName.Parse(name);
            if (use.Loaded && RuleFor(repository) is { } rule)
            {
                known.Add((repository, new QuotaStatus(rule, Volatile.Read(ref use.Bytes), use.CheckedAt)));
            }
        }

        return known;
    }

    /// <inheritdoc />
    public async Task AdmitBlobAsync(RepositoryName name, Digest digest, long size, CancellationToken cancellationToken)
    {
        if (RuleFor(name) is not { } rule)
        {
            return;
        }

        var use = UseOf(name);
        await use.Gate.WaitAsync(cancellationToken);
        try
        {
            await RefreshAsync(name, use, cancellationToken);
            if (!use.Blobs.ContainsKey(digest) && use.Bytes + size > rule.LimitBytes)
            {
                LogRefused(_logger, name, rule.Key, rule.LimitBytes, use.Bytes, size, "blob", digest);
                throw Refusal(name, rule, use.Bytes, size, $"blob {digest}");
            }
        }
        finally
        {
            use.Gate.Release();
        }
    }

    /// <summary>
    /// Runs <paramref name="put"/> (the manifest store's PUT of <paramref name="content"/>) when what the manifest would
    /// add keeps the repository within its quota, and refuses with 403 DENIED before anything is written otherwise.
    /// Content the store would refuse anyway (unparsable, naming blobs the repository lacks) is left to the store's own
    /// error. PUTs to one repository are checked and written one at a time in this process.
    /// </summary>
    public async Task<T> PutManifestAsync<T>(RepositoryName name, Reference reference, byte[] content, string? contentType, Func<Task<T>> put,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(put);
        if (RuleFor(name) is not { } rule)
        {
            return await put();
        }

        Manifest manifest;
        try
        {
            manifest = ManifestParser.Parse(content, contentType);
        }
        catch (RegistryException)
        {
            // The store parses it again and answers with the same error; nothing is written.
            return await put();
        }

        var digest = Digest.Compute(content, reference.Digest?.Algorithm ?? Digest.Sha256);
        var use = UseOf(name);
        await use.Gate.WaitAsync(cancellationToken);
        try
        {
            await RefreshAsync(name, use, cancellationToken);
            if (use.Manifests.ContainsKey(digest))
            {
                // Tagging a manifest the repository holds adds nothing.
                return await put();
            }

            var references = new List<(Digest Digest, long Size)> { (digest, content.Length) };
            foreach (var descriptor in manifest.RequiredBlobs.Concat(manifest.Manifests))
            {
                if (await _blobs.StatAsync(name, descriptor.Digest, cancellationToken) is { } size)
                {
                    // The stored size, not the descriptor's: a manifest cannot understate what it makes the repository keep.
                    references.Add((descriptor.Digest, size));
                }
            }

            var added = references.DistinctBy(reference => reference.Digest).Where(reference => !use.Blobs.ContainsKey(reference.Digest))
                .Sum(reference => reference.Size);
            if (added > 0 && use.Bytes + added > rule.LimitBytes)
            {
                LogRefused(_logger, name, rule.Key, rule.LimitBytes, use.Bytes, added, "manifest", digest);
                throw Refusal(name, rule, use.Bytes, added, $"manifest {digest}");
            }

            var result = await put();
            use.Add(digest, references);
            return result;
        }
        finally
        {
            use.Gate.Release();
        }
    }

    private RepositoryUse UseOf(RepositoryName name) => _uses.GetOrAdd(name.Value, _ => new RepositoryUse());

    /// <summary>
    /// Lists the repository's manifest revisions and brings <paramref name="use"/> to match: manifests not seen before
    /// are read (their references sized once per digest), manifests gone are forgotten. The caller holds the gate.
    /// </summary>
    private async Task RefreshAsync(RepositoryName name, RepositoryUse use, CancellationToken cancellationToken)
    {
        var listed = await LayoutWalker.DigestTreeAsync(_driver, StoragePaths.Repository(name) + "/_manifests/revisions", cancellationToken);
        var present = new HashSet<Digest>(listed);
        foreach (var gone in use.Manifests.Keys.Where(digest => !present.Contains(digest)).ToList())
        {
            use.Remove(gone);
        }

        foreach (var digest in present)
        {
            if (use.Manifests.ContainsKey(digest))
            {
                continue;
            }

            var references = new List<(Digest Digest, long Size)>();
            if (await _manifests.GetAsync(name, digest, cancellationToken) is { } stored)
            {
                references.Add((digest, stored.Content.Length));
                if (ManifestStore.TryParse(stored) is { } manifest)
                {
                    foreach (var descriptor in manifest.RequiredBlobs.Concat(manifest.Manifests))
                    {
                        if (await StoredSizeAsync(descriptor.Digest, cancellationToken) is { } size)
                        {
                            references.Add((descriptor.Digest, size));
                        }
                    }
                }
            }

            // A revision whose content is gone (garbage collection racing this listing) counts nothing; it is
            // remembered so it is not read again on every check.
            use.Add(digest, references);
        }

        use.CheckedAt = _time.GetUtcNow();
        use.Loaded = true;
    }

    private async Task<long?> StoredSizeAsync(Digest digest, CancellationToken cancellationToken)
    {
        if (_sizes.TryGetValue(digest, out var known))
        {
            return known;
        }

        if (await _blobs.StatStoredAsync(digest, cancellationToken) is not { } size)
        {
            return null;
        }

        if (_sizes.Count >= MaxRememberedSizes)
        {
            _sizes.Clear();
        }

        // Content under a digest never changes, so its size can be remembered for good.
        _sizes[digest] = size;
        return size;
    }

    private static RegistryException Refusal(RepositoryName name, QuotaRule rule, long used, long adding, string what) =>
        ErrorCode.Denied.With(
            new
            {
                repository = name.Value,
                quota = new { rule = rule.Key, repositories = rule.Repositories, limitBytes = rule.LimitBytes },
                usedBytes = used,
                addingBytes = adding,
            },
            $"storage quota exceeded: {name} uses {Exact(used)} of its {Exact(rule.LimitBytes)} quota ({rule.Key}: {string.Join(", ", rule.Repositories)}); {what} would add {Exact(adding)}");

    /// <summary>Rounded for people, with the byte count: two figures a byte apart must not read the same.</summary>
    private static string Exact(long bytes) =>
        bytes < 1024 ? ByteSize.Format(bytes) : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{ByteSize.Format(bytes)} ({bytes} bytes)");

    [LoggerMessage(EventId = 2465, Level = LogLevel.Information,
        Message = "Quota {Rule} ({Limit} bytes) refused a {Kind} push to {Repository}, which uses {Used} bytes: {Digest} would add {Adding} bytes")]
    private static partial void LogRefused(ILogger logger, RepositoryName repository, string rule, long limit, long used, long adding, string kind,
        Digest digest);

    /// <summary>What one repository's manifests reach; guarded by <see cref="Gate"/> except for the figures metrics read.</summary>
    private sealed class RepositoryUse
    {
        public readonly SemaphoreSlim Gate = new(1, 1);
        public readonly Dictionary<Digest, Digest[]> Manifests = [];
        public readonly Dictionary<Digest, (long Size, int References)> Blobs = [];
        public long Bytes;
        public DateTimeOffset CheckedAt;
        public volatile bool Loaded;

        public void Add(Digest manifest, IEnumerable<(Digest Digest, long Size)> references)
        {
            var distinct = references.DistinctBy(reference => reference.Digest).ToArray();
            Manifests[manifest] = [.. distinct.Select(reference => reference.Digest)];
            foreach (var (digest, size) in distinct)
            {
                if (Blobs.TryGetValue(digest, out var counted))
                {
                    Blobs[digest] = (counted.Size, counted.References + 1);
                }
                else
                {
                    Blobs[digest] = (size, 1);
                    Interlocked.Add(ref Bytes, size);
                }
            }
        }

        public void Remove(Digest manifest)
        {
            if (!Manifests.Remove(manifest, out var references))
            {
                return;
            }

            foreach (var digest in references)
            {
                var (size, count) = Blobs[digest];
                if (count > 1)
                {
                    Blobs[digest] = (size, count - 1);
                }
                else
                {
                    Blobs.Remove(digest);
                    Interlocked.Add(ref Bytes, -size);
                }
            }
        }
    }
}

/// <summary>Byte counts as people read them (binary units, as quotas are usually written).</summary>
public static class ByteSize
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

    /// <summary><c>512 B</c>, <c>1.5 MiB</c>, <c>10 GiB</c>.</summary>
    public static string Format(long bytes)
    {
        double value = bytes;
        var unit = 0;
        while (Math.Abs(value) >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{value:0.##} {Units[unit]}");
    }
}
