using System.Collections.Concurrent;
using System.Diagnostics;
using Berth.Auth;
using Berth.Core;
using Berth.Core.Manifests;
using Berth.Storage;
using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;
using Microsoft.Extensions.Logging;

namespace Berth.Ui.Browsing;

/// <summary>
/// The web UI's read model, built on the registry's own stores (the UI reads what the API serves, by the same rules).
/// </summary>
/// <remarks>
/// <para>
/// What a page costs is bounded by what it shows. The repository list filters the catalog's cached name list in memory
/// and reads details only for the page's rows. A repository's tags are read once (a link read and a stat per tag) and
/// kept: a changed tag list (which the tag store validates cheaply on every use) re-reads only the new tags; tags this
/// process changes are re-read at the next view; and every <see cref="TagsFreshFor"/> (<see cref="RemoteTagsFreshFor"/> on
/// object storage) the next view re-reads all of them in the background (tags another replica moved), serving the
/// previous view meanwhile. Summaries (sizes, created time,
/// platforms) are computed from a manifest and its config once per digest: content under a digest never changes.
/// </para>
/// <para>
/// Storage use needs a walk of every repository's links; <see cref="StorageUsageService"/> runs it in the background,
/// shared with the usage endpoint and the metrics, when a page asks for it.
/// </para>
/// </remarks>
public sealed partial class RegistryBrowser : IDisposable
{
    /// <summary>How long a repository's tag view is served without re-reading every link, on a local filesystem.</summary>
    public static readonly TimeSpan TagsFreshFor = TimeSpan.FromSeconds(10);

    /// <summary>The same on object storage, where reading 5,000 links is 10,000 billed requests.</summary>
    public static readonly TimeSpan RemoteTagsFreshFor = TimeSpan.FromSeconds(60);

    /// <summary>The most tag links a row of the repository list reads while the page waits.</summary>
    public const int OverviewTagReadLimit = 200;

    private const int ReadParallelism = 32;
    private const int MaxCachedSummaries = 50_000;
    private const int MaxCachedConfigs = 20_000;
    private const int MaxCachedRepositories = 20_000;
    private const int MaxConfigBytes = 1024 * 1024;

    private readonly IStorageDriver _driver;
    private readonly CatalogStore _catalog;
    private readonly TagStore _tags;
    private readonly ManifestStore _manifests;
    private readonly ReferrerStore _referrers;
    private readonly BlobStore _blobs;
    private readonly StorageUsageService _usage;
    private readonly bool _ownsUsage;
    private readonly ILogger<RegistryBrowser> _logger;
    private readonly ConcurrentDictionary<string, RepositoryTags> _tagViews = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> _tagRefreshes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Digest, ImageSummary> _summaries = new();
    private readonly ConcurrentDictionary<(string Repository, Digest Digest), IndexSummary> _indexSummaries = new();
    private long _deletions;
    private readonly ConcurrentDictionary<Digest, ImageConfig?> _configs = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly TimeSpan _tagsFreshFor;

    public RegistryBrowser(IStorageDriver driver, CatalogStore catalog, TagStore tags, ManifestStore manifests, ReferrerStore referrers,
        BlobStore blobs, ILogger<RegistryBrowser> logger, StorageUsageService? usage = null)
    {
        _driver = driver;
        _catalog = catalog;
        _tags = tags;
        _manifests = manifests;
        _referrers = referrers;
        _blobs = blobs;
        _logger = logger;
        _ownsUsage = usage is null;
        _usage = usage ?? new StorageUsageService(driver);
        var local = driver is ILocalFileDriver or ValidatingDriver { Inner: ILocalFileDriver };
        _tagsFreshFor = local ? TagsFreshFor : RemoteTagsFreshFor;
        _tags.TagsChanged += OnTagsChanged;
        _manifests.ManifestDeleted += OnManifestDeleted;
    }

