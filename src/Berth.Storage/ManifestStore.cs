using Berth.Core;
using Berth.Core.Errors;
using Berth.Core.Manifests;
using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;
using Microsoft.Extensions.Caching.Memory;

namespace Berth.Storage;

/// <summary>A manifest as stored: its bytes, digest and media type.</summary>
public sealed record StoredManifest(Digest Digest, string MediaType, byte[] Content);

/// <summary>
/// Manifests: bytes in the content store, <c>_manifests/revisions</c> links per repository,
/// tags and the referrers index kept in step on every write and delete.
/// </summary>
public sealed class ManifestStore(IStorageDriver driver, BlobStore blobs, TagStore tags, ReferrerStore referrers)
{
    /// <summary>The largest manifest accepted or read, as registry:2.</summary>
    public const int MaxManifestBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Manifest bytes by digest. Content-addressed data never changes, so entries need no
    /// invalidation: whether a repository still holds a manifest is always read from its
    /// revision link, and only then is the cache consulted.
    /// </summary>
    private readonly MemoryCache _content = new(new MemoryCacheOptions { SizeLimit = 64L * 1024 * 1024 });

    /// <summary>The manifest a tag or digest names in a repository, or null.</summary>
    public async Task<StoredManifest?> GetAsync(RepositoryName name, Reference reference, CancellationToken cancellationToken)
    {
        var digest = reference.Digest ?? await tags.ResolveAsync(name, reference.Tag!, cancellationToken);
        return digest is null ? null : await GetAsync(name, digest.Value, cancellationToken);
    }

    public async Task<StoredManifest?> GetAsync(RepositoryName name, Digest digest, CancellationToken cancellationToken)
    {
        if (await Links.ReadAsync(driver, StoragePaths.ManifestRevisionLink(name, digest), cancellationToken) != digest)
        {
            return null;
        }

        if (_content.TryGetValue(digest, out StoredManifest? cached))
        {
            return cached;
        }

        var content = await blobs.GetContentAsync(digest, MaxManifestBytes, cancellationToken);
        if (content is null || Digest.Compute(content, digest.Algorithm) != digest)
        {
            // Missing, or not the bytes the digest names (corruption): never serve or cache it.
            return null;
        }

        var stored = new StoredManifest(digest, ManifestParser.DetectMediaType(content), content);
        _content.Set(digest, stored, new MemoryCacheEntryOptions { Size = content.Length + 256 });
        return stored;
    }

    public async Task<bool> ExistsAsync(RepositoryName name, Digest digest, CancellationToken cancellationToken) =>
        await Links.ReadAsync(driver, StoragePaths.ManifestRevisionLink(name, digest), cancellationToken) == digest
        && await blobs.StatContentAsync(digest, cancellationToken) is not null;

    /// <summary>
    /// Validates and stores a manifest, tagging it when <paramref name="reference"/> is a tag.
    /// Everything it references must already be in the repository.
    /// </summary>
    public async Task<(Digest Digest, Manifest Manifest)> PutAsync(RepositoryName name, Reference reference, byte[] content,
        string? contentType, CancellationToken cancellationToken)
    {
        var manifest = ManifestParser.Parse(content, contentType);
        var digest = Digest.Compute(content, reference.Digest?.Algorithm ?? Digest.Sha256);
        if (reference.Digest is { } expected && expected != digest)
        {
            throw ErrorCode.DigestInvalid.With(new { expected = expected.ToString(), actual = digest.ToString() },
                $"manifest digest {digest} does not match the reference {expected}");
        }

        await VerifyReferencesAsync(name, manifest, cancellationToken);

        // Content, then the revision link, then the indexes that point at it: a crash at any
        // step leaves only unreferenced bytes, never a link to nothing.
        await StoreContentAsync(digest, content, cancellationToken);
        _content.Set(digest, new StoredManifest(digest, manifest.MediaType, content), new MemoryCacheEntryOptions { Size = content.Length + 256 });
        await Links.WriteAsync(driver, StoragePaths.ManifestRevisionLink(name, digest), digest, cancellationToken);
        await blobs.NoteWrittenAsync(name, cancellationToken);
        await ConfirmReferencesAfterLinkingAsync(name, digest, manifest, cancellationToken);
        if (manifest.Subject is { } subject)
        {
            await referrers.AddAsync(name, subject.Digest, digest, cancellationToken);
        }

        if (reference.Tag is { } tag)
        {
            await tags.SetAsync(name, tag, digest, cancellationToken);
        }

        return (digest, manifest);
    }

    /// <summary>
    /// Stores a manifest a pull-through cache fetched from its upstream (the cache tags it itself).
    /// Unlike <see cref="PutAsync"/> its references need not be here: a cache fetches layers, and the children of an
    /// index, only when a client asks for them. The caller has checked that <paramref name="content"/> hashes to
    /// <paramref name="digest"/>.
    /// </summary>
    public async Task<StoredManifest> StoreFetchedAsync(RepositoryName name, Digest digest, byte[] content, string? contentType,
        CancellationToken cancellationToken)
    {
        var manifest = ManifestParser.Parse(content, contentType);
        await StoreContentAsync(digest, content, cancellationToken);
        var stored = new StoredManifest(digest, manifest.MediaType, content);
        _content.Set(digest, stored, new MemoryCacheEntryOptions { Size = content.Length + 256 });
        await Links.WriteAsync(driver, StoragePaths.ManifestRevisionLink(name, digest), digest, cancellationToken);
        await blobs.NoteWrittenAsync(name, cancellationToken);
        if (manifest.Subject is { } subject)
        {
            await referrers.AddAsync(name, subject.Digest, digest, cancellationToken);
        }

        return stored;
    }

