using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Berth.Core;
using Berth.Core.Errors;
using Berth.Storage.Drivers;

namespace Berth.Storage;

/// <summary>The state of an upload as storage knows it.</summary>
public sealed record UploadStatus(string Id, long Size, DateTimeOffset StartedAt);

/// <summary>
/// Blob uploads: data appended under <c>_uploads/&lt;id&gt;/data</c>, hashed as it streams in, and
/// moved into the content store when the client names the digest. Storage is the only source
/// of truth for an upload's offset, so any process can continue any upload; the in-process
/// hash state is an optimisation that commit falls back from by re-reading the data.
/// </summary>
public sealed class UploadStore(IStorageDriver driver, BlobStore blobs, TimeProvider time)
{
    /// <summary>Size of the copy buffer: large enough to amortise syscalls, small enough to pool.</summary>
    public const int CopyBufferSize = 128 * 1024;

    private const int MaxCachedHashStates = 4096;
    private static readonly SemaphoreSlim[] Stripes = Enumerable.Range(0, 256).Select(_ => new SemaphoreSlim(1, 1)).ToArray();
    private readonly ConcurrentDictionary<string, HashState> _hashStates = new(StringComparer.Ordinal);

    /// <summary>Upload ids are UUIDs; anything else is unknown without touching storage.</summary>
    public static bool IsValidId(string id) => id.Length == 36 && Guid.TryParseExact(id, "D", out _);

    public async Task<UploadStatus> StartAsync(RepositoryName name, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid().ToString("D");
        var startedAt = time.GetUtcNow();
        var stamp = Encoding.ASCII.GetBytes(startedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));
        // Bookkeeping of an upload in progress needs no flush to disk: a power loss can at worst
        // lose an upload the client has not finished, which it must then start again anyway.
        // Committed content and links stay durable.
        await using (var writer = await driver.OpenWriteAsync(StoragePaths.UploadStartedAt(name, id), append: false, cancellationToken))
        {
            await writer.WriteAsync(stamp, cancellationToken);
        }

