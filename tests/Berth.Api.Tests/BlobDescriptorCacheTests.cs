using System.Net;
using Berth.Api.Tests.Infrastructure;
using Berth.Storage.Redis.Tests;
using Microsoft.Extensions.Logging;

namespace Berth.Api.Tests;

/// <summary>
/// <c>storage.cache.blobdescriptor</c> over real HTTP: two replicas on one storage root sharing a real redis-server,
/// deletes seen by both at once, and Redis outages that only cost speed.
/// </summary>
public sealed class BlobDescriptorCacheTests : IAsyncLifetime
{
    private RedisServer _redis = null!;
    private string _sharedRoot = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _sharedRoot = Path.Combine(Path.GetTempPath(), "berth-cache-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_sharedRoot);
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        Directory.Delete(_sharedRoot, recursive: true);
    }

    private Task<BerthServer> ReplicaAsync(string cache = "redis") => BerthServer.StartAsync(new BerthServerOptions
    {
        StorageRoot = _sharedRoot,
        StorageYaml = ["cache:", $"  blobdescriptor: {cache}"],
        ExtraYaml = $"redis:\n  addr: {_redis.Address}\n  readtimeout: 300ms\n  dialtimeout: 500ms\n",
    });

    [Fact]
    public async Task A_blob_deleted_on_one_replica_is_gone_on_the_other_at_once()
    {
        await using var first = await ReplicaAsync();
        await using var second = await ReplicaAsync();
        var repository = Oci.UniqueRepository("cache");
        var blob = await first.Client.PushBlobAsync(repository, Oci.RandomBytes(300));

        // Both replicas have answered (and cached) the blob.
        await AssertHeadAsync(first, repository, blob.Digest, HttpStatusCode.OK);
        await AssertHeadAsync(second, repository, blob.Digest, HttpStatusCode.OK);
        Assert.Contains(blob.Digest, await _redis.CommandAsync("KEYS", "*"), StringComparison.Ordinal);

        using (var delete = await first.Client.SendAsync(HttpMethod.Delete, $"/v2/{repository}/blobs/{blob.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        await AssertHeadAsync(second, repository, blob.Digest, HttpStatusCode.NotFound);
        using var get = await second.Client.GetAsync($"/v2/{repository}/blobs/{blob.Digest}");
        await OciAssert.ErrorAsync(get, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task A_manifest_deleted_on_one_replica_is_no_longer_a_blob_of_the_repository_on_the_other()
    {
        await using var first = await ReplicaAsync();
        await using var second = await ReplicaAsync();
        var repository = Oci.UniqueRepository("cache");
        var image = await first.Client.PushImageAsync(repository, "v1");
        await AssertHeadAsync(second, repository, image.Manifest.Digest, HttpStatusCode.OK);

        using (var delete = await second.Client.SendAsync(HttpMethod.Delete, $"/v2/{repository}/manifests/{image.Manifest.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        await AssertHeadAsync(first, repository, image.Manifest.Digest, HttpStatusCode.NotFound);
        await AssertHeadAsync(second, repository, image.Manifest.Digest, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task With_redis_down_pushes_pulls_and_deletes_work_from_storage_and_the_cache_returns_with_it()
    {
        await using var replica = await ReplicaAsync();
        var repository = Oci.UniqueRepository("cache");
        var before = await replica.Client.PushImageAsync(repository, "before");
        await AssertHeadAsync(replica, repository, before.Layer.Digest, HttpStatusCode.OK);

        await _redis.StopAsync();
        var during = await replica.Client.PushImageAsync(repository, "during");
        foreach (var image in new[] { before, during })
        {
            await AssertHeadAsync(replica, repository, image.Layer.Digest, HttpStatusCode.OK);
            using var layer = await replica.Client.GetAsync($"/v2/{repository}/blobs/{image.Layer.Digest}");
            await OciAssert.StatusAsync(layer, HttpStatusCode.OK);
            Assert.Equal(image.LayerBytes, await layer.Content.ReadAsByteArrayAsync());
        }

        using (var delete = await replica.Client.SendAsync(HttpMethod.Delete, $"/v2/{repository}/blobs/{before.Layer.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        await AssertHeadAsync(replica, repository, before.Layer.Digest, HttpStatusCode.NotFound);
        Assert.Contains(replica.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("Redis is unavailable", StringComparison.Ordinal));
        Assert.DoesNotContain(replica.Logs.Entries, e => e.Level >= LogLevel.Error);

        await _redis.RestartAsync();
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            await AssertHeadAsync(replica, repository, during.Layer.Digest, HttpStatusCode.OK);
            return (await _redis.CommandAsync("KEYS", "*")).Contains(during.Layer.Digest, StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(20)), "the cache did not come back with Redis");
    }

    [Fact]
    public async Task The_in_memory_cache_serves_a_single_replica_and_forgets_what_it_deletes()
    {
        await using var replica = await ReplicaAsync("inmemory");
        var repository = Oci.UniqueRepository("cache");
        var blob = await replica.Client.PushBlobAsync(repository, Oci.RandomBytes(100));
        await AssertHeadAsync(replica, repository, blob.Digest, HttpStatusCode.OK);
        await AssertHeadAsync(replica, repository, blob.Digest, HttpStatusCode.OK);

        using (var delete = await replica.Client.SendAsync(HttpMethod.Delete, $"/v2/{repository}/blobs/{blob.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        await AssertHeadAsync(replica, repository, blob.Digest, HttpStatusCode.NotFound);
        Assert.Equal("*0\r\n", await _redis.CommandAsync("KEYS", "*")); // nothing went to Redis
    }

    private static async Task AssertHeadAsync(BerthServer replica, string repository, string digest, HttpStatusCode expected)
    {
        using var head = await replica.Client.SendAsync(HttpMethod.Head, $"/v2/{repository}/blobs/{digest}");
        await OciAssert.StatusAsync(head, expected);
    }
}
