using System.Collections.Concurrent;
using System.Globalization;
using Berth.Core;
using Berth.Storage.Caching;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Berth.Storage.Redis;

/// <summary>
/// <c>storage.cache.blobdescriptor: redis</c>: blob descriptors in a Redis server every replica shares, so a delete on
/// one replica invalidates the entry for all of them.
/// </summary>
/// <remarks>
/// <para>An entry and its tombstone share a hash tag (<c>{repository@digest}</c>), so the scripts that touch both
/// work on Redis Cluster too. Entries expire after <see cref="RedisBlobDescriptorCacheOptions.EntryLifetime"/>, which
/// bounds how long an entry can outlive a delete whose invalidation was lost.</para>
/// <para>Redis being down, slow or refusing never fails a request: the lookup counts as a miss and storage answers.
/// After a failure the cache stays out of the way for <see cref="RedisBlobDescriptorCacheOptions.RetryAfter"/>,
/// so an outage costs one timeout per interval, not one per request. Invalidations that fail are remembered and
/// replayed before this replica reads Redis again.</para>
/// </remarks>
public sealed partial class RedisBlobDescriptorCache : IBlobDescriptorCache
{
    // KEYS[1] entry, KEYS[2] tombstone; ARGV[1] size, ARGV[2] entry lifetime (ms).
    private const string SetUnlessTombstoned = """
        if redis.call('EXISTS', KEYS[2]) == 0 then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        end
        return 0
        """;

    // KEYS[1] entry, KEYS[2] tombstone; ARGV[1] tombstone lifetime (ms).
    private const string Invalidate = """
        redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
        redis.call('DEL', KEYS[1])
        return 0
        """;

    private readonly IConnectionMultiplexer _connection;
    private readonly RedisBlobDescriptorCacheOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<string> _pendingInvalidations = new();
    private readonly SemaphoreSlim _replayGate = new(1, 1);
    private long _unavailableUntil;
    private int _unavailable;

    public RedisBlobDescriptorCache(IConnectionMultiplexer connection, RedisBlobDescriptorCacheOptions options, TimeProvider time,
        ILogger<RedisBlobDescriptorCache> logger)
    {
        _connection = connection;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public string Kind => "redis";

    /// <summary>Invalidations that failed and wait for Redis to come back.</summary>
    internal int PendingInvalidations => _pendingInvalidations.Count;

    private IDatabase Database => _connection.GetDatabase(_options.Database);

    public async ValueTask<long?> GetAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        if (!await ReadyAsync())
        {
            return null;
        }

        try
        {
            var value = await Database.StringGetAsync(EntryKey(KeyTag(repository, digest)));
            Recovered();
            return value.HasValue && long.TryParse((string?)value, NumberStyles.None, CultureInfo.InvariantCulture, out var size) ? size : null;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            Failed(ex);
            return null;
        }
    }

    public async ValueTask SetAsync(RepositoryName repository, Digest digest, long size, CancellationToken cancellationToken)
    {
        if (!await ReadyAsync())
        {
            return;
        }

        var tag = KeyTag(repository, digest);
        try
        {
            await Database.ScriptEvaluateAsync(SetUnlessTombstoned, [EntryKey(tag), TombstoneKey(tag)],
                [size.ToString(CultureInfo.InvariantCulture), (long)_options.EntryLifetime.TotalMilliseconds]);
            Recovered();
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            Failed(ex);
        }
    }

    public async ValueTask InvalidateAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        var tag = KeyTag(repository, digest);
        if (IsUnavailable() || !await TryInvalidateAsync(tag))
        {
            Remember(tag);
        }
    }

    private async Task<bool> TryInvalidateAsync(string tag)
    {
        try
        {
            await Database.ScriptEvaluateAsync(Invalidate, [EntryKey(tag), TombstoneKey(tag)],
                [(long)_options.TombstoneLifetime.TotalMilliseconds]);
            Recovered();
            return true;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            Failed(ex);
            return false;
        }
    }

    private void Remember(string tag)
    {
        if (_pendingInvalidations.Count >= _options.MaxPendingInvalidations)
        {
            // Past this, the entry lifetime is what bounds staleness.
            LogPendingInvalidationsFull(_logger, _options.MaxPendingInvalidations);
            return;
        }

        _pendingInvalidations.Enqueue(tag);
    }

    /// <summary>True when Redis may be used now: not in a back-off, and every remembered invalidation replayed.</summary>
    private async ValueTask<bool> ReadyAsync()
    {
        if (IsUnavailable())
        {
            return false;
        }

        if (_pendingInvalidations.IsEmpty)
        {
            return true;
        }

        await _replayGate.WaitAsync();
        try
        {
            while (_pendingInvalidations.TryPeek(out var tag))
            {
                if (!await TryInvalidateAsync(tag))
                {
                    return false;
                }

                _pendingInvalidations.TryDequeue(out _);
            }

            return true;
        }
        finally
        {
            _replayGate.Release();
        }
    }

    private bool IsUnavailable() => _time.GetTimestamp() < Interlocked.Read(ref _unavailableUntil);

    private void Failed(Exception ex)
    {
        Interlocked.Exchange(ref _unavailableUntil, _time.GetTimestamp() + (long)(_options.RetryAfter.TotalSeconds * _time.TimestampFrequency));
        if (Interlocked.Exchange(ref _unavailable, 1) == 0)
        {
            LogUnavailable(_logger, _options.RetryAfter.TotalSeconds, ex);
        }
    }

    private void Recovered()
    {
        if (Volatile.Read(ref _unavailable) == 1 && Interlocked.Exchange(ref _unavailable, 0) == 1)
        {
            LogRecovered(_logger);
        }
    }

    private static bool IsRedisFailure(Exception ex) => ex is RedisException or TimeoutException or ObjectDisposedException;

    private string EntryKey(string tag) => $"{_options.KeyPrefix}{{{tag}}}:size";

    private string TombstoneKey(string tag) => $"{_options.KeyPrefix}{{{tag}}}:deleted";

    private static string KeyTag(RepositoryName repository, Digest digest) => $"{repository}@{digest}";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unavailable for the blob descriptor cache; storage answers instead, retrying every {RetryAfterSeconds} s")]
    private static partial void LogUnavailable(ILogger logger, double retryAfterSeconds, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis answers again; the blob descriptor cache is back")]
    private static partial void LogRecovered(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "More than {Limit} blob descriptor invalidations wait for Redis; further ones rely on the entry lifetime")]
    private static partial void LogPendingInvalidationsFull(ILogger logger, int limit);
}

/// <summary>Settings of <see cref="RedisBlobDescriptorCache"/>.</summary>
public sealed record RedisBlobDescriptorCacheOptions
{
    /// <summary>The Redis database number (<c>redis.db</c>).</summary>
    public int Database { get; init; }

    /// <summary>Prefix of every key, so registries can share a Redis server.</summary>
    public string KeyPrefix { get; init; } = "berth:blobdescriptor:";

    /// <summary>How long an entry lives; bounds staleness when an invalidation could not reach Redis at all.</summary>
    public TimeSpan EntryLifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long an invalidated entry refuses to be stored again; far longer than a storage read takes.</summary>
    public TimeSpan TombstoneLifetime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the cache stays out of the way after Redis failed.</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The most failed invalidations remembered for replay.</summary>
    public int MaxPendingInvalidations { get; init; } = 100_000;
}
