using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Core;
using Berth.Storage;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging;

namespace Berth.Proxy;

/// <summary>
/// Removes cached content <c>ttl</c> after it was fetched, as registry:2's proxy scheduler does, and in the same
/// state file (<c>/scheduler-state.json</c> at the storage root, the same JSON), so a registry:2 cache handed to
/// Berth keeps its schedule and the other way round. The schedule survives restarts: it is written back within
/// <see cref="SaveInterval"/> of a change and when the registry stops, and entries that came due while Berth was
/// down expire at start.
/// </summary>
/// <remarks>
/// An expired blob is unlinked from its repository; in registry:2's proxy mode, where every repository is a cache,
/// its bytes are deleted too (as registry:2 does), while beside local repositories that may share them they are
/// left to garbage collection, which removes them once nothing references them. An expired manifest is deleted
/// with the tags that point at it. A blob still on its way from the upstream is never expired under the fetch.
/// </remarks>
public sealed partial class CacheExpiry
{
    /// <summary>registry:2's state file, at the root of the storage driver.</summary>
    public const string StatePath = "/scheduler-state.json";

    /// <summary>How often a changed schedule is written back (registry:2 uses the same interval).</summary>
    public static readonly TimeSpan SaveInterval = TimeSpan.FromSeconds(5);

    /// <summary>The largest state file read: about 1.5 million entries.</summary>
    private const int MaxStateBytes = 256 * 1024 * 1024;

    private const int BlobEntry = 0;
    private const int ManifestEntry = 1;

    private readonly IStorageDriver _driver;
    private readonly BlobStore _blobs;
    private readonly ManifestStore _manifests;
    private readonly bool _deleteBlobData;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, DateTimeOffset> _due = new();
    private bool _dirty;

    /// <param name="driver">Where the state file lives.</param>
    /// <param name="blobs">The blob store expired blobs are unlinked from.</param>
    /// <param name="manifests">The manifest store expired manifests are deleted from.</param>
    /// <param name="deleteBlobData">Delete an expired blob's bytes too (every repository is a cache).</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">Where expiries are logged.</param>
    public CacheExpiry(IStorageDriver driver, BlobStore blobs, ManifestStore manifests, bool deleteBlobData, TimeProvider time, ILogger<CacheExpiry> logger)
    {
        _driver = driver;
        _blobs = blobs;
        _manifests = manifests;
        _deleteBlobData = deleteBlobData;
        _time = time;
        _logger = logger;
    }

    /// <summary>Entries scheduled.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Schedules a cached blob's removal <paramref name="ttl"/> from now (zero: never).</summary>
    public void ScheduleBlob(RepositoryName name, Digest digest, TimeSpan ttl) => Schedule(name, digest, ttl, BlobEntry);

    /// <summary>Schedules a cached manifest's removal <paramref name="ttl"/> from now (zero: never).</summary>
    public void ScheduleManifest(RepositoryName name, Digest digest, TimeSpan ttl) => Schedule(name, digest, ttl, ManifestEntry);

