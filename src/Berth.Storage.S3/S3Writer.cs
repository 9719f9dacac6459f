using System.Buffers;
using System.Net;
using Amazon.S3;
using Amazon.S3.Model;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging;

namespace Berth.Storage.S3;

/// <summary>
/// Streams writes into one S3 object. Bytes collect in a buffer that starts at <see cref="InitialBufferBytes"/> and grows
/// fourfold with the object until it is a part buffer of <c>chunksize</c> from the driver's bounded pool; each full part
/// buffer is uploaded as a part of a multipart upload started on the first one, while the next part is received into a
/// second buffer (at most one part in flight, so receiving from the client and sending to the store overlap). Commit
/// (or disposal) waits for that part, uploads the rest and completes the upload, or sends a single PUT when no part was
/// needed. Memory is at most two part buffers per writer whatever the object's size, and a small object (a config, a
/// small layer) never takes one: sixty-four small pushes at once would otherwise hold sixty-four <c>chunksize</c>
/// arrays, 640 MiB at registry:2's default.
/// </summary>
/// <remarks>
/// <para>
/// Appending: the existing object (measured when the writer opened) is taken in at the first write.
/// From 5 MiB it is copied server-side as the first parts (UploadPartCopy, conditional on its ETag, and
/// its ETag checked again afterwards because Ceph RGW ignores that condition); below that it is read
/// into the buffer, where it fits because <c>chunksize</c> is at least 5 MiB. This is registry:2's
/// approach; the old object stays readable until the new one replaces it.
/// </para>
/// <para>
/// The price: every append session copies the object so far once, server-side, so a blob pushed in n
/// PATCH requests of a chunked upload is copied about n times (a monolithic or streamed push, what
/// Docker, containerd and Podman send, writes once). registry:2 avoids the copies by leaving the
/// multipart upload open between requests; Berth's contract (data readable and sized by
/// <see cref="IStorageDriver.StatAsync"/> after disposal) rules that out.
/// </para>
/// <para>
/// Disposal without commit completes the object with everything written, so the data survives and the
/// next append resumes at <see cref="Size"/>: Berth reads an upload's offset from the stored object,
/// which lets any replica continue any upload without looking for open multipart uploads. If that
/// completion fails the multipart upload is aborted and the previous object is left as it was; the
/// error is thrown unless an earlier write had already failed (then the caller is already handling one).
/// </para>
/// <para>
/// A writer for a new object (<see cref="S3Driver.CreateAsync"/>) publishes only at commit: S3 shows an object
/// once its PUT or multipart completion succeeds, so the content appears whole, and cancelling or disposing
/// it aborts the multipart upload and leaves whatever was at the key untouched.
/// </para>
/// </remarks>
internal sealed partial class S3Writer : StorageWriter
{
    /// <summary>A writer's first buffer, from <see cref="ArrayPool{T}.Shared"/>.</summary>
    internal const int InitialBufferBytes = 64 * 1024;

    /// <summary>
    /// The largest buffer taken from <see cref="ArrayPool{T}.Shared"/>; an object that outgrows it (or half a part) takes a
    /// part buffer. The shared pool rounds sizes up to powers of two and keeps what it is given, so it only sees small ones.
    /// </summary>
    internal const int MaximumGrowingBufferBytes = 4 * 1024 * 1024;

    private readonly S3Driver _driver;
    private readonly string _path;
    private readonly string _key;
    private readonly List<PartETag> _parts = [];
    private readonly S3Driver.ObjectHead? _base;
    private byte[]? _buffer;
    private bool _bufferIsPart;
    private int _buffered;

    // The previous full part's upload, still running while the next part is received, and the buffer it reads; the
    // buffer goes back to the pool only once the upload has finished with it.
    private Task<PartETag>? _partInFlight;
    private byte[]? _inFlightBuffer;
    private string? _uploadId;
    private long _size;
    private State _state;
    private bool _started;
    private readonly bool _discardUnlessCommitted;
    private bool _faulted;

    public S3Writer(S3Driver driver, string path, string key, S3Driver.ObjectHead? existing, bool discardUnlessCommitted = false)
    {
        _driver = driver;
        _path = path;
        _key = key;
        _base = existing;
        _size = existing?.Size ?? 0;
        _discardUnlessCommitted = discardUnlessCommitted;
    }

    private enum State
    {
        Open,
        Committed,
        Cancelled,
        Closed,
    }

    public override long Size => _size;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        EnsureOpen();
        if (buffer.IsEmpty)
        {
            return;
        }

