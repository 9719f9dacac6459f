using System.Collections.Concurrent;
using Berth.Core;
using Berth.Storage;
using Microsoft.Extensions.Logging;

namespace Berth.Proxy;

/// <summary>
/// The pull-through cache: serves mirrored repositories from local storage and fills it from the upstreams on a
/// miss. Endpoints ask it only for repositories <see cref="Router"/> says are mirrored; everything else is local.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Blobs and manifests by digest are content-addressed: once cached they are served without asking the upstream.</item>
/// <item>A tag is trusted for <see cref="UpstreamOptions.TagCheckInterval"/>, then checked with one HEAD (which Docker
/// Hub does not count against pull limits); the manifest is fetched only when the digest moved.</item>
/// <item>When the upstream fails, cached tags answer their last known digest; only content never seen fails.</item>
/// <item>Concurrent requests for the same missing blob, manifest or tag check share one upstream request
/// (<see cref="BlobFetch"/>, <see cref="SingleFlight{TKey, TResult}"/>).</item>
/// </list>
/// </remarks>
public sealed partial class PullThroughCache : IDisposable
{
    private readonly BlobStore _blobs;
    private readonly ManifestStore _manifests;
    private readonly TagStore _tags;
    private readonly CacheExpiry? _expiry;
    private readonly string _spoolDirectory;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<Digest, BlobFlight> _blobFetches = new();
    private readonly SingleFlight<string, StoredManifest?> _manifestFetches = new();
    private readonly SingleFlight<string, StoredManifest?> _tagRefreshes = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _tagsCheckedAt = new(StringComparer.Ordinal);

    public PullThroughCache(ProxyRouter router, BlobStore blobs, ManifestStore manifests, TagStore tags, CacheExpiry? expiry,
        string spoolDirectory, TimeProvider time, ILogger<PullThroughCache> logger)
    {
        Router = router;
        _blobs = blobs;
        _manifests = manifests;
        _tags = tags;
        _expiry = expiry;
        _spoolDirectory = spoolDirectory;
        _time = time;
        _logger = logger;
    }

    /// <summary>Which repositories are mirrored, and from where.</summary>
    public ProxyRouter Router { get; }

    /// <summary>
    /// The mirrored repository a request names, or null for a local one. Reads of a name that only the default upstream
    /// could answer go to it unless a local repository of that name exists; writes to such names are local.
    /// </summary>
    public async Task<ProxiedRepository?> ResolveAsync(RepositoryName name, string? ns, bool isRead, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (Router.Route(name, ns) is { } routed)
        {
            return routed;
        }

        return isRead && Router.Default is not null && !await _tags.RepositoryExistsAsync(name, cancellationToken)
            ? Router.RouteToDefault(name)
            : null;
    }

    /// <summary>True while a blob is on its way from an upstream (expiry leaves such blobs alone).</summary>
    public bool IsFetching(Digest digest) => _blobFetches.ContainsKey(digest);

    /// <summary>
    /// The manifest a tag or digest names in a mirrored repository: from the cache when it is there (and, for a tag,
    /// checked recently or the upstream is failing), else from the upstream, stored on the way. Null when neither has it.
    /// </summary>
    /// <exception cref="UpstreamException">The upstream failed and the cache cannot answer instead.</exception>
    public async Task<StoredManifest?> GetManifestAsync(ProxiedRepository repository, Reference reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repository);
        var upstream = repository.Upstream.Options.Name;
        if (reference.Digest is { } digest)
        {
            if (await _manifests.GetAsync(repository.LocalName, digest, cancellationToken) is { } cached)
            {
                ProxyMetrics.RecordLookup(upstream, "manifest", hit: true);
                return cached;
            }

            ProxyMetrics.RecordLookup(upstream, "manifest", hit: false);
            return await FetchManifestAsync(repository, digest.ToString(), digest, cancellationToken);
        }