    /// <summary>Loads the schedule, then expires entries as they come due until <paramref name="cancellationToken"/> fires.</summary>
    /// <param name="isFetching">True for a digest whose fetch is under way, which must not expire now.</param>
    /// <param name="cancellationToken">Stops the loop; the schedule is saved on the way out.</param>
    public async Task RunAsync(Func<Digest, bool> isFetching, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(isFetching);
        await LoadAsync(cancellationToken);
        var lastSave = _time.GetUtcNow();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await ExpireDueAsync(isFetching, cancellationToken);
                if (_time.GetUtcNow() - lastSave >= SaveInterval)
                {
                    await SaveAsync(cancellationToken);
                    lastSave = _time.GetUtcNow();
                }

                await Task.Delay(NextWait(), _time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        await SaveAsync(CancellationToken.None);
    }

    /// <summary>Expires every entry due now; returns how many.</summary>
    public async Task<int> ExpireDueAsync(Func<Digest, bool> isFetching, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(isFetching);
        var expired = 0;
        while (TakeDue() is { } entry)
        {
            if (entry.Key is null || !TryParseKey(entry.Key, out var name, out var digest))
            {
                continue;
            }

            if (entry.EntryType == BlobEntry && isFetching(digest))
            {
                // Being fetched again right now: expiring it would pull the bytes from under the fetch.
                Schedule(name, digest, TimeSpan.FromMinutes(1), BlobEntry);
                continue;
            }

            try
            {
                if (entry.EntryType == ManifestEntry)
                {
                    await _manifests.DeleteAsync(name, digest, cancellationToken);
                }
                else
                {
                    await _blobs.UnlinkAsync(name, digest, cancellationToken);
                    if (_deleteBlobData)
                    {
                        await DeleteBlobDataAsync(digest, cancellationToken);
                    }
                }

                expired++;
                LogExpired(_logger, entry.EntryType == ManifestEntry ? "manifest" : "blob", entry.Key);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogExpiryFailed(_logger, ex, entry.Key, ex.Message);
            }
        }

        return expired;
    }

    /// <summary>Writes the schedule to the state file if it changed.</summary>
    public async Task SaveAsync(CancellationToken cancellationToken)
    {
        byte[] content;
        lock (_lock)
        {
            if (!_dirty)
            {
                return;
            }

            content = JsonSerializer.SerializeToUtf8Bytes(_entries, StateJson.Default.DictionaryStringEntry);
            _dirty = false;
        }

        try
        {
            await _driver.PutContentAsync(StatePath, content, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            lock (_lock)
            {
                _dirty = true;
            }

            LogSaveFailed(_logger, ex, ex.Message);
        }
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        byte[] content;
        try
        {
            content = await _driver.GetContentAsync(StatePath, MaxStateBytes, cancellationToken);
        }
        catch (StoragePathNotFoundException)
        {
            return;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Too large, or storage failing now: the registry must still serve; the content stays cached.
            LogStateUnreadable(_logger, ex.Message);
            return;
        }

        Dictionary<string, Entry>? entries;
        try
        {
            entries = JsonSerializer.Deserialize(content, StateJson.Default.DictionaryStringEntry);
        }
        catch (JsonException ex)
        {
            // A damaged schedule must not stop the registry; the content stays cached until fetched again.
            LogStateUnreadable(_logger, ex.Message);
            return;
        }

        lock (_lock)
        {
            foreach (var entry in (entries ?? []).Values)
            {
                if (entry.Key is not null && !_entries.ContainsKey(entry.Key))
                {
                    _entries[entry.Key] = entry;
                    _due.Enqueue(entry.Key, entry.Expiry);
                }
            }
        }
    }

    private void Schedule(RepositoryName name, Digest digest, TimeSpan ttl, int type)
    {
        if (ttl <= TimeSpan.Zero)
        {
            return;
        }

        var key = $"{name.Value}@{digest}";
        var entry = new Entry { Key = key, Expiry = _time.GetUtcNow() + ttl, EntryType = type };
        lock (_lock)
        {
            _entries[key] = entry;
            _due.Enqueue(key, entry.Expiry);
            _dirty = true;
        }
    }

    private Entry? TakeDue()
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            while (_due.TryPeek(out var key, out var expiry) && expiry <= now)
            {
                _due.Dequeue();

                // The queue keeps superseded times (an entry scheduled again); only the current one counts.
                if (_entries.TryGetValue(key, out var entry) && entry.Expiry == expiry)
                {
                    _entries.Remove(key);
                    _dirty = true;
                    return entry;
                }
            }

            return null;
        }
    }

    private TimeSpan NextWait()
    {
        lock (_lock)
        {
            var wait = _due.TryPeek(out _, out var next) ? next - _time.GetUtcNow() : TimeSpan.FromSeconds(1);
            return wait < TimeSpan.FromMilliseconds(50) ? TimeSpan.FromMilliseconds(50) : wait > TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : wait;
        }
    }

    private async Task DeleteBlobDataAsync(Digest digest, CancellationToken cancellationToken)
    {
        try
        {
            await _driver.DeleteAsync(StoragePaths.BlobDirectory(digest), cancellationToken);
        }
        catch (StoragePathNotFoundException)
        {
        }
    }

    private static bool TryParseKey(string key, out RepositoryName name, out Digest digest)
    {
        name = null!;
        digest = default;
        var at = key.LastIndexOf('@');
        return at > 0 && RepositoryName.TryParse(key[..at], out name!) && Digest.TryParse(key[(at + 1)..], out digest);
    }

    /// <summary>One entry of registry:2's state file.</summary>
    internal sealed class Entry
    {
        [JsonPropertyName("Key")]
        public string? Key { get; init; }

        [JsonPropertyName("ExpiryData")]
        public DateTimeOffset Expiry { get; init; }

        [JsonPropertyName("EntryType")]
        public int EntryType { get; init; }
    }

    [JsonSerializable(typeof(Dictionary<string, Entry>))]
    internal sealed partial class StateJson : JsonSerializerContext;

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Cached {Kind} {Key} expired")]
    private static partial void LogExpired(ILogger logger, string kind, string key);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Expiring {Key} failed: {Reason}")]
    private static partial void LogExpiryFailed(ILogger logger, Exception exception, string key, string reason);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Saving the cache's expiry schedule failed: {Reason}")]
    private static partial void LogSaveFailed(ILogger logger, Exception exception, string reason);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Warning, Message = "The cache's expiry schedule (scheduler-state.json) cannot be read and is started afresh: {Reason}")]
    private static partial void LogStateUnreadable(ILogger logger, string reason);
}
