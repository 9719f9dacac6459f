using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Berth.Core;
using Berth.Core.Errors;
using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;

namespace Berth.Storage;

/// <summary>The state of an upload. <paramref name="Stored"/> is false while it has received no byte and lives only in the client's signed state.</summary>
public sealed record UploadStatus(string Id, long Size, DateTimeOffset StartedAt, bool Stored = true);

/// <summary>
/// What a client's verified upload state (<c>_state</c>) vouches for: the upload was started here at
/// <paramref name="StartedAt"/> and had <paramref name="Offset"/> bytes when the state was issued.
/// </summary>
public readonly record struct UploadVoucher(DateTimeOffset StartedAt, long Offset);

/// <summary>
/// Blob uploads: data appended under <c>_uploads/&lt;id&gt;/data</c>, hashed as it streams in, and
/// moved into the content store when the client names the digest. Storage is the only source
/// of truth for an upload's offset, so any process can continue any upload; the in-process
/// hash state is an optimisation that commit falls back from by re-reading the data.
/// </summary>
/// <remarks>
/// Starting an upload writes nothing. Until its first byte an upload exists only in the signed state the
/// client echoes (an <see cref="UploadVoucher"/> at offset 0), and a blob pushed whole (POST, then PUT with
/// the body, as Docker, Podman and containerd push small blobs) streams straight into the content store
/// through <see cref="IStorageDriver.CreateAsync"/>: no upload directory is made and removed per blob, which
/// is most of the metadata work of a small push. The first PATCH writes the upload's <c>startedat</c> and
/// from then on it is an upload in storage as registry:2 keeps one. Cancelling leaves a <c>cancelled</c>
/// marker in place of <c>startedat</c>, so the client's old states are refused from then on; the upload
/// purger removes the marker when it is as old as an abandoned upload.
/// </remarks>
public sealed class UploadStore(IStorageDriver driver, BlobStore blobs, TimeProvider time, IBlobAdmission? admission = null)
{
    /// <summary>Size of the copy buffer: large enough to amortise syscalls, small enough to pool.</summary>
    public const int CopyBufferSize = 128 * 1024;

    /// <summary>
    /// How long an upload that has received nothing stays valid: registry:2's default age for purging
    /// abandoned uploads, after which a stored upload would be gone too.
    /// </summary>
    public static readonly TimeSpan UntouchedUploadLifetime = TimeSpan.FromDays(7);

    private const int MaxCachedHashStates = 4096;
    private static readonly SemaphoreSlim[] Stripes = Enumerable.Range(0, 256).Select(_ => new SemaphoreSlim(1, 1)).ToArray();
    private readonly ConcurrentDictionary<string, HashState> _hashStates = new(StringComparer.Ordinal);

    /// <summary>Upload ids are UUIDs; anything else is unknown without touching storage.</summary>
    public static bool IsValidId(string id) => id.Length == 36 && Guid.TryParseExact(id, "D", out _);

    /// <summary>Starts an upload. Nothing is written: see the remarks on <see cref="UploadStore"/>.</summary>
    public UploadStatus Start() => new(Guid.NewGuid().ToString("D"), 0, time.GetUtcNow(), Stored: false);

    /// <summary>
    /// The upload's current size, or <see cref="ErrorCode.BlobUploadUnknown"/>. An upload with nothing in storage is
    /// known only when <paramref name="voucher"/> vouches for it at offset 0 and it has not been cancelled or expired.
    /// </summary>
    public async Task<UploadStatus> StatusAsync(RepositoryName name, string id, UploadVoucher? voucher, CancellationToken cancellationToken)
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
            return await UntouchedStatusAsync(name, id, voucher, cancellationToken) ?? throw UnknownUpload(id);
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