        return new UploadStatus(id, 0, startedAt);
    }

    /// <summary>The upload's current size, or <see cref="ErrorCode.BlobUploadUnknown"/>.</summary>
    public async Task<UploadStatus> StatusAsync(RepositoryName name, string id, CancellationToken cancellationToken)
    {
        if (!IsValidId(id))
        {
            throw UnknownUpload(id);
        }

        DateTimeOffset startedAt;
        try
        {
            var stamp = await driver.GetContentAsync(StoragePaths.UploadStartedAt(name, id), 128, cancellationToken);
            startedAt = DateTimeOffset.TryParse(Encoding.ASCII.GetString(stamp), CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal, out var parsed) ? parsed : DateTimeOffset.UnixEpoch;
        }
        catch (Exception ex) when (ex is StoragePathNotFoundException or StorageObjectTooLargeException)
        {
            throw UnknownUpload(id);
        }

        long size;
        try
        {
            size = (await driver.StatAsync(StoragePaths.UploadData(name, id), cancellationToken)).Size;
        }
        catch (StoragePathNotFoundException)
        {
            size = 0;
        }

        return new UploadStatus(id, size, startedAt);
    }

    /// <summary>
    /// Appends <paramref name="body"/> to the upload. When <paramref name="rangeStart"/> is given it
    /// must equal the current size (chunks arrive in order, once); otherwise 416 with the current range.
    /// </summary>
    public async Task<UploadStatus> AppendAsync(RepositoryName name, string id, Stream body, long? rangeStart, long? declaredLength,
        CancellationToken cancellationToken)
    {
        var stripe = StripeFor(id);
        await stripe.WaitAsync(cancellationToken);
        try
        {
            return await AppendLockedAsync(name, id, body, rangeStart, declaredLength, cancellationToken);
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>
    /// Finishes an upload: appends an optional last chunk, verifies the digest, and moves the data
    /// into the content store, linked into the repository. A digest mismatch discards the upload and
    /// commits nothing.
    /// </summary>
    public async Task<long> CommitAsync(RepositoryName name, string id, Digest expected, Stream? lastChunk, long? rangeStart,
        long? declaredLength, CancellationToken cancellationToken)
    {
        var stripe = StripeFor(id);
        await stripe.WaitAsync(cancellationToken);
        try
        {
            // A last chunk is made durable by the same open that writes it; without one, by EnsureDataFileAsync below.
            var status = lastChunk is null
                ? await StatusAsync(name, id, cancellationToken)
                : await AppendLockedAsync(name, id, lastChunk, rangeStart, declaredLength, cancellationToken, flushToDisk: true);

            var actual = await FinishHashAsync(name, id, status.Size, expected.Algorithm, cancellationToken);
            if (actual != expected)
            {
                await DeleteUploadAsync(name, id, cancellationToken);
                throw ErrorCode.DigestInvalid.With(new { expected = expected.ToString(), actual = actual.ToString() },
                    $"digest {expected} does not match the uploaded content ({actual})");
            }

            var dataPath = StoragePaths.UploadData(name, id);
            if (await blobs.StatStoredAsync(expected, cancellationToken) == status.Size)
            {
                // Already stored by someone else; content-addressed data never needs a second copy.
            }
            else
            {
                if (lastChunk is null)
                {
                    await EnsureDataFileAsync(dataPath, cancellationToken);
                }

                await driver.MoveAsync(dataPath, StoragePaths.BlobData(expected), cancellationToken);
            }

            await blobs.LinkAsync(name, expected, cancellationToken);
            await DeleteUploadAsync(name, id, cancellationToken);
            return status.Size;
        }
        finally
        {
            stripe.Release();
        }
    }

    public async Task CancelAsync(RepositoryName name, string id, CancellationToken cancellationToken)
    {
        await StatusAsync(name, id, cancellationToken);
        await DeleteUploadAsync(name, id, cancellationToken);
    }

    /// <summary>Removes an upload if it is still there; for cleaning up after a failed request.</summary>
    public Task DiscardAsync(RepositoryName name, string id, CancellationToken cancellationToken) =>
        IsValidId(id) ? DeleteUploadAsync(name, id, cancellationToken) : Task.CompletedTask;

    private async Task<UploadStatus> AppendLockedAsync(RepositoryName name, string id, Stream body, long? rangeStart, long? declaredLength,
        CancellationToken cancellationToken, bool flushToDisk = false)
    {
        var status = await StatusAsync(name, id, cancellationToken);
        if (rangeStart is not null && rangeStart != status.Size)
        {
            throw new RegistryException(ErrorCode.RangeInvalid,
                $"chunk starts at {rangeStart} but the upload has {status.Size} bytes", new { uploaded = status.Size })
            {
                Headers = new Dictionary<string, string> { ["Range"] = RangeHeader(status.Size) },
            };
        }

        // Continue the in-process hash only when it is exactly at the stored offset; a fresh
        // upload starts one; otherwise commit re-hashes from storage.
        _hashStates.TryRemove(id, out var state);
        IncrementalHash? hash;
        if (state is not null && state.Offset == status.Size)
        {
            hash = state.Hash;
        }
        else
        {
            state?.Dispose();
            hash = status.Size == 0 ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        }

        var written = 0L;
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            await using var writer = await driver.OpenWriteAsync(StoragePaths.UploadData(name, id), append: true, cancellationToken);
            if (writer.Size != status.Size)
            {
                // Someone appended between our stat and open; the hash state cannot be trusted.
                hash?.Dispose();
                hash = null;
            }

            int read;
            while ((read = await body.ReadAsync(buffer.AsMemory(0, CopyBufferSize), cancellationToken)) > 0)
            {
                if (declaredLength is not null && written + read > declaredLength)
                {
                    throw ErrorCode.SizeInvalid.With(new { declared = declaredLength }, "body is longer than Content-Length");
                }

                await writer.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                hash?.AppendData(buffer, 0, read);
                written += read;
            }

            if (declaredLength is not null && written != declaredLength)
            {
                throw ErrorCode.SizeInvalid.With(new { declared = declaredLength, received = written },
                    $"Content-Length says {declaredLength} bytes but the body had {written}");
            }

            if (flushToDisk)
            {
                await writer.CommitAsync(cancellationToken);
            }

            var size = writer.Size;
            if (hash is not null)
            {
                RememberHash(id, new HashState(size, time.GetUtcNow(), hash));
                hash = null;
            }

            return status with { Size = size };
        }
        finally
        {
            hash?.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<Digest> FinishHashAsync(RepositoryName name, string id, long size, string algorithm, CancellationToken cancellationToken)
    {
        if (_hashStates.TryRemove(id, out var state))
        {
            using (state)
            {
                if (state.Offset == size && algorithm == Digest.Sha256)
                {
                    return Digest.FromHash(algorithm, state.Hash.GetHashAndReset());
                }
            }
        }

        // No usable in-process state (a restart, another replica, sha512): hash what storage holds.
        using var rehash = IncrementalHash.CreateHash(algorithm == Digest.Sha512 ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256);
        if (size > 0)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
            try
            {
                await using var stream = await driver.OpenReadAsync(StoragePaths.UploadData(name, id), 0, cancellationToken);
                int read;
                while ((read = await stream.ReadAsync(buffer.AsMemory(0, CopyBufferSize), cancellationToken)) > 0)
                {
                    rehash.AppendData(buffer, 0, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        return Digest.FromHash(algorithm, rehash.GetHashAndReset());
    }

    /// <summary>Makes the upload's bytes durable before they become content (an empty blob gets an empty file).</summary>
    private async Task EnsureDataFileAsync(string dataPath, CancellationToken cancellationToken)
    {
        await using var writer = await driver.OpenWriteAsync(dataPath, append: true, cancellationToken);
        await writer.CommitAsync(cancellationToken);
    }

    private async Task DeleteUploadAsync(RepositoryName name, string id, CancellationToken cancellationToken)
    {
        if (_hashStates.TryRemove(id, out var state))
        {
            state.Dispose();
        }

        // Its files one by one (bookkeeping first, so the upload is unknown from then on), then the directory, which
        // is empty by then: three cheap removals instead of moving a tree aside and walking it. Whatever another
        // process left in it meanwhile is taken by the directory delete all the same.
        await Links.DeleteIfExistsAsync(driver, StoragePaths.UploadStartedAt(name, id), cancellationToken);
        await Links.DeleteIfExistsAsync(driver, StoragePaths.UploadData(name, id), cancellationToken);
        await Links.DeleteIfExistsAsync(driver, StoragePaths.Upload(name, id), cancellationToken);
    }

    private void RememberHash(string id, HashState state)
    {
        if (_hashStates.Count >= MaxCachedHashStates)
        {
            // Abandoned uploads must not grow memory without bound; drop the stalest half.
            foreach (var stale in _hashStates.OrderBy(e => e.Value.LastUsed).Take(MaxCachedHashStates / 2).ToList())
            {
                if (_hashStates.TryRemove(stale.Key, out var removed))
                {
                    removed.Dispose();
                }
            }
        }

        if (!_hashStates.TryAdd(id, state))
        {
            state.Dispose();
        }
    }

    /// <summary>The <c>Range</c> header value for an upload of <paramref name="size"/> bytes (registry:2 says 0-0 when empty).</summary>
    public static string RangeHeader(long size) => $"0-{Math.Max(0, size - 1)}";

    private static SemaphoreSlim StripeFor(string id) => Stripes[(uint)StringComparer.Ordinal.GetHashCode(id) % (uint)Stripes.Length];

    private static RegistryException UnknownUpload(string id) =>
        ErrorCode.BlobUploadUnknown.With(new { uuid = id.Length > 64 ? id[..64] : id });

    private sealed class HashState(long offset, DateTimeOffset lastUsed, IncrementalHash hash) : IDisposable
    {
        public long Offset { get; } = offset;

        public DateTimeOffset LastUsed { get; } = lastUsed;

        public IncrementalHash Hash { get; } = hash;

        public void Dispose() => Hash?.Dispose();
    }
}