        var tag = reference.Tag!;
        var tagKey = $"{repository.LocalName.Value}:{tag}";
        var local = await _tags.ResolveAsync(repository.LocalName, tag, cancellationToken);
        if (local is { } known && _tagsCheckedAt.TryGetValue(tagKey, out var checkedAt)
            && _time.GetUtcNow() - checkedAt < repository.Upstream.Options.TagCheckInterval
            && await _manifests.GetAsync(repository.LocalName, known, cancellationToken) is { } fresh)
        {
            ProxyMetrics.RecordLookup(upstream, "manifest", hit: true);
            return fresh;
        }

        try
        {
            // One refresh per tag at a time, from the HEAD to the tag marked checked: a request arriving between the
            // HEAD's answer and the tag's write would otherwise ask the upstream again.
            return await _tagRefreshes.RunAsync(tagKey, () => RefreshTagAsync(repository, tag, tagKey),
                () => ProxyMetrics.RecordCoalesced(upstream, "tag"), cancellationToken);
        }
        catch (UpstreamException ex) when (local is not null)
        {
            var stale = await _manifests.GetAsync(repository.LocalName, local.Value, cancellationToken);
            if (stale is null)
            {
                throw;
            }

            ProxyMetrics.RecordStaleServe(upstream);
            LogStaleServe(_logger, repository.LocalName.Value, tag, local.Value.ToString(), ex.Message);
            return stale;
        }
    }

    /// <summary>
    /// Asks the upstream what <paramref name="tag"/> names now, fetches that manifest unless it is cached, and tags it
    /// in the mirror. Null when the upstream does not have the tag (any more).
    /// </summary>
    private async Task<StoredManifest?> RefreshTagAsync(ProxiedRepository repository, string tag, string tagKey)
    {
        var upstream = repository.Upstream.Options.Name;
        var head = await CheckTagAsync(repository, tag);
        if (head is null)
        {
            // The upstream says the tag does not exist (any more): so does the mirror.
            return null;
        }

        // The refresh serves every waiting caller, so it runs on no caller's token; the cache write is bounded like
        // any other.
        using var timeout = new CancellationTokenSource(repository.Upstream.Options.CacheWriteTimeout);
        StoredManifest? answer;
        if (head.Digest is { } current && await _manifests.GetAsync(repository.LocalName, current, timeout.Token) is { } held)
        {
            // Unchanged, or moved to a manifest cached already (by digest, or by a request that fetched it a moment ago).
            ProxyMetrics.RecordLookup(upstream, "manifest", hit: true);
            answer = held;
        }
        else
        {
            ProxyMetrics.RecordLookup(upstream, "manifest", hit: false);

            // An upstream that names no digest on HEAD is asked by tag, and what comes is hashed.
            answer = head.Digest is { } moved
                ? await FetchManifestAsync(repository, moved.ToString(), moved, timeout.Token)
                : await FetchManifestAsync(repository, tag, expected: null, timeout.Token);
        }

        if (answer is not null)
        {
            await _tags.SetAsync(repository.LocalName, tag, answer.Digest, timeout.Token);
            _tagsCheckedAt[tagKey] = _time.GetUtcNow();
        }

        return answer;
    }

    /// <summary>
    /// The tags of a mirrored repository as the upstream lists them (one page, as asked), or the cached tags when the
    /// upstream fails. Null when the upstream does not know the repository.
    /// </summary>
    public async Task<TagPage?> ListTagsAsync(ProxiedRepository repository, int? pageSize, string? last, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repository);
        var query = new List<string>();
        if (pageSize is { } n)
        {
            query.Add($"n={n}");
        }

        if (!string.IsNullOrEmpty(last))
        {
            query.Add("last=" + Uri.EscapeDataString(last));
        }

        try
        {
            var page = await repository.Upstream.GetTagsAsync(repository.RemoteName, query.Count == 0 ? "" : "?" + string.Join('&', query),
                cancellationToken);
            if (page is null)
            {
                return null;
            }

            var tags = TagPage.ParseTags(page.Value.Body);
            return new TagPage(tags, HasMore: page.Value.Link is not null && tags.Count > 0, FromCache: false);
        }
        catch (UpstreamException ex)
        {
            var cached = await _tags.ListAsync(repository.LocalName, cancellationToken);
            if (cached is null)
            {
                throw;
            }

            ProxyMetrics.RecordStaleServe(repository.Upstream.Options.Name);
            LogStaleTagList(_logger, repository.LocalName.Value, ex.Message);
            var start = string.IsNullOrEmpty(last) ? 0 : cached.Count(t => string.CompareOrdinal(t, last) <= 0);
            var count = Math.Max(0, Math.Min(pageSize ?? int.MaxValue, cached.Count - start));
            return new TagPage([.. cached.Skip(start).Take(count)], HasMore: start + count < cached.Count && count > 0, FromCache: true);
        }
    }

    /// <summary>
    /// The size of a blob of a mirrored repository that is not linked here yet, asked of the upstream (a HEAD: nothing
    /// is fetched). Null when the upstream does not have it.
    /// </summary>
    public async Task<long?> StatUpstreamBlobAsync(ProxiedRepository repository, Digest digest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repository);
        // A fetch under way knows the size already; awaiting its completed task cannot block.
