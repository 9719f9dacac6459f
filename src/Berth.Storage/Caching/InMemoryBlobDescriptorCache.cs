using Berth.Core;
using Microsoft.Extensions.Caching.Memory;

namespace Berth.Storage.Caching;

/// <summary>
/// <c>storage.cache.blobdescriptor: inmemory</c>: a bounded cache in this process. Right for a single replica (or
/// replicas that never delete); replicas that delete should share <c>redis</c>, because an entry here is only
/// invalidated by deletes this process makes.
/// </summary>
public sealed class InMemoryBlobDescriptorCache : IBlobDescriptorCache, IDisposable
{
    /// <summary>How long an invalidated entry refuses to be stored again; far longer than a storage read takes.</summary>
    public static readonly TimeSpan TombstoneLifetime = TimeSpan.FromSeconds(60);

    private readonly MemoryCache _entries;
    private readonly Dictionary<DescriptorKey, DateTimeOffset> _tombstones = [];
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private DateTimeOffset _nextTombstoneSweep;

    /// <param name="capacity">The most entries kept (<c>storage.cache.blobdescriptorsize</c>); the oldest go first.</param>
    public InMemoryBlobDescriptorCache(int capacity, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _entries = new MemoryCache(new MemoryCacheOptions { SizeLimit = capacity, CompactionPercentage = 0.1 });
        _time = time;
    }

    public string Kind => "inmemory";

    public ValueTask<long?> GetAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_entries.TryGetValue(new DescriptorKey(repository, digest), out long size) ? size : (long?)null);

    public ValueTask SetAsync(RepositoryName repository, Digest digest, long size, CancellationToken cancellationToken)
    {
        var key = new DescriptorKey(repository, digest);
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (_tombstones.TryGetValue(key, out var until) && until > now)
            {
                return ValueTask.CompletedTask;
            }

            _entries.Set(key, size, new MemoryCacheEntryOptions { Size = 1 });
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask InvalidateAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        var key = new DescriptorKey(repository, digest);
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            _tombstones[key] = now + TombstoneLifetime;
            _entries.Remove(key);
            if (now >= _nextTombstoneSweep)
            {
                // Deletes are rare; sweeping on them keeps the tombstones bounded without a timer.
                foreach (var expired in _tombstones.Where(t => t.Value <= now).Select(t => t.Key).ToList())
                {
                    _tombstones.Remove(expired);
                }

                _nextTombstoneSweep = now + TombstoneLifetime;
            }
        }

        return ValueTask.CompletedTask;
    }

    public void Dispose() => _entries.Dispose();

    private readonly record struct DescriptorKey(RepositoryName Repository, Digest Digest);
}
