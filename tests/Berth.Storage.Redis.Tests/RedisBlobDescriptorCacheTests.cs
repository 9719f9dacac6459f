using System.Diagnostics;
using Berth.Core;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Berth.Storage.Redis.Tests;

/// <summary><see cref="RedisBlobDescriptorCache"/> against a real redis-server, as two replicas would share it.</summary>
public sealed class RedisBlobDescriptorCacheTests : IAsyncLifetime
{
    private static readonly RepositoryName Repository = RepositoryName.Parse("team/app");
    private static readonly Digest Blob = Digest.Compute("layer"u8.ToArray());

    private readonly List<IConnectionMultiplexer> _connections = [];
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }

        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task A_size_one_replica_caches_is_seen_by_another()
    {
        var first = await CacheAsync();
        var second = await CacheAsync();

        Assert.Null(await second.GetAsync(Repository, Blob, default));
        await first.SetAsync(Repository, Blob, 1234, default);

        Assert.Equal(1234, await second.GetAsync(Repository, Blob, default));
        Assert.Null(await second.GetAsync(RepositoryName.Parse("team/other"), Blob, default));
    }

    [Fact]
    public async Task An_invalidation_on_one_replica_removes_the_entry_for_every_replica()
    {
        var first = await CacheAsync();
        var second = await CacheAsync();
        await second.SetAsync(Repository, Blob, 1234, default);

        await first.InvalidateAsync(Repository, Blob, default);

        Assert.Null(await second.GetAsync(Repository, Blob, default));
        Assert.Null(await first.GetAsync(Repository, Blob, default));
    }

    [Fact]
    public async Task A_reader_that_raced_a_delete_cannot_store_its_stale_answer()
    {
        var deleter = await CacheAsync();
        var reader = await CacheAsync();

        // The reader looked at storage before the delete and stores what it saw after the deleter's first invalidation.
        await deleter.InvalidateAsync(Repository, Blob, default);
        await reader.SetAsync(Repository, Blob, 1234, default);

        Assert.Null(await reader.GetAsync(Repository, Blob, default));
    }

    [Fact]
    public async Task Once_the_tombstone_expires_the_entry_can_be_cached_again()
    {
        var cache = await CacheAsync(new RedisBlobDescriptorCacheOptions { TombstoneLifetime = TimeSpan.FromMilliseconds(200) });
        await cache.InvalidateAsync(Repository, Blob, default);
        await Task.Delay(400);

        await cache.SetAsync(Repository, Blob, 99, default);

        Assert.Equal(99, await cache.GetAsync(Repository, Blob, default));
    }

    [Fact]
    public async Task Entries_carry_the_configured_lifetime_and_share_a_hash_tag_with_their_tombstone()
    {
        var cache = await CacheAsync(new RedisBlobDescriptorCacheOptions { EntryLifetime = TimeSpan.FromMinutes(5) });
        await cache.SetAsync(Repository, Blob, 7, default);
        await cache.InvalidateAsync(RepositoryName.Parse("team/gone"), Blob, default);

        var keys = await _redis.CommandAsync("KEYS", "*");
        Assert.Contains($"berth:blobdescriptor:{{team/app@{Blob}}}:size", keys, StringComparison.Ordinal);
        Assert.Contains($"berth:blobdescriptor:{{team/gone@{Blob}}}:deleted", keys, StringComparison.Ordinal);

        var ttl = await _redis.CommandAsync("PTTL", $"berth:blobdescriptor:{{team/app@{Blob}}}:size");
        var milliseconds = long.Parse(ttl.TrimStart(':').Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(milliseconds, 1, (long)TimeSpan.FromMinutes(5).TotalMilliseconds);
    }

    [Fact]
    public async Task A_stopped_server_turns_every_call_into_a_quick_miss()
    {
        var cache = await CacheAsync(new RedisBlobDescriptorCacheOptions { RetryAfter = TimeSpan.FromSeconds(30) });
        await cache.SetAsync(Repository, Blob, 1234, default);
        await _redis.StopAsync();

        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < 200; i++)
        {
            Assert.Null(await cache.GetAsync(Repository, Blob, default));
            await cache.SetAsync(Repository, Blob, 1234, default);
        }

        // At most one call waited for Redis; the rest skipped it during the back-off.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"200 lookups took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task The_cache_comes_back_by_itself_when_the_server_returns()
    {
        var cache = await CacheAsync(new RedisBlobDescriptorCacheOptions { RetryAfter = TimeSpan.FromMilliseconds(200) });
        await _redis.StopAsync();
        Assert.Null(await cache.GetAsync(Repository, Blob, default));

        await _redis.RestartAsync();
        var deadline = Stopwatch.StartNew();
        long? size = null;
        while (size is null && deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            await cache.SetAsync(Repository, Blob, 42, default);
            size = await cache.GetAsync(Repository, Blob, default);
            await Task.Delay(100);
        }

        Assert.Equal(42, size);
    }

    [Fact]
    public async Task A_hung_server_costs_one_timeout_then_storage_answers()
    {
        var cache = await CacheAsync(new RedisBlobDescriptorCacheOptions { RetryAfter = TimeSpan.FromSeconds(30) });
        await cache.SetAsync(Repository, Blob, 1234, default);
        _redis.Pause();
        try
        {
            var stopwatch = Stopwatch.StartNew();
            Assert.Null(await cache.GetAsync(Repository, Blob, default));
            Assert.Null(await cache.GetAsync(Repository, Blob, default));
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"two lookups against a hung server took {stopwatch.Elapsed}");
        }
        finally
        {
            _redis.Resume();
        }
    }

    [Fact]
    public async Task An_invalidation_made_during_an_outage_is_replayed_before_the_replica_reads_again()
    {
        var retry = TimeSpan.FromSeconds(2);
        var deleter = await CacheAsync(new RedisBlobDescriptorCacheOptions { RetryAfter = retry });
        var other = await CacheAsync();
        await other.SetAsync(Repository, Blob, 1234, default);

        // A lookup against a hung server fails and puts the deleter in its back-off ...
        _redis.Pause();
        Assert.Null(await deleter.GetAsync(Repository, Blob, default));
        _redis.Resume();

        // ... during which an invalidation cannot be sent and is remembered instead.
        await deleter.InvalidateAsync(Repository, Blob, default);
        Assert.Equal(1, deleter.PendingInvalidations);
        Assert.Equal(1234, await other.GetAsync(Repository, Blob, default));

        // The deleter's next use of Redis replays it first.
        await Task.Delay(retry + TimeSpan.FromMilliseconds(500));
        Assert.Null(await deleter.GetAsync(Repository, Blob, default));
        Assert.Equal(0, deleter.PendingInvalidations);
        Assert.Null(await other.GetAsync(Repository, Blob, default));
    }

    private async Task<RedisBlobDescriptorCache> CacheAsync(RedisBlobDescriptorCacheOptions? options = null)
    {
        var configuration = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            BacklogPolicy = BacklogPolicy.FailFast,
            ConnectTimeout = 1000,
            AsyncTimeout = 500,
            SyncTimeout = 500,
            EndPoints = { _redis.Address },
        };
        var connection = await ConnectionMultiplexer.ConnectAsync(configuration);
        _connections.Add(connection);
        return new RedisBlobDescriptorCache(connection, options ?? new RedisBlobDescriptorCacheOptions(), TimeProvider.System,
            NullLogger<RedisBlobDescriptorCache>.Instance);
    }
}