    /// <summary>Repositories the grant may pull whose name contains <paramref name="filter"/> (case-insensitive), in catalog order.</summary>
    public async Task<IReadOnlyList<string>> VisibleRepositoriesAsync(IAccessGrant grant, string? filter, CancellationToken cancellationToken)
    {
        var (all, _) = await _catalog.ListAsync(int.MaxValue, null, cancellationToken);
        var visible = new List<string>();
        foreach (var name in all)
        {
            if ((string.IsNullOrEmpty(filter) || name.Contains(filter, StringComparison.OrdinalIgnoreCase))
                && grant.Allows(AccessRequest.Repository(name, AccessRequest.Pull)))
            {
                visible.Add(name);
            }
        }

        return visible;
    }

    /// <summary>The repository's tags, or null when it does not exist.</summary>
    public async Task<RepositoryTags?> TagsAsync(RepositoryName name, CancellationToken cancellationToken)
    {
        var listed = await _tags.ListAsync(name, cancellationToken);
        if (listed is null)
        {
            _tagViews.TryRemove(name.Value, out _);
            return null;
        }

        _tagViews.TryGetValue(name.Value, out var previous);
        if (previous is not null && ReferenceEquals(previous.Listed, listed) && previous.Stale.IsEmpty)
        {
            if (Stopwatch.GetElapsedTime(previous.TakenAt) >= _tagsFreshFor)
            {
                RefreshInBackground(name, listed);
            }

            return previous;
        }

        var view = await ReadTagsAsync(name, listed, previous, cancellationToken);
        Remember(name, view);
        return view;
    }

    /// <summary>
    /// A repository's row in the list: its tag count, and its last push when known without reading more than
    /// <see cref="OverviewTagReadLimit"/> links now. A bigger repository without a tag view yet gets one built in the
    /// background, so its last push shows from the next view on; null when the repository does not exist.
    /// </summary>
    public async Task<RepositoryOverview?> OverviewAsync(RepositoryName name, CancellationToken cancellationToken)
    {
        var listed = await _tags.ListAsync(name, cancellationToken);
        if (listed is null)
        {
            return null;
        }

        if (_tagViews.TryGetValue(name.Value, out var view) || listed.Count <= OverviewTagReadLimit)
        {
            view = await TagsAsync(name, cancellationToken);
            return view is null ? null : new RepositoryOverview(view.Count, view.LastPush);
        }

        RefreshInBackground(name, listed);
        return new RepositoryOverview(listed.Count, null);
    }

    /// <summary>
    /// The summary of a manifest the repository holds, or null when it does not hold it. The revision link is checked
    /// on every call; only the summary of the content is cached.
    /// </summary>
    public async Task<ImageSummary?> SummaryAsync(RepositoryName name, Digest digest, CancellationToken cancellationToken) =>
        await SummaryAsync(name, digest, tagged: false, cancellationToken);

    /// <summary>
    /// As <see cref="SummaryAsync(RepositoryName, Digest, CancellationToken)"/>; <paramref name="tagged"/> says the digest
    /// comes from the repository's own tag view, whose links were just read, so a cached summary needs no revision-link
    /// read (a page of 100 tags would otherwise read 100 links per view).
    /// </summary>
    private async Task<ImageSummary?> SummaryAsync(RepositoryName name, Digest digest, bool tagged, CancellationToken cancellationToken)
    {
        if (tagged && CachedSummary(name, digest) is { } known)
        {
            return known;
        }

        var stored = await _manifests.GetAsync(name, digest, cancellationToken);
        if (stored is null)
        {
            return null;
        }

        if (CachedSummary(name, digest) is { } cached)
        {
            return cached;
        }

        var deletionsBefore = Volatile.Read(ref _deletions);
        var summary = await SummarizeAsync(name, stored, cancellationToken);
        if (summary.IsIndex)
        {
            // An index's size depends on which children this repository holds: kept per repository, and checked again
            // after a delete in this process or once it is as old as a tag view may be. One with a missing child is
            // summarised again at every view, until the child arrives.
            if (summary.Size is null)
            {
                return summary;
            }

            if (_indexSummaries.Count >= MaxCachedSummaries)
            {
                _indexSummaries.Clear();
            }

            _indexSummaries[(name.Value, digest)] = new IndexSummary(summary, deletionsBefore, Stopwatch.GetTimestamp());
        }
        else
        {
            if (_summaries.Count >= MaxCachedSummaries)
            {
                _summaries.Clear();
            }

            _summaries[digest] = summary;
        }

        return summary;
    }