        try
        {
            if (!_started)
            {
                await StartAsync(cancellationToken);
            }

            while (!buffer.IsEmpty)
            {
                var count = Math.Min(buffer.Length, _driver.ChunkSize - _buffered);
                var target = EnsureCapacity(_buffered + count);
                buffer.Span[..count].CopyTo(target.AsSpan(_buffered));
                _buffered += count;
                _size += count;
                buffer = buffer[count..];
                if (_buffered == _driver.ChunkSize)
                {
                    await SendFullBufferAsync(cancellationToken);
                }
            }
        }
        catch
        {
            _faulted = true;
            throw;
        }
    }

    public override async Task CommitAsync(CancellationToken cancellationToken)
    {
        EnsureOpen();
        _state = State.Committed;
        try
        {
            await PersistAsync(cancellationToken);
        }
        catch
        {
            await AbortAsync();
            throw;
        }
        finally
        {
            ReleaseBuffer();
        }
    }

    public override async Task CancelAsync(CancellationToken cancellationToken)
    {
        EnsureOpen();
        _state = State.Cancelled;
        await AbortAsync();
        ReleaseBuffer();
        if (!_discardUnlessCommitted)
        {
            await _driver.DeleteObjectAsync(_key, cancellationToken);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_state != State.Open)
        {
            await AbortAsync();
            ReleaseBuffer();
            return;
        }

        _state = State.Closed;
        if (_discardUnlessCommitted)
        {
            await AbortAsync();
            ReleaseBuffer();
            return;
        }

        try
        {
            // The caller's token may be cancelled by now (a client that went away); what it sent is kept regardless.
            await PersistAsync(CancellationToken.None);
        }
        catch (Exception ex)
        {
            await AbortAsync();
            if (!_faulted)
            {
                throw new IOException($"{_driver.Name}: could not store what was written to {_path}", ex);
            }

            LogDisposeFailed(_driver.Logger, _path, ex);
        }
        finally
        {
            ReleaseBuffer();
        }
    }

    /// <summary>Takes in the content being appended to, at the first write.</summary>
    private async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_base is { Size: > 0 } existing)
        {
            if (existing.Size >= S3DriverOptions.MinimumChunkSize)
            {
                _uploadId = await _driver.CreateMultipartUploadAsync(_key, cancellationToken);
                try
                {
                    _parts.AddRange(await _driver.CopyPartsAsync(_key, existing, _key, _uploadId, firstPartNumber: 1, cancellationToken));

                    // The copies are conditional on the ETag, but Ceph RGW ignores x-amz-copy-source-if-match: look again.
                    if ((await _driver.HeadAsync(_key, cancellationToken))?.ETag != existing.ETag)
                    {
                        throw new IOException($"{_driver.Name}: {_path} changed while being appended to");
                    }
                }
                catch (Exception ex)
                {
                    // Not started: disposal will leave the object as it is, so nothing may stay open.
                    await AbortAsync();
                    if (ex is AmazonS3Exception s3 && (s3.StatusCode == HttpStatusCode.PreconditionFailed || S3Driver.IsMissingKey(s3)))
                    {
                        throw new IOException($"{_driver.Name}: {_path} changed while being appended to", ex);
                    }

                    throw;
                }
            }
            else
            {
                var target = EnsureCapacity((int)existing.Size);
                try
                {
                    using var response = await _driver.Client.GetObjectAsync(new GetObjectRequest
                    {
                        BucketName = _driver.Options.Bucket,
                        Key = _key,
                        EtagToMatch = existing.ETag,
                    }, cancellationToken);
                    await response.ResponseStream.ReadExactlyAsync(target.AsMemory(0, (int)existing.Size), cancellationToken);
                }
                catch (AmazonS3Exception ex) when (S3Driver.IsMissingKey(ex) || ex.StatusCode == HttpStatusCode.PreconditionFailed)
                {
                    throw new IOException($"{_driver.Name}: {_path} changed while being appended to", ex);
                }

                _buffered = (int)existing.Size;
            }
        }

        _started = true;
    }

    /// <summary>
    /// Starts uploading the full buffer as the next part and gives the writer a fresh buffer, after the part before it
    /// (if still running) has finished: one part in flight while the next is received.
    /// </summary>
    private async Task SendFullBufferAsync(CancellationToken cancellationToken)
    {
        await FinishPartInFlightAsync();
        var (partNumber, uploadId) = await NextPartAsync(cancellationToken);

        // A full part fills only a part buffer: the growing ones are smaller than half a part.
        System.Diagnostics.Debug.Assert(_bufferIsPart, "a full part is always in a part buffer");
        _inFlightBuffer = _buffer;

        // On no request's token: a client that goes away while this part is still on its way must not lose it, since
        // disposal keeps what was sent (the SDK's own timeout bounds a store that stops answering).
        _partInFlight = UploadPartAsync(uploadId, partNumber, _buffer.AsMemory(0, _buffered), CancellationToken.None);
        _buffer = null;
        _buffered = 0;
    }

    /// <summary>Uploads what the buffer holds as the next part and waits for it (the last part, at persist).</summary>
    private async Task UploadBufferAsync(CancellationToken cancellationToken)
    {
        var (partNumber, uploadId) = await NextPartAsync(cancellationToken);
        _parts.Add(await UploadPartAsync(uploadId, partNumber, _buffer.AsMemory(0, _buffered), cancellationToken));
        _buffered = 0;
    }

    private async Task<(int PartNumber, string UploadId)> NextPartAsync(CancellationToken cancellationToken)
    {
        if (_parts.Count >= S3Driver.MaximumParts)
        {
            throw new IOException($"{_driver.Name}: {_path} would need more than {S3Driver.MaximumParts} parts; raise storage.s3.chunksize");
        }

        _uploadId ??= await _driver.CreateMultipartUploadAsync(_key, cancellationToken);
        return (_parts.Count + 1, _uploadId);
    }

    private async Task<PartETag> UploadPartAsync(string uploadId, int partNumber, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        try
        {
            return await _driver.UploadPartAsync(_key, uploadId, partNumber, content, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (S3Driver.IsMissingUpload(ex))
        {
            throw new IOException($"{_driver.Name}: the multipart upload of {_path} was aborted by someone else", ex);
        }
    }

    /// <summary>Waits for the part in flight, records it, and returns its buffer to the pool (also when it failed).</summary>
    private async Task FinishPartInFlightAsync()
    {
        if (_partInFlight is not { } upload)
        {
            return;
        }

        try
        {
            _parts.Add(await upload);
        }
        finally
        {
            _partInFlight = null;
            if (_inFlightBuffer is { } buffer)
            {
                _inFlightBuffer = null;
                _driver.PartBuffers.Return(buffer);
            }
        }
    }

    /// <summary>Makes everything written the object's content.</summary>
    private async Task PersistAsync(CancellationToken cancellationToken)
    {
        await FinishPartInFlightAsync();
        if (!_started)
        {
            // Nothing written: an append leaves the object as it is; a fresh write stores an empty object.
            if (_base is null)
            {
                await _driver.PutObjectAsync(_key, new MemoryStream([], writable: false), cancellationToken);
            }

            return;
        }

        if (_uploadId is null)
        {
            using var body = new MemoryStream(_buffer ?? [], 0, _buffered, writable: false);
            await _driver.PutObjectAsync(_key, body, cancellationToken);
            return;
        }

        if (_buffered > 0)
        {
            await UploadBufferAsync(cancellationToken);
        }

        try
        {
            await _driver.CompleteMultipartUploadAsync(_key, _uploadId, _parts, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (S3Driver.IsMissingUpload(ex))
        {
            throw new IOException($"{_driver.Name}: the multipart upload of {_path} was aborted by someone else", ex);
        }

        _uploadId = null;
    }

    private async Task AbortAsync()
    {
        try
        {
            await FinishPartInFlightAsync();
        }
        catch (Exception)
        {
            // Its buffer may go back to the pool only once the SDK is done reading it; its failure is not this path's news.
        }

        if (_uploadId is { } uploadId)
        {
            _uploadId = null;
            await _driver.TryAbortMultipartUploadAsync(_key, uploadId);
        }
    }

    private void EnsureOpen()
    {
        if (_state != State.Open)
        {
            throw new InvalidOperationException($"the writer for {_path} is {_state.ToString().ToLowerInvariant()}");
        }
    }

    /// <summary>
    /// The buffer, with room for <paramref name="needed"/> bytes: the first one small, each next one four times larger (what
    /// is buffered copied over), and a part buffer once the object needs more than <see cref="MaximumGrowingBufferBytes"/>
    /// or half a part, or has already sent a part.
    /// </summary>
    private byte[] EnsureCapacity(int needed)
    {
        if (_buffer is { } current && current.Length >= needed)
        {
            return current;
        }

        var grown = _buffer is null ? Math.Max(needed, InitialBufferBytes) : Math.Max(needed, _buffer.Length * 4);
        var growing = _uploadId is null && grown <= Math.Min(MaximumGrowingBufferBytes, _driver.ChunkSize / 2);
        var next = growing ? ArrayPool<byte>.Shared.Rent(grown) : _driver.PartBuffers.Rent();
        if (_buffer is { } previous)
        {
            previous.AsSpan(0, _buffered).CopyTo(next);
            ReturnBuffer(previous, _bufferIsPart);
        }

        _buffer = next;
        _bufferIsPart = !growing;
        return next;
    }

    private void ReleaseBuffer()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ReturnBuffer(buffer, _bufferIsPart);
        }
    }

    private void ReturnBuffer(byte[] buffer, bool isPart)
    {
        if (isPart)
        {
            _driver.PartBuffers.Return(buffer);
        }
        else
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [LoggerMessage(EventId = 2104, Level = LogLevel.Warning,
        Message = "Could not store the data written to {Path} after a failed write; the previous content is kept")]
    private static partial void LogDisposeFailed(ILogger logger, string path, Exception exception);
}
