using Berth.Core;

namespace Berth.Storage.Caching;

/// <summary>
/// Remembers that a blob is part of a repository and how large it is (registry:2's "blob descriptor cache",
/// <c>storage.cache.blobdescriptor</c>), so blob HEADs and GETs need no storage round trips. Only positive answers
/// are cached; a miss always asks the storage.
/// </summary>
/// <remarks>
/// <para>Deleting a blob from a repository (a blob DELETE, a manifest DELETE, a collection) must not leave an entry
/// behind, on this replica or any other. A reader can race the delete: it reads the link from storage just before
/// the link is removed and stores its answer just after the entry was dropped. So <see cref="InvalidateAsync"/>
/// also leaves a short-lived tombstone that makes <see cref="SetAsync"/> of the same entry a no-op, and deleters call
/// it both before and after they change storage: whatever a reader saw, it either lands before the second call
/// (which removes it) or after the first (which the tombstone refuses).</para>
/// <para>Implementations never throw for their own failures (a cache server that is down, slow or refusing):
/// they answer "not cached" and the caller reads storage.</para>
/// </remarks>
public interface IBlobDescriptorCache
{
    /// <summary>The cache's kind for metrics and logs: <c>none</c>, <c>inmemory</c> or <c>redis</c>.</summary>
    string Kind { get; }

    /// <summary>The cached size of <paramref name="digest"/> in <paramref name="repository"/>, or null when not cached.</summary>
    ValueTask<long?> GetAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken);

    /// <summary>Caches a size read from storage, unless the entry was invalidated a moment ago.</summary>
    ValueTask SetAsync(RepositoryName repository, Digest digest, long size, CancellationToken cancellationToken);

    /// <summary>Drops the entry and refuses to store it again for a while; see the remarks.</summary>
    ValueTask InvalidateAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken);
}

/// <summary>No caching: every lookup goes to storage (registry:2 without <c>storage.cache</c>).</summary>
public sealed class NoBlobDescriptorCache : IBlobDescriptorCache
{
    public static NoBlobDescriptorCache Instance { get; } = new();

    private NoBlobDescriptorCache()
    {
    }

    public string Kind => "none";

    public ValueTask<long?> GetAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken) =>
        ValueTask.FromResult<long?>(null);

    public ValueTask SetAsync(RepositoryName repository, Digest digest, long size, CancellationToken cancellationToken) =>
        ValueTask.CompletedTask;

    public ValueTask InvalidateAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken) =>
        ValueTask.CompletedTask;
}