    /// <summary>A cached summary still true of <paramref name="name"/>'s content, or null.</summary>
    private ImageSummary? CachedSummary(RepositoryName name, Digest digest)
    {
        if (_summaries.TryGetValue(digest, out var image))
        {
            return image;
        }

        return _indexSummaries.TryGetValue((name.Value, digest), out var index) && index.Deletions == Volatile.Read(ref _deletions)
            && Stopwatch.GetElapsedTime(index.CheckedAt) < _tagsFreshFor
            ? index.Summary
            : null;
    }

    private void OnManifestDeleted(RepositoryName name, Digest digest) => Interlocked.Increment(ref _deletions);

    /// <summary>Summaries of many manifests at once (a page of tags), read in parallel; missing ones are left out.</summary>
    public Task<IReadOnlyDictionary<Digest, ImageSummary>> SummariesAsync(RepositoryName name, IEnumerable<Digest> digests,
        CancellationToken cancellationToken) => SummariesAsync(name, digests, tagged: false, cancellationToken);

    /// <summary>Summaries of the manifests rows of the repository's tag view name (see <see cref="SummaryAsync(RepositoryName, Digest, bool, CancellationToken)"/>).</summary>
    public Task<IReadOnlyDictionary<Digest, ImageSummary>> TaggedSummariesAsync(RepositoryName name, IEnumerable<TagRow> rows,
        CancellationToken cancellationToken) => SummariesAsync(name, rows.Select(row => row.Digest), tagged: true, cancellationToken);

    private async Task<IReadOnlyDictionary<Digest, ImageSummary>> SummariesAsync(RepositoryName name, IEnumerable<Digest> digests, bool tagged,
        CancellationToken cancellationToken)
    {
        var result = new ConcurrentDictionary<Digest, ImageSummary>();
        await Parallel.ForEachAsync(digests.Distinct(), new ParallelOptions { MaxDegreeOfParallelism = ReadParallelism, CancellationToken = cancellationToken },
            async (digest, token) =>
            {
                if (await SummaryAsync(name, digest, tagged, token) is { } summary)
                {
                    result[digest] = summary;
                }
            });
        return result;
    }

    /// <summary>The image configuration a manifest names, or null for an index, an artifact without a JSON config, or a missing blob.</summary>
    public async Task<ImageConfig?> ConfigAsync(ImageSummary summary, CancellationToken cancellationToken)
    {
        if (summary.Manifest is not { IsIndex: false, Config: { } config })
        {
            return null;
        }

        if (_configs.TryGetValue(config.Digest, out var cached))
        {
            return cached;
        }

        ImageConfig? parsed = null;
        if (config.Size is > 0 and <= MaxConfigBytes)
        {
            try
            {
                var content = await _blobs.GetContentAsync(config.Digest, MaxConfigBytes, cancellationToken);
                if (content is null)
                {
                    return null;
                }

                parsed = Digest.Compute(content, config.Digest.Algorithm) == config.Digest ? ImageConfig.TryParse(content) : null;
            }
            catch (StorageObjectTooLargeException)
            {
                parsed = null;
            }
        }

        if (_configs.Count >= MaxCachedConfigs)
        {
            _configs.Clear();
        }

        _configs[config.Digest] = parsed;
        return parsed;
    }