#pragma warning disable VSTHRD003
        if (_blobFetches.TryGetValue(digest, out var flight) && flight.IsFor(repository) && flight.Fetch.Task.IsCompletedSuccessfully
            && await flight.Fetch.Task is { } fetch)
#pragma warning restore VSTHRD003
        {
            return fetch.Size;
        }

        return await repository.Upstream.HeadBlobAsync(repository.RemoteName, digest, cancellationToken);
    }

    /// <summary>
    /// A blob of a mirrored repository that is not linked here yet. If the registry already stores its bytes (another
    /// repository has it), the upstream is asked only whether this repository has it too, and it is linked; otherwise
    /// it is fetched, or the fetch already under way is joined. Null when the upstream does not have it.
    /// </summary>
    public async Task<ProxiedBlob?> OpenBlobAsync(ProxiedRepository repository, Digest digest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repository);
        var upstream = repository.Upstream.Options.Name;
        ProxyMetrics.RecordLookup(upstream, "blob", hit: false);
        if (!_blobFetches.ContainsKey(digest) && await _blobs.StatContentAsync(digest, cancellationToken) is { } stored)
        {
            // Linking needs the upstream's word that this repository has the blob: a digest alone must not open
            // content of another repository.
            if (await repository.Upstream.HeadBlobAsync(repository.RemoteName, digest, cancellationToken) is null)
            {
                return null;
            }

            await _blobs.LinkAsync(repository.LocalName, digest, cancellationToken);
            _expiry?.ScheduleBlob(repository.LocalName, digest, repository.Upstream.Options.Ttl);
            return new ProxiedBlob(this, digest, stored, reader: null);
        }

        BlobFlight flight;
        BlobFetch? fetch;
        for (var attempt = 1; ; attempt++)
        {
            var mine = new BlobFlight(repository, new TaskCompletionSource<BlobFetch?>(TaskCreationOptions.RunContinuationsAsynchronously));
            flight = _blobFetches.GetOrAdd(digest, mine);
            var joined = !ReferenceEquals(flight, mine);
            if (!joined)
            {
                _ = StartBlobFetchAsync(repository, digest, mine);
            }
            else
            {
                // The same rule for a fetch another repository started: joining it needs this repository to have the blob.
                if (!flight.IsFor(repository) && await repository.Upstream.HeadBlobAsync(repository.RemoteName, digest, cancellationToken) is null)
                {
                    return null;
                }

                ProxyMetrics.RecordCoalesced(upstream, "blob");
            }

            fetch = await flight.Fetch.Task.WaitAsync(cancellationToken);
            if (fetch is null)
            {
                return null;
            }

            // A fetch that had already failed when this request joined it (it leaves the table a moment after its
            // readers learn of the failure) is not this request's failure: it starts a fetch of its own, once.
            if (!joined || fetch.Failure is null || attempt > 1)
            {
                break;
            }

            _blobFetches.TryRemove(new KeyValuePair<Digest, BlobFlight>(digest, flight));
        }

        // The reader is taken now, while the fetch is known: a spool that closed in between means the fetch is over,
        // and how it ended decides between storage and an upstream error.
        if (fetch.TryOpenReader() is { } reader)
        {
            return new ProxiedBlob(this, digest, fetch.Size, reader);
        }

        return fetch.Failure is { } failure
            ? throw new UpstreamException(upstream, UpstreamFailure.BadAnswer, $"fetching {digest} from upstream {upstream} failed: {failure.Message}",
                inner: failure)
            : new ProxiedBlob(this, digest, fetch.Size, reader: null);
    }

    /// <summary>Counts bytes of a mirrored repository served from the cache.</summary>
    public static void RecordServedFromCache(ProxiedRepository repository, long bytes)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ProxyMetrics.RecordLookup(repository.Upstream.Options.Name, "blob", hit: true);
        ProxyMetrics.RecordServedFromCache(repository.Upstream.Options.Name, bytes);
    }

    internal Task<Stream> OpenStoredAsync(Digest digest, long offset, CancellationToken cancellationToken) =>
        _blobs.OpenReadAsync(digest, offset, cancellationToken);

    /// <summary>
    /// Asks the upstream for the blob and settles <paramref name="flight"/>: the fetch once its headers arrived, null
    /// when the upstream does not have the blob, the failure when it could not answer. A flight that settles without
    /// a fetch is forgotten at once, so the next request asks the upstream again.
    /// </summary>
    private async Task StartBlobFetchAsync(ProxiedRepository repository, Digest digest, BlobFlight flight)
    {
        await Task.Yield();

        // The fetch belongs to no single client: it goes on when the client that started it leaves, so the others are
        // served and the blob is cached. What ends it is an upstream that stops sending (requesttimeout without a byte).
        var options = repository.Upstream.Options;
        HttpResponseMessage? response = null;
        BlobFetch fetch;
        try
        {
            using (var headers = new CancellationTokenSource(options.RequestTimeout * 3))
            {
                response = await repository.Upstream.GetBlobAsync(repository.RemoteName, digest, headers.Token);
            }

            if (response is null)
            {
                Forget(digest, flight);
                flight.Fetch.TrySetResult(null);
                return;
            }

            var size = response.Content.Headers.ContentLength
                ?? throw new UpstreamException(options.Name, UpstreamFailure.Unavailable, $"upstream {options.Name} sent {digest} without a length");
            fetch = BlobFetch.Create(digest, size, _spoolDirectory);
        }
        catch (Exception ex)
        {
            response?.Dispose();
            Forget(digest, flight);
            flight.Fetch.TrySetException(ex is OperationCanceledException or IOException
                ? new UpstreamException(options.Name, UpstreamFailure.Unavailable, $"fetching {digest} from upstream {options.Name} failed: {ex.Message}", inner: ex)
                : ex);
            return;
        }

        _ = ReceiveAsync(repository, flight, fetch, response);
        _ = PersistAsync(repository, flight, fetch);
        flight.Fetch.TrySetResult(fetch);
    }

    private async Task ReceiveAsync(ProxiedRepository repository, BlobFlight flight, BlobFetch fetch, HttpResponseMessage response)
    {
        var upstream = repository.Upstream.Options.Name;
        using var idle = new CancellationTokenSource(repository.Upstream.Options.RequestTimeout);
        using (response)
        {
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(idle.Token);
                await fetch.ReceiveAsync(body, bytes =>
                {
                    ProxyMetrics.RecordFetched(upstream, bytes);
                    idle.CancelAfter(repository.Upstream.Options.RequestTimeout);
                }, idle.Token);
            }
            catch (Exception ex)
            {
                // The fetch failed its readers already (or does now, for a failure before the body); nobody new may join it.
                fetch.Fail(ex);
                Forget(fetch.Digest, flight);
                LogBlobFetchFailed(_logger, ex, fetch.Digest.ToString(), upstream, ex.Message);
            }
        }
    }

    /// <summary>
    /// Stores a fetched blob: one more reader of the spool, committed only once the body verified. Bounded by
    /// <c>cachewritetimeout</c> without progress, so a stalled storage write cannot hold the flight for ever.
    /// </summary>
    private async Task PersistAsync(ProxiedRepository repository, BlobFlight flight, BlobFetch fetch)
    {
        var digest = fetch.Digest;
        var idleLimit = repository.Upstream.Options.CacheWriteTimeout;
        using var idle = new CancellationTokenSource(idleLimit);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(128 * 1024);
        try
        {
            await using (var reader = fetch.OpenReader(0))
            {
                await using var writer = await _blobs.Driver.CreateAsync(StoragePaths.BlobData(digest), idle.Token);
                int read;
                while ((read = await reader.ReadAsync(buffer, idle.Token)) > 0)
                {
                    await writer.WriteAsync(buffer.AsMemory(0, read), idle.Token);
                    idle.CancelAfter(idleLimit);
                }

                await writer.CommitAsync(idle.Token);
            }

            // Scheduled before it is linked: a crash in between leaves an entry whose expiry finds nothing to do.
            _expiry?.ScheduleBlob(repository.LocalName, digest, repository.Upstream.Options.Ttl);
            await _blobs.LinkAsync(repository.LocalName, digest, idle.Token);
        }
        catch (Exception ex)
        {
            // The readers were told by the fetch itself; this is only about the copy kept.
            LogBlobNotCached(_logger, digest.ToString(), repository.LocalName.Value, ex.Message);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            Forget(digest, flight);
            fetch.Dispose();
        }
    }

    private void Forget(Digest digest, BlobFlight flight) =>
        _blobFetches.TryRemove(new KeyValuePair<Digest, BlobFlight>(digest, flight));

    private async Task<UpstreamManifestHead?> CheckTagAsync(ProxiedRepository repository, string tag)
    {
        // Each request to the upstream has its own timeout; this bounds the whole check (signing in included).
        using var timeout = new CancellationTokenSource(repository.Upstream.Options.RequestTimeout * 3);
        try
        {
            return await repository.Upstream.HeadManifestAsync(repository.RemoteName, tag, timeout.Token);
        }
        catch (OperationCanceledException ex) when (timeout.IsCancellationRequested)
        {
            var name = repository.Upstream.Options.Name;
            throw new UpstreamException(name, UpstreamFailure.Unavailable, $"upstream {name} did not answer the check of tag {tag} in time", inner: ex);
        }
    }

    private Task<StoredManifest?> FetchManifestAsync(ProxiedRepository repository, string reference, Digest? expected, CancellationToken cancellationToken)
    {
        var key = $"{repository.LocalName.Value}@{reference}";
        var name = repository.Upstream.Options.Name;
        return _manifestFetches.RunAsync(key, async () =>
        {
            using var timeout = new CancellationTokenSource(repository.Upstream.Options.RequestTimeout * 3);
            UpstreamManifest? fetched;
            try
            {
                fetched = await repository.Upstream.GetManifestAsync(repository.RemoteName, reference, ManifestStore.MaxManifestBytes, timeout.Token);
            }
            catch (OperationCanceledException ex) when (timeout.IsCancellationRequested)
            {
                throw new UpstreamException(name, UpstreamFailure.Unavailable, $"upstream {name} did not send the manifest {reference} in time", inner: ex);
            }

            if (fetched is null)
            {
                return null;
            }

            var algorithm = expected?.Algorithm ?? fetched.Digest?.Algorithm ?? Digest.Sha256;
            var actual = Digest.Compute(fetched.Content, algorithm);
            if ((expected ?? fetched.Digest) is { } wanted && wanted != actual)
            {
                throw new UpstreamException(name, UpstreamFailure.BadAnswer, $"upstream {name} sent a manifest that hashes to {actual}, not {wanted}");
            }

            StoredManifest stored;
            try
            {
                stored = await _manifests.StoreFetchedAsync(repository.LocalName, actual, fetched.Content, fetched.MediaType, CancellationToken.None);
            }
            catch (Core.Errors.RegistryException ex)
            {
                throw new UpstreamException(name, UpstreamFailure.BadAnswer, $"upstream {name} sent a manifest Berth cannot store: {ex.Message}", inner: ex);
            }

            _expiry?.ScheduleManifest(repository.LocalName, actual, repository.Upstream.Options.Ttl);
            return stored;
        }, () => ProxyMetrics.RecordCoalesced(name, "manifest"), cancellationToken);
    }

    public void Dispose()
    {
        foreach (var upstream in Router.Upstreams)
        {
            upstream.Dispose();
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning,
        Message = "Upstream failed; serving {Repository}:{Tag} as cached ({Digest}): {Reason}")]
    private static partial void LogStaleServe(ILogger logger, string repository, string tag, string digest, string reason);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Upstream failed; listing the cached tags of {Repository}: {Reason}")]
    private static partial void LogStaleTagList(ILogger logger, string repository, string reason);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Fetching {Digest} from upstream {Upstream} failed: {Reason}")]
    private static partial void LogBlobFetchFailed(ILogger logger, Exception exception, string digest, string upstream, string reason);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Blob {Digest} of {Repository} was served but not cached: {Reason}")]
    private static partial void LogBlobNotCached(ILogger logger, string digest, string repository, string reason);
}