    /// <summary>
    /// Writes a manifest's bytes to the content store. One this process has not seen lately is almost always new (a push)
    /// and is written without asking first; one it has seen (a re-tag, a re-push) is usually there, and is written only
    /// when it is not.
    /// </summary>
    private Task StoreContentAsync(Digest digest, byte[] content, CancellationToken cancellationToken) =>
        _content.TryGetValue(digest, out _)
            ? blobs.PutContentAsync(digest, content, cancellationToken)
            : blobs.WriteContentAsync(digest, content, cancellationToken);

    /// <summary>Raised after this process deleted a manifest from a repository (readers that keep summaries of indexes recheck them).</summary>
    public event Action<RepositoryName, Digest>? ManifestDeleted;

    /// <summary>Deletes a manifest from a repository with every tag that points at it; false when absent.</summary>
    public async Task<bool> DeleteAsync(RepositoryName name, Digest digest, CancellationToken cancellationToken)
    {
        var stored = await GetAsync(name, digest, cancellationToken);
        if (stored is null)
        {
            return false;
        }

        foreach (var tag in await tags.TagsOfAsync(name, digest, cancellationToken))
        {
            await tags.DeleteAsync(name, tag, cancellationToken);
        }

        if (TryParse(stored) is { Subject: { } subject })
        {
            await referrers.RemoveAsync(name, subject.Digest, digest, cancellationToken);
        }

        // A manifest is a blob of its repository too (blob HEAD by its digest answers), so its cache entry goes.
        var deleted = await blobs.ForgetAsync(name, digest,
            () => Links.DeleteIfExistsAsync(driver, StoragePaths.ManifestRevisionDirectory(name, digest), cancellationToken), cancellationToken);
        if (deleted)
        {
            ManifestDeleted?.Invoke(name, digest);
        }

        return deleted;
    }

    /// <summary>Parses a stored manifest, or null for formats Berth serves but does not interpret (schema1).</summary>
    public static Manifest? TryParse(StoredManifest stored)
    {
        try
        {
            return ManifestParser.Parse(stored.Content, null);
        }
        catch (RegistryException)
        {
            return null;
        }
    }

    /// <summary>
    /// The push side of online garbage collection's handshake (<see cref="CollectionHandshake"/>):
    /// with the revision link written, everything the manifest references must still be content
    /// (taken back from the collector's quarantine if need be). If something is gone after all,
    /// the revision is withdrawn and the push fails, so no manifest becomes visible with a blob
    /// missing.
    /// </summary>
    private async Task ConfirmReferencesAfterLinkingAsync(RepositoryName name, Digest digest, Manifest manifest, CancellationToken cancellationToken)
    {
        var required = manifest.RequiredBlobs.Select(d => d.Digest).Concat(manifest.Manifests.Select(d => d.Digest)).Prepend(digest).Distinct().ToList();
        // All at once, as the check before linking: on an object store each is a request, and a push waits for them.
        var present = await Task.WhenAll(required.Select(reference => CollectionHandshake.EnsureContentAsync(driver, reference, cancellationToken)));
        foreach (var (reference, there) in required.Zip(present))
        {
            if (!there)
            {
                await Links.DeleteIfExistsAsync(driver, StoragePaths.ManifestRevisionDirectory(name, digest), cancellationToken);
                // The reference check before linking may have been answered by a cached descriptor that another process
                // made stale (its collection deleted the data, or its scrub moved it aside): drop it, so the client's
                // next HEAD asks storage, gets 404 and uploads the blob again.
                await blobs.ForgetAsync(name, reference, () => Task.FromResult(true), cancellationToken);
                throw ErrorCode.ManifestBlobUnknown.With(new { digest = reference.ToString() },
                    $"{reference} is no longer stored (removed by garbage collection, or moved aside by a scrub) while the manifest was pushed; push it again");
            }
        }
    }

    private async Task VerifyReferencesAsync(RepositoryName name, Manifest manifest, CancellationToken cancellationToken)
    {
        var blobChecks = manifest.RequiredBlobs.Select(async d => (d, ok: await blobs.StatAsync(name, d.Digest, cancellationToken) is not null));
        var manifestChecks = manifest.Manifests.Select(async d => (d, ok: await ExistsAsync(name, d.Digest, cancellationToken)));
        foreach (var (descriptor, ok) in await Task.WhenAll(blobChecks.Concat(manifestChecks)))
        {
            if (!ok)
            {
                throw ErrorCode.ManifestBlobUnknown.With(new { digest = descriptor.Digest.ToString() },
                    $"manifest references {descriptor.Digest} ({descriptor.MediaType}), which is not in repository {name}");
            }
        }
    }
}
