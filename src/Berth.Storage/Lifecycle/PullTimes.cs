using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Berth.Core;
using Berth.Storage.Drivers;

namespace Berth.Storage.Lifecycle;

/// <summary>
/// When each manifest was last pulled, recorded without a storage write per pull. A pull only updates memory; the
/// times are written every flush interval and at shutdown, by each replica to an object of its own:
/// <code>
/// /docker/registry/v2/_berth_pulltimes/&lt;replica&gt;.json    {"repositories":{"team/app":{"sha256:...":"2026-12-07T01:02:03Z"}}}
/// </code>
/// Beside <c>blobs/</c> and <c>repositories/</c> (like <c>_berth_quarantine</c>), so registry:2 and the catalog never
/// see it. One object per replica means two replicas never race on the same object; a reader takes the latest time
/// per manifest across all of them. A replica reads its own object back before its first write, so times survive
/// restarts. Times are per manifest digest in a repository: a pull by tag and a pull by digest both count.
/// </summary>
public sealed class PullTimes
{
    public const string Root = StoragePaths.Root + "/_berth_pulltimes";

    /// <summary>Large enough for about half a million pulled manifests per replica.</summary>
    private const int MaxObjectBytes = 64 * 1024 * 1024;

    private readonly IStorageDriver _driver;
    private readonly TimeProvider _time;
    private readonly string _objectPath;
    private readonly SemaphoreSlim _flushLock = new(1, 1);
    private readonly ConcurrentDictionary<(string Repository, Digest Digest), DateTimeOffset> _pending = new();
    private Dictionary<(string Repository, Digest Digest), DateTimeOffset>? _written;

    public PullTimes(IStorageDriver driver, TimeProvider time, string replica)
    {
        _driver = driver;
        _time = time;
        Replica = SafeReplicaName(replica);
        _objectPath = $"{Root}/{Replica}.json";
    }

    /// <summary>The name of this replica's object (the configured or host name, with characters a path cannot hold replaced).</summary>
    public string Replica { get; }

    /// <summary>
    /// False when nothing reads pull times (no retention rule has <c>keep.pulledwithin</c>): pulls are then not noted,
    /// so such a registry never writes a pull-time object.
    /// </summary>
    public bool Recording { get; init; } = true;

    /// <summary>Pulls recorded in memory and not yet written.</summary>
    public int PendingCount => _pending.Count;

    /// <summary>Notes a pull of <paramref name="digest"/> from <paramref name="repository"/> now; memory only.</summary>
    public void Record(RepositoryName repository, Digest digest)
    {
        if (!Recording)
        {
            return;
        }

        var now = _time.GetUtcNow();
        _pending.AddOrUpdate((repository.Value, digest), now, (_, previous) => previous > now ? previous : now);
    }

    /// <summary>
    /// Writes the pulls recorded since the last flush into this replica's object (one small-object write, atomic).
    /// Nothing is written when nothing was pulled. If the write fails, the pulls stay pending for the next flush.
    /// </summary>
    public async Task<int> FlushAsync(CancellationToken cancellationToken)
    {
        await _flushLock.WaitAsync(cancellationToken);
        try
        {
            if (_pending.IsEmpty)
            {
                return 0;
            }

            _written ??= await ReadObjectAsync(_objectPath, cancellationToken) ?? [];
            var batch = _pending.ToArray();
            var merged = new Dictionary<(string Repository, Digest Digest), DateTimeOffset>(_written);
            foreach (var (key, at) in batch)
            {
                Merge(merged, key, at);
            }

            // A failed write throws with the batch still pending, for the next flush.
            await _driver.PutContentAsync(_objectPath, Serialize(merged), cancellationToken);
            foreach (var written in batch)
            {
                // Removed only if unchanged: a pull recorded during the write stays pending.
                ((ICollection<KeyValuePair<(string, Digest), DateTimeOffset>>)_pending).Remove(written);
            }

            _written = merged;
            return batch.Length;
        }
        finally
        {
            _flushLock.Release();
        }
    }

    /// <summary>The latest pull of every manifest by any replica, this process's unwritten pulls included.</summary>
    public async Task<PullTimeIndex> ReadAllAsync(CancellationToken cancellationToken)
    {
        var latest = new Dictionary<(string Repository, Digest Digest), DateTimeOffset>();
        foreach (var path in await Links.ListOrEmptyAsync(_driver, Root, cancellationToken))
        {
            if (!path.EndsWith(".json", StringComparison.Ordinal))
            {
                continue;
            }

            foreach (var (key, at) in await ReadObjectAsync(path, cancellationToken) ?? [])
            {
                Merge(latest, key, at);
            }
        }

        foreach (var (key, at) in _pending)
        {
            Merge(latest, key, at);
        }

        return new PullTimeIndex(latest);
    }

    private static void Merge(Dictionary<(string, Digest), DateTimeOffset> into, (string, Digest) key, DateTimeOffset at)
    {
        if (!into.TryGetValue(key, out var existing) || existing < at)
        {
            into[key] = at;
        }
    }

    private async Task<Dictionary<(string Repository, Digest Digest), DateTimeOffset>?> ReadObjectAsync(string path, CancellationToken cancellationToken)
    {
        byte[] content;
        try
        {
            content = await _driver.GetContentAsync(path, MaxObjectBytes, cancellationToken);
        }
        catch (StoragePathNotFoundException)
        {
            return null;
        }

        var times = new Dictionary<(string, Digest), DateTimeOffset>();
        try
        {
            using var document = JsonDocument.Parse(content);
            if (!document.RootElement.TryGetProperty("repositories", out var repositories) || repositories.ValueKind != JsonValueKind.Object)
            {
                return times;
            }

            foreach (var repository in repositories.EnumerateObject())
            {
                if (repository.Value.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                foreach (var entry in repository.Value.EnumerateObject())
                {
                    // An entry this version cannot read (written by a newer one, or damaged) counts as never pulled.
                    if (Digest.TryParse(entry.Name, out var digest) && entry.Value.ValueKind == JsonValueKind.String
                        && DateTimeOffset.TryParse(entry.Value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
                    {
                        times[(repository.Name, digest)] = at;
                    }
                }
            }
        }
        catch (JsonException)
        {
            // A damaged object loses its times (the pulls are then older than they were); it is rewritten whole at the next flush.
        }

        return times;
    }

    private static byte[] Serialize(Dictionary<(string Repository, Digest Digest), DateTimeOffset> times)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("repositories");
            foreach (var repository in times.GroupBy(e => e.Key.Repository).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                writer.WriteStartObject(repository.Key);
                foreach (var (key, at) in repository.OrderBy(e => e.Key.Digest))
                {
                    writer.WriteString(key.Digest.ToString(), at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static string SafeReplicaName(string replica)
    {
        var chars = replica.Trim().Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-').ToArray();
        var name = new string(chars).Trim('.');
        return name.Length == 0 ? "replica" : name.Length > 128 ? name[..128] : name;
    }
}

/// <summary>The latest pull time of each manifest, as <see cref="PullTimes.ReadAllAsync"/> found them.</summary>
public sealed class PullTimeIndex(IReadOnlyDictionary<(string Repository, Digest Digest), DateTimeOffset> times)
{
    public int Count => times.Count;

    /// <summary>When <paramref name="digest"/> was last pulled from <paramref name="repository"/>, or null if never (as far as Berth knows).</summary>
    public DateTimeOffset? LastPulled(RepositoryName repository, Digest digest) =>
        times.TryGetValue((repository.Value, digest), out var at) ? at : null;
}
