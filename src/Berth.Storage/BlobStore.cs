using Berth.Core;
using Berth.Core.Errors;
using Berth.Storage.Caching;
using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;

namespace Berth.Storage;

/// <summary>
/// The global content-addressed store and the per-repository links onto it. A blob is visible
/// in a repository when its <c>_layers</c> link exists and its data exists; data written once is
/// never rewritten, which is what makes caching, deduplication and mounting free.
/// </summary>
/// <param name="driver">The storage.</param>
/// <param name="cache">The blob descriptor cache, if one is configured.</param>
/// <param name="catalog">Told about every repository written into, so catalogs in other processes notice new ones.</param>
public sealed class BlobStore(IStorageDriver driver, IBlobDescriptorCache? cache = null, CatalogStore? catalog = null)
{
    private readonly IBlobDescriptorCache _cache = cache ?? NoBlobDescriptorCache.Instance;

    public IStorageDriver Driver { get; } = driver;

    /// <summary>The local file holding a blob's bytes when the driver keeps them in files, else null.</summary>
    public string? LocalFilePath(Digest digest) =>
        (Driver is ValidatingDriver { Inner: ILocalFileDriver local } ? local : Driver as ILocalFileDriver)?.LocalPath(StoragePaths.BlobData(digest));

    /// <summary>Size of a blob in the global store, or null when absent.</summary>
    public async Task<long?> StatContentAsync(Digest digest, CancellationToken cancellationToken)
    {
        if (await TryStatAsync(digest, cancellationToken) is { } size)
        {
            return size;
        }

        // A blob an online collection has quarantined but that someone uses again is taken back
        // at once, rather than after the collector's re-scan.
        return await CollectionHandshake.EnsureContentAsync(Driver, digest, cancellationToken) ? await TryStatAsync(digest, cancellationToken) : null;
    }

    /// <summary>
    /// Size of a blob's data in <c>blobs/</c>, or null, without taking it back from a collection's quarantine: for an
    /// upload commit, which moves fresh data into place when the digest is absent (quarantined or not).
    /// </summary>
    public Task<long?> StatStoredAsync(Digest digest, CancellationToken cancellationToken) => TryStatAsync(digest, cancellationToken);