    /// <summary>The manifests that name <paramref name="subject"/> as their subject (signatures, SBOMs, attestations), newest first.</summary>
    public async Task<IReadOnlyList<ImageSummary>> ReferrersAsync(RepositoryName name, Digest subject, CancellationToken cancellationToken)
    {
        var digests = await _referrers.ListAsync(name, subject, cancellationToken);
        var summaries = await SummariesAsync(name, digests, cancellationToken);
        return [.. summaries.Values.OrderByDescending(summary => summary.Created ?? DateTimeOffset.MinValue).ThenBy(summary => summary.Digest.ToString())];
    }

    /// <summary>The tags of <paramref name="name"/> that name <paramref name="digest"/>, from the current view.</summary>
    public async Task<IReadOnlyList<string>> TagsOfAsync(RepositoryName name, Digest digest, CancellationToken cancellationToken)
    {
        var view = await TagsAsync(name, cancellationToken);
        return view is null ? [] : [.. view.Rows.Values.Where(row => row.Digest == digest).Select(row => row.Tag).Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// The latest storage-use report, or null before the first walk ends; see <see cref="StorageUsageService.GetAsync"/>.
    /// </summary>
    public Task<StorageUsageReport?> UsageAsync(TimeSpan wait, CancellationToken cancellationToken) => _usage.GetAsync(wait, cancellationToken);

    public void Dispose()
    {
        _tags.TagsChanged -= OnTagsChanged;
        _manifests.ManifestDeleted -= OnManifestDeleted;
        _stopping.Cancel();
        _stopping.Dispose();
        if (_ownsUsage)
        {
            _usage.Dispose();
        }
    }

    private void OnTagsChanged(RepositoryName name, string tag)
    {
        if (_tagViews.TryGetValue(name.Value, out var view))
        {
            view.Stale.TryAdd(tag, 0);
        }
    }

    private void RefreshInBackground(RepositoryName name, IReadOnlyList<string> listed)
    {
        if (_tagRefreshes.ContainsKey(name.Value))
        {
            return;
        }

        var refresh = new TaskCompletionSource();
        if (!_tagRefreshes.TryAdd(name.Value, refresh.Task))
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                Remember(name, await ReadTagsAsync(name, listed, null, _stopping.Token));
            }
            catch (Exception ex)
            {
                // The old view stays; the next page view tries again.
                LogTagRefreshFailed(_logger, ex, name.Value);
            }
            finally
            {
                _tagRefreshes.TryRemove(name.Value, out _);
                refresh.SetResult();
            }
        });
    }

    private void Remember(RepositoryName name, RepositoryTags view)
    {
        if (_tagViews.Count >= MaxCachedRepositories && !_tagViews.ContainsKey(name.Value))
        {
            _tagViews.Clear();
        }

        _tagViews[name.Value] = view;
    }

    /// <summary>Reads the links of <paramref name="listed"/>, reusing the rows of <paramref name="previous"/> for tags it has and did not see change.</summary>
    private async Task<RepositoryTags> ReadTagsAsync(RepositoryName name, IReadOnlyList<string> listed, RepositoryTags? previous,
        CancellationToken cancellationToken)
    {
        var takenAt = Stopwatch.GetTimestamp();
        var stale = previous is null ? [] : previous.Stale.Keys.ToHashSet(StringComparer.Ordinal);
        var rows = new ConcurrentDictionary<string, TagRow>(StringComparer.Ordinal);
        var toRead = new List<string>();
        foreach (var tag in listed)
        {
            if (previous is not null && !stale.Contains(tag) && previous.Rows.TryGetValue(tag, out var known))
            {
                rows[tag] = known;
            }
            else
            {
                toRead.Add(tag);
            }
        }

        await Parallel.ForEachAsync(toRead, new ParallelOptions { MaxDegreeOfParallelism = ReadParallelism, CancellationToken = cancellationToken },
            async (tag, token) =>
            {
                if (await ReadTagAsync(name, tag, token) is { } row)
                {
                    rows[tag] = row;
                }
            });

        // A reused view keeps its age: every tag is re-read once it is older than TagsFreshFor.
        var view = new RepositoryTags(listed, rows, previous is null || toRead.Count == listed.Count ? takenAt : previous.TakenAt);
        if (previous is not null)
        {
            // Changes announced while this view was read went to the previous one; they stay to be read.
            foreach (var tag in previous.Stale.Keys)
            {
                if (!stale.Contains(tag))
                {
                    view.Stale.TryAdd(tag, 0);
                }
            }
        }

        return view;
    }

    private async Task<TagRow?> ReadTagAsync(RepositoryName name, string tag, CancellationToken cancellationToken)
    {
        var link = StoragePaths.TagCurrentLink(name, tag);
        try
        {
            var digest = await _tags.ResolveAsync(name, tag, cancellationToken);
            if (digest is null)
            {
                return null;
            }

            var info = await _driver.StatAsync(link, cancellationToken);
            return new TagRow(tag, digest.Value, info.ModifiedAt);
        }
        catch (StoragePathNotFoundException)
        {
            // Deleted between the listing and the read.
            return null;
        }
    }

    private async Task<ImageSummary> SummarizeAsync(RepositoryName name, StoredManifest stored, CancellationToken cancellationToken)
    {
        var manifest = ManifestStore.TryParse(stored);
        if (manifest is null)
        {
            return new ImageSummary(stored.Digest, stored.MediaType, null, stored.Content.Length, null, [], new Dictionary<Digest, long>());
        }

        var blobs = new Dictionary<Digest, long>();
        if (manifest.IsIndex)
        {
            var platforms = new List<string>();
            var complete = true;
            DateTimeOffset? created = null;
            var children = await SummariesAsync(name, manifest.Manifests.Select(child => child.Digest), cancellationToken);
            foreach (var child in manifest.Manifests)
            {
                blobs[child.Digest] = child.Size;
                if (ImageSummary.PlatformOf(child) is { } platform && !platforms.Contains(platform))
                {
                    platforms.Add(platform);
                }

                if (!children.TryGetValue(child.Digest, out var summary) || summary.Size is null)
                {
                    complete = false;
                    continue;
                }

                foreach (var (digest, size) in summary.Blobs)
                {
                    blobs[digest] = size;
                }

                if (summary.Created > created || created is null)
                {
                    created = summary.Created;
                }
            }

            return new ImageSummary(stored.Digest, stored.MediaType, manifest, complete ? stored.Content.Length + blobs.Values.Sum() : null, created,
                platforms, blobs);
        }

        if (manifest.Config is { } config)
        {
            blobs[config.Digest] = config.Size;
        }

        foreach (var layer in manifest.Layers)
        {
            blobs[layer.Digest] = layer.Size;
        }

        var summaryWithoutConfig = new ImageSummary(stored.Digest, stored.MediaType, manifest, stored.Content.Length + blobs.Values.Sum(),
            CreatedAnnotation(manifest), [], blobs);
        var parsed = await ConfigAsync(summaryWithoutConfig, cancellationToken);
        if (parsed is null)
        {
            return summaryWithoutConfig;
        }

        return summaryWithoutConfig with
        {
            Created = parsed.Created ?? summaryWithoutConfig.Created,
            Platforms = ImageSummary.PlatformText(parsed.Os, parsed.Architecture, parsed.Variant) is { } ownPlatform ? [ownPlatform] : [],
        };
    }

    /// <summary>Artifacts often carry their time only as the standard annotation.</summary>
    private static DateTimeOffset? CreatedAnnotation(Manifest manifest) =>
        manifest.Annotations is { } annotations && annotations.TryGetValue("org.opencontainers.image.created", out var created)
            ? ImageConfig.Time(created)
            : null;

    [LoggerMessage(EventId = 8003, Level = LogLevel.Warning, Message = "Web UI: re-reading the tags of {Repository} failed")]
    private static partial void LogTagRefreshFailed(ILogger logger, Exception exception, string repository);

    /// <summary>An index's summary for one repository, with what it was checked against.</summary>
    private sealed record IndexSummary(ImageSummary Summary, long Deletions, long CheckedAt);
}