/// <summary>A blob fetch under way, and the repository it was started for.</summary>
internal sealed record BlobFlight(ProxiedRepository Repository, TaskCompletionSource<BlobFetch?> Fetch)
{
    /// <summary>True when the fetch asks the same upstream repository as <paramref name="repository"/>.</summary>
    public bool IsFor(ProxiedRepository repository) =>
        ReferenceEquals(Repository.Upstream, repository.Upstream) && Repository.RemoteName == repository.RemoteName;
}

/// <summary>A blob of a mirrored repository: its size, and its bytes from the fetch in progress or from storage.</summary>
public sealed class ProxiedBlob : IAsyncDisposable
{
    private readonly PullThroughCache _cache;
    private Stream? _reader;

    internal ProxiedBlob(PullThroughCache cache, Digest digest, long size, Stream? reader)
    {
        _cache = cache;
        Digest = digest;
        Size = size;
        _reader = reader;
    }

    public Digest Digest { get; }

    public long Size { get; }

    /// <summary>
    /// The blob's bytes from <paramref name="offset"/>, once. While the fetch is under way they come as they arrive
    /// (the stream throws <see cref="IOException"/> if the upstream's body turns out short or corrupt); once it is
    /// over, from storage.
    /// </summary>
    public async Task<Stream> OpenReadAsync(long offset, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _reader, null) is { } reader)
        {
            reader.Position = offset;
            return reader;
        }

        return await _cache.OpenStoredAsync(Digest, offset, cancellationToken);
    }

    public ValueTask DisposeAsync() => Interlocked.Exchange(ref _reader, null)?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>One page of a mirrored repository's tags.</summary>
/// <param name="Tags">The tags, in the upstream's order.</param>
/// <param name="HasMore">True when the upstream (or the cache) has more after this page.</param>
/// <param name="FromCache">True when the upstream failed and the cached tags answered.</param>
public sealed record TagPage(IReadOnlyList<string> Tags, bool HasMore, bool FromCache)
{
    internal static IReadOnlyList<string> ParseTags(byte[] body)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(body);
            return document.RootElement.TryGetProperty("tags", out var tags) && tags.ValueKind == System.Text.Json.JsonValueKind.Array
                ? [.. tags.EnumerateArray().Select(t => t.GetString()).OfType<string>()]
                : [];
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new UpstreamException("upstream", UpstreamFailure.Unavailable, $"the upstream's tag list is not JSON: {ex.Message}", inner: ex);
        }
    }
}