    private async Task<long?> TryStatAsync(Digest digest, CancellationToken cancellationToken)
    {
        try
        {
            var info = await Driver.StatAsync(StoragePaths.BlobData(digest), cancellationToken);
            return info.IsDirectory ? null : info.Size;
        }
        catch (StoragePathNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Size of a blob linked into <paramref name="name"/>, or null when it is not part of it.</summary>
    /// <remarks>Answered from the blob descriptor cache when it knows; a manifest push that relies on a cached
    /// answer is still safe, because it confirms every reference after linking (<see cref="CollectionHandshake"/>).</remarks>
    public async Task<long?> StatAsync(RepositoryName name, Digest digest, CancellationToken cancellationToken)
    {
        if (await _cache.GetAsync(name, digest, cancellationToken) is { } cached)
        {
            StorageMetrics.RecordCacheLookup(_cache.Kind, hit: true);
            return cached;
        }

        StorageMetrics.RecordCacheLookup(_cache.Kind, hit: false);
        var linked = await Links.ReadAsync(Driver, StoragePaths.LayerLink(name, digest), cancellationToken)
            ?? await Links.ReadAsync(Driver, StoragePaths.ManifestRevisionLink(name, digest), cancellationToken);
        var size = linked == digest ? await StatContentAsync(digest, cancellationToken) : null;
        if (size is { } found)
        {
            await _cache.SetAsync(name, digest, found, cancellationToken);
        }

        return size;
    }

    /// <summary>
    /// Runs <paramref name="delete"/>, which removes <paramref name="digest"/> from <paramref name="name"/> in storage,
    /// between two invalidations of its cache entry, so no reader racing the delete can leave it cached.
    /// </summary>
    public async Task<T> ForgetAsync<T>(RepositoryName name, Digest digest, Func<Task<T>> delete, CancellationToken cancellationToken)
    {
        await _cache.InvalidateAsync(name, digest, cancellationToken);
        try
        {
            return await delete();
        }
        finally
        {
            // Even when the delete failed half-way: an entry dropped for nothing costs one storage read.
            await _cache.InvalidateAsync(name, digest, CancellationToken.None);
        }
    }

    /// <summary>Opens a linked blob for reading, or throws <see cref="ErrorCode.BlobUnknown"/>.</summary>
    public async Task<Stream> OpenReadAsync(Digest digest, long offset, CancellationToken cancellationToken)
    {
        try
        {
            return await Driver.OpenReadAsync(StoragePaths.BlobData(digest), offset, cancellationToken);
        }
        catch (StoragePathNotFoundException)
        {
            throw ErrorCode.BlobUnknown.With(new { digest = digest.ToString() });
        }
    }

    /// <summary>Reads a small blob (a manifest) whole.</summary>
    public async Task<byte[]?> GetContentAsync(Digest digest, int maxBytes, CancellationToken cancellationToken)
    {
        try
        {
            return await Driver.GetContentAsync(StoragePaths.BlobData(digest), maxBytes, cancellationToken);
        }
        catch (StoragePathNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Stores small content (a manifest) under its digest, without asking first whether it is there.</summary>
    /// <remarks>For content that is most likely new: the question costs a failed read (on an object store a 404, which
    /// the cloud SDKs turn into exceptions), and writing the same bytes again under their digest changes nothing.</remarks>
    public Task WriteContentAsync(Digest digest, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) =>
        Driver.PutContentAsync(StoragePaths.BlobData(digest), content, cancellationToken);

    /// <summary>Stores small content (a manifest) under its digest unless it is there already.</summary>
    public async Task PutContentAsync(Digest digest, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        if (await StatContentAsync(digest, cancellationToken) != content.Length)
        {
            await Driver.PutContentAsync(StoragePaths.BlobData(digest), content, cancellationToken);
        }
    }

    public async Task LinkAsync(RepositoryName name, Digest digest, CancellationToken cancellationToken)
    {
        await Links.WriteAsync(Driver, StoragePaths.LayerLink(name, digest), digest, cancellationToken);
        await NoteWrittenAsync(name, cancellationToken);
    }

    /// <summary>Tells the catalog that <paramref name="name"/> now holds content (it may be a new repository).</summary>
    public Task NoteWrittenAsync(RepositoryName name, CancellationToken cancellationToken) =>
        catalog?.NoteWrittenAsync(name, cancellationToken) ?? Task.CompletedTask;

    /// <summary>Removes a blob from a repository (the data stays for garbage collection); false when it was not linked.</summary>
    public async Task<bool> UnlinkAsync(RepositoryName name, Digest digest, CancellationToken cancellationToken)
    {
        if (await Links.ReadAsync(Driver, StoragePaths.LayerLink(name, digest), cancellationToken) != digest)
        {
            return false;
        }

        return await ForgetAsync(name, digest,
            () => Links.DeleteIfExistsAsync(Driver, StoragePaths.LayerLinkDirectory(name, digest), cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Links a blob of <paramref name="from"/> into <paramref name="to"/> without copying bytes.
    /// Returns the size, or null when <paramref name="from"/> has no such blob.
    /// </summary>
    public async Task<long?> MountAsync(RepositoryName from, RepositoryName to, Digest digest, CancellationToken cancellationToken)
    {
        var size = await StatAsync(from, digest, cancellationToken);
        if (size is null)
        {
            return null;
        }

        await LinkAsync(to, digest, cancellationToken);
        return size;
    }

    /// <summary>
    /// Links a blob that exists anywhere in the registry into <paramref name="to"/>, for clients
    /// that ask to mount without naming a source. Returns null when the content is not stored.
    /// </summary>
    public async Task<long?> MountAnyAsync(RepositoryName to, Digest digest, CancellationToken cancellationToken)
    {
        var size = await StatContentAsync(digest, cancellationToken);
        if (size is not null)
        {
            await LinkAsync(to, digest, cancellationToken);
        }

        return size;
    }
}