    /// <summary>An upload vouched for at offset 0 with nothing in storage, or null (then it is unknown).</summary>
    private async Task<UploadStatus?> UntouchedStatusAsync(RepositoryName name, string id, UploadVoucher? voucher, CancellationToken cancellationToken)
    {
        if (voucher is not { Offset: 0 } vouched || vouched.StartedAt < time.GetUtcNow() - UntouchedUploadLifetime)
        {
            return null;
        }

        try
        {
            // Read rather than stat: one request on S3 either way, where a stat that misses also lists the prefix.
            await driver.GetContentAsync(StoragePaths.UploadCancelled(name, id), 0, cancellationToken);
            return null;
        }
        catch (StorageObjectTooLargeException)
        {
            return null;
        }
        catch (StoragePathNotFoundException)
        {
            return new UploadStatus(id, 0, vouched.StartedAt, Stored: false);
        }
    }

    /// <summary>
    /// Appends <paramref name="body"/> to the upload. When <paramref name="rangeStart"/> is given it
    /// must equal the current size (chunks arrive in order, once); otherwise 416 with the current range.
    /// </summary>
    public async Task<UploadStatus> AppendAsync(RepositoryName name, string id, UploadVoucher? voucher, Stream body, long? rangeStart,
        long? declaredLength, CancellationToken cancellationToken)
    {
        var stripe = StripeFor(id);
        await stripe.WaitAsync(cancellationToken);
        try
        {
            var status = await StatusAsync(name, id, voucher, cancellationToken);
            return await AppendLockedAsync(name, status, body, rangeStart, declaredLength, cancellationToken);
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
    public async Task<long> CommitAsync(RepositoryName name, string id, UploadVoucher? voucher, Digest expected, Stream? lastChunk,
        long? rangeStart, long? declaredLength, CancellationToken cancellationToken)
    {
        var stripe = StripeFor(id);
        await stripe.WaitAsync(cancellationToken);
        try
        {
            var status = await StatusAsync(name, id, voucher, cancellationToken);
            if (!status.Stored)
            {
                return await StoreWholeAsync(name, id, expected, lastChunk, rangeStart, declaredLength, cancellationToken);
            }

            // A last chunk is made durable by the same open that writes it; without one, by EnsureDataFileAsync below.
            if (lastChunk is not null)
            {
                status = await AppendLockedAsync(name, status, lastChunk, rangeStart, declaredLength, cancellationToken, flushToDisk: true);
            }

            var actual = await FinishHashAsync(name, id, status.Size, expected, cancellationToken);
            if (actual != expected)
            {
                // The failed commit ends the upload, on every replica and for every state the client holds.
                await MarkCancelledAsync(name, id, cancellationToken);
                await DeleteUploadAsync(name, id, cancellationToken, keepMarker: true);
                throw DigestMismatch(expected, actual);
            }

            if (admission is not null)
            {
                try
                {
                    await admission.AdmitBlobAsync(name, expected, status.Size, cancellationToken);
                }
                catch (RegistryException)
                {
                    // Refused (a quota): the upload ends as a failed commit does, and nothing is linked.
                    await MarkCancelledAsync(name, id, cancellationToken);
                    await DeleteUploadAsync(name, id, cancellationToken, keepMarker: true);
                    throw;
                }
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

    /// <summary>
    /// Ends an upload: its data goes, and a <c>cancelled</c> marker takes the place of its <c>startedat</c>, so
    /// neither the states the client holds nor another replica can bring it back.
    /// </summary>
    public async Task CancelAsync(RepositoryName name, string id, UploadVoucher? voucher, CancellationToken cancellationToken)
    {
        var stripe = StripeFor(id);
        await stripe.WaitAsync(cancellationToken);
        try
        {
            await StatusAsync(name, id, voucher, cancellationToken);
            await MarkCancelledAsync(name, id, cancellationToken);
            await DeleteUploadAsync(name, id, cancellationToken, keepMarker: true);
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>
    /// A blob pushed in one request (<c>POST ?digest=</c>): no upload id the client could come back to, so nothing to
    /// look up or mark.
    /// </summary>
    public Task<long> StoreAsync(RepositoryName name, Digest expected, Stream body, long? declaredLength, CancellationToken cancellationToken) =>
        StoreWholeAsync(name, id: null, expected, body, rangeStart: null, declaredLength, cancellationToken);

    /// <summary>
    /// Commits an upload that has nothing in storage: the body (if any) streams straight to the blob's place,
    /// published only when its digest matches, and the blob is linked into the repository. A body that does not
    /// match ends the upload, as a failed commit of a stored one does; one cut short leaves it untouched, to retry.
    /// </summary>
    private async Task<long> StoreWholeAsync(RepositoryName name, string? id, Digest expected, Stream? body, long? rangeStart,
        long? declaredLength, CancellationToken cancellationToken)
    {
        EnsureRangeStartsAt(0, rangeStart);
        using var hash = IncrementalHash.CreateHash(expected.HashAlgorithm);
        await using var writer = await driver.CreateAsync(StoragePaths.BlobData(expected), cancellationToken);
        var size = body is null ? 0 : await CopyAsync(body, writer, hash, declaredLength, cancellationToken);
        var actual = Digest.FromHash(expected.Algorithm, hash.GetHashAndReset());
        if (actual != expected)
        {
            // Disposing the writer discards what was written.
            if (id is not null)
            {
                await MarkCancelledAsync(name, id, cancellationToken);
            }

            throw DigestMismatch(expected, actual);
        }

        if (admission is not null)
        {
            try
            {
                await admission.AdmitBlobAsync(name, expected, size, cancellationToken);
            }
            catch (RegistryException) when (id is not null)
            {
                // Refused (a quota): disposing the writer discards the bytes, and the upload ends as a failed commit does.
                await MarkCancelledAsync(name, id, cancellationToken);
                throw;
            }
        }

        if (await blobs.StatStoredAsync(expected, cancellationToken) != size)
        {
            await writer.CommitAsync(cancellationToken);
        }

        await blobs.LinkAsync(name, expected, cancellationToken);
        return size;
    }

    private async Task<UploadStatus> AppendLockedAsync(RepositoryName name, UploadStatus status, Stream body, long? rangeStart, long? declaredLength,
        CancellationToken cancellationToken, bool flushToDisk = false)
    {
        var id = status.Id;
        EnsureRangeStartsAt(status.Size, rangeStart);
        if (!status.Stored)
        {
            // The first bytes of an upload: from now on storage knows it as registry:2 would.
            await WriteBookkeepingAsync(StoragePaths.UploadStartedAt(name, id), Encoding.ASCII.GetBytes(
                status.StartedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture)), cancellationToken);
            status = status with { Stored = true };
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

        try
        {
            await using var writer = await driver.OpenWriteAsync(StoragePaths.UploadData(name, id), append: true, cancellationToken);
            if (writer.Size != status.Size)
            {
                // Someone appended between our stat and open; the hash state cannot be trusted.
                hash?.Dispose();
                hash = null;
            }

            await CopyAsync(body, writer, hash, declaredLength, cancellationToken);
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
        }
    }

    /// <summary>
    /// Streams <paramref name="body"/> into <paramref name="writer"/> (and <paramref name="hash"/>), holding it to
    /// <paramref name="declaredLength"/>. Double-buffered: while one buffer is being written to storage it is hashed and
    /// the next one is read from the client, so receiving, SHA-256 and the write overlap instead of taking turns (one
    /// loop doing the three in turn is bounded by the sum of their times, the bench's serial sink).
    /// </summary>
    private static async Task<long> CopyAsync(Stream body, StorageWriter writer, IncrementalHash? hash, long? declaredLength,
        CancellationToken cancellationToken)
    {
        var written = 0L;
        var current = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        var next = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            var read = await body.ReadAtLeastAsync(current.AsMemory(0, CopyBufferSize), CopyBufferSize, throwOnEndOfStream: false, cancellationToken);
            while (read > 0)
            {
                if (declaredLength is not null && written + read > declaredLength)
                {
                    throw ErrorCode.SizeInvalid.With(new { declared = declaredLength }, "body is longer than Content-Length");
                }

                var writing = writer.WriteAsync(current.AsMemory(0, read), cancellationToken);
                int following;
                try
                {
                    hash?.AppendData(current, 0, read);
                    written += read;
                    following = await body.ReadAtLeastAsync(next.AsMemory(0, CopyBufferSize), CopyBufferSize, throwOnEndOfStream: false,
                        cancellationToken);
                }
                catch
                {
                    // The buffer may not go back to the pool while the write still reads it; the client's failure is the
                    // one to report.
                    try
                    {
                        await writing;
                    }
                    catch (Exception)
                    {
                        // Whatever the write hit (a full disk, an S3 error), the read failed first.
                    }

                    throw;
                }

                await writing;

                (current, next) = (next, current);
                read = following;
            }

            if (declaredLength is not null && written != declaredLength)
            {
                throw ErrorCode.SizeInvalid.With(new { declared = declaredLength, received = written },
                    $"Content-Length says {declaredLength} bytes but the body had {written}");
            }

            return written;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(current);
            ArrayPool<byte>.Shared.Return(next);
        }
    }

    /// <summary>
    /// Writes an upload's bookkeeping (<c>startedat</c>, the cancelled marker). It needs no flush to disk: a power
    /// loss can at worst lose an upload the client has not finished, which it must then start again anyway.
    /// </summary>
    private async Task WriteBookkeepingAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        await using var writer = await driver.OpenWriteAsync(path, append: false, cancellationToken);
        await writer.WriteAsync(content, cancellationToken);
    }

    private Task MarkCancelledAsync(RepositoryName name, string id, CancellationToken cancellationToken) =>
        WriteBookkeepingAsync(StoragePaths.UploadCancelled(name, id), [], cancellationToken);

    private static void EnsureRangeStartsAt(long size, long? rangeStart)
    {
        if (rangeStart is not null && rangeStart != size)
        {
            throw new RegistryException(ErrorCode.RangeInvalid,
                $"chunk starts at {rangeStart} but the upload has {size} bytes", new { uploaded = size })
            {
                Headers = new Dictionary<string, string> { ["Range"] = RangeHeader(size) },
            };
        }
    }

    private static RegistryException DigestMismatch(Digest expected, Digest actual) =>
        ErrorCode.DigestInvalid.With(new { expected = expected.ToString(), actual = actual.ToString() },
            $"digest {expected} does not match the uploaded content ({actual})");

    /// <summary>The digest of the upload's content, computed with <paramref name="expected"/>'s algorithm.</summary>
    private async Task<Digest> FinishHashAsync(RepositoryName name, string id, long size, Digest expected, CancellationToken cancellationToken)
    {
        var algorithm = expected.Algorithm;
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
        using var rehash = IncrementalHash.CreateHash(expected.HashAlgorithm);
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

    private async Task DeleteUploadAsync(RepositoryName name, string id, CancellationToken cancellationToken, bool keepMarker = false)
    {
        ForgetHash(id);

        // Its files one by one (bookkeeping first, so the upload is unknown from then on), then the directory, which
        // is empty by then: three cheap removals instead of moving a tree aside and walking it. Whatever another
        // process left in it meanwhile is taken by the directory delete all the same.
        await Links.DeleteIfExistsAsync(driver, StoragePaths.UploadStartedAt(name, id), cancellationToken);
        await Links.DeleteIfExistsAsync(driver, StoragePaths.UploadData(name, id), cancellationToken);
        if (!keepMarker)
        {
            await Links.DeleteIfExistsAsync(driver, StoragePaths.Upload(name, id), cancellationToken);
        }
    }

    private void ForgetHash(string id)
    {
        if (_hashStates.TryRemove(id, out var state))
        {
            state.Dispose();
        }
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
