using System.Buffers;
using System.Net;
using System.Text;
using Azure;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging;

namespace Berth.Storage.Azure;

/// <summary>
/// Streams writes into one block blob. Bytes collect in a pooled buffer of the block size; each full buffer is staged
/// as a block (Put Block) while the next one fills, so at most two buffers per writer exist whatever the blob's size.
/// Commit (or disposal) stages the rest and publishes the list of blocks with one Put Block List, which Azure applies
/// whole: a reader sees the old content or the new, never a mix.
/// </summary>
/// <remarks>
/// <para>
/// Appending (<see cref="AzureDriver.OpenWriteAsync"/> with append): the blob's committed blocks, read when the writer
/// opened, head the new list, so a resumed upload sends only its new bytes and nothing stored is copied or downloaded.
/// The commit is conditional on the blob's ETag, so a concurrent writer (another replica) makes one of the two fail
/// rather than lose data. A blob whose committed blocks do not make up its content (written with one Put Blob, by
/// <see cref="IStorageDriver.PutContentAsync"/> or another program) or whose block ids have another length is taken
/// in once: its content is read back and staged as blocks. Berth's own upload data never needs that.
/// </para>
/// <para>
/// Disposal without commit publishes everything written, because Berth learns an upload's offset from the stored size.
/// A writer for a new object (<see cref="AzureDriver.CreateAsync"/>) publishes only at commit, with one Put Blob when
/// everything fits in one block; otherwise its staged blocks are left uncommitted, which readers and listings never
/// see and Azure discards after a week.
/// </para>
/// </remarks>
internal sealed partial class AzureBlockWriter : StorageWriter
{
    /// <summary>Azure's most committed blocks in one blob.</summary>
    internal const int MaximumBlocks = 50_000;

    private readonly AzureDriver _driver;
    private readonly string _path;
    private readonly BlockBlobClient _blob;
    private readonly string _blobName;
    private readonly Start _start;
    private readonly bool _discardUnlessCommitted;
    private readonly string _blockIdStem = Guid.NewGuid().ToString("N");
    private readonly List<string> _blockIds = [];
    private readonly DateTimeOffset _openedAt = DateTimeOffset.UtcNow;
    private byte[]? _buffer;
    private int _buffered;
    private long _size;
    private Task? _staging;
    private bool _started;
    private bool _faulted;
    private State _state;

    public AzureBlockWriter(AzureDriver driver, string path, string blobName, Start start, bool discardUnlessCommitted)
    {
        _driver = driver;
        _path = path;
        _blob = driver.BlockBlob(blobName);
        _blobName = blobName;
        _start = start;
        _size = start.Size;
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

    private int BlockSize => _driver.Options.BlockSize;

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

            await BufferAsync(buffer, cancellationToken);
            _size += buffer.Length;
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
        finally
        {
            await SettleAsync();
            ReleaseBuffer();
        }
    }

    public override async Task CancelAsync(CancellationToken cancellationToken)
    {
        EnsureOpen();
        _state = State.Cancelled;
        await SettleAsync();
        ReleaseBuffer();
        if (!_discardUnlessCommitted)
        {
            // Staged blocks of a deleted blob go with it.
            await _blob.DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: cancellationToken);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_state != State.Open)
        {
            ReleaseBuffer();
            return;
        }

        _state = State.Closed;
        if (_discardUnlessCommitted)
        {
            await SettleAsync();
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
            if (!_faulted)
            {
                throw new IOException($"{_driver.Name}: could not store what was written to {_path}", ex);
            }

            LogDisposeFailed(_driver.Logger, _path, ex);
        }
        finally
        {
            await SettleAsync();
            ReleaseBuffer();
        }
    }

    /// <summary>At the first write: takes in existing content whose blocks cannot head the new list.</summary>
    private async Task StartAsync(CancellationToken cancellationToken)
    {
        _started = true;
        if (_start is not { Kind: StartKind.Existing, Size: > 0 } existing || BlocksMakeUpContent(existing))
        {
            return;
        }

        try
        {
            var download = await _blob.DownloadStreamingAsync(new BlobDownloadOptions
            {
                Conditions = new BlobRequestConditions { IfMatch = existing.ETag },
            }, cancellationToken);
            using var result = download.Value;
            var chunk = ArrayPool<byte>.Shared.Rent(128 * 1024);
            try
            {
                int read;
                while ((read = await result.Content.ReadAsync(chunk, cancellationToken)) > 0)
                {
                    await BufferAsync(chunk.AsMemory(0, read), cancellationToken);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }
        catch (RequestFailedException ex) when (AzureDriver.IsMissingBlob(ex) || ex.Status == (int)HttpStatusCode.PreconditionFailed)
        {
            throw new IOException($"{_driver.Name}: {_path} changed while being appended to", ex);
        }

        _takenIn = true;
    }

    // Set once existing content has been staged anew: its old block list is no longer part of the new one.
    private bool _takenIn;

    private bool BlocksMakeUpContent(Start existing)
    {
        var ownIdLength = BlockId(0).Length;
        return existing.Blocks.Sum(block => block.Size) == existing.Size && existing.Blocks.All(block => block.Id.Length == ownIdLength);
    }

    /// <summary>Copies into the buffer, staging each full one.</summary>
    private async ValueTask BufferAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        while (!bytes.IsEmpty)
        {
            _buffer ??= ArrayPool<byte>.Shared.Rent(BlockSize);
            var count = Math.Min(bytes.Length, BlockSize - _buffered);
            bytes.Span[..count].CopyTo(_buffer.AsSpan(_buffered));
            _buffered += count;
            bytes = bytes[count..];
            if (_buffered == BlockSize)
            {
                await StageBufferAsync(cancellationToken);
            }
        }
    }

    /// <summary>Hands the buffer to a Put Block that runs while the next buffer fills; waits for the previous one first.</summary>
    private async Task StageBufferAsync(CancellationToken cancellationToken)
    {
        if (_staging is { } previous)
        {
            _staging = null;
            await previous;
        }

        if (BaseBlockCount + _blockIds.Count >= MaximumBlocks)
        {
            throw new IOException($"{_driver.Name}: {_path} would need more than {MaximumBlocks} blocks");
        }

        var id = BlockId(_blockIds.Count);
        _blockIds.Add(id);
        var buffer = _buffer!;
        var length = _buffered;
        _buffer = null;
        _buffered = 0;
        // An upload's blocks are staged whatever becomes of the request that brought them: disposal publishes what was
        // received, which needs the block in flight. A new object's writer is discarded with its request instead.
        _staging = StageAsync(id, buffer, length, _discardUnlessCommitted ? cancellationToken : CancellationToken.None);
    }

    private async Task StageAsync(string id, byte[] buffer, int length, CancellationToken cancellationToken)
    {
        try
        {
            using var body = new MemoryStream(buffer, 0, length, writable: false);
            await _blob.StageBlockAsync(id, body, new BlockBlobStageBlockOptions(), cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private int BaseBlockCount => _start.Kind == StartKind.Existing && !_takenIn ? _start.Blocks.Count : 0;

    /// <summary>Makes everything written the blob's content.</summary>
    private async Task PersistAsync(CancellationToken cancellationToken)
    {
        if (!_started && _start.Kind == StartKind.Existing)
        {
            // Nothing written: an append leaves the blob as it is.
            return;
        }

        var conditions = _start.Kind switch
        {
            StartKind.Existing => new BlobRequestConditions { IfMatch = _start.ETag },
            StartKind.Missing => new BlobRequestConditions { IfNoneMatch = ETag.All },
            _ => null,
        };
        try
        {
            if (_discardUnlessCommitted && _blockIds.Count == 0)
            {
                // Everything fits in one block: one Put Blob, no Put Block List.
                await AzureDriver.UploadAsync(_blob, _buffer.AsMemory(0, _buffered), conditions, cancellationToken);
                return;
            }

            if (_buffered > 0)
            {
                await StageBufferAsync(cancellationToken);
            }

            if (_staging is { } last)
            {
                _staging = null;
                await last;
            }

            IEnumerable<string> ids = BaseBlockCount > 0 ? _start.Blocks.Select(block => block.Id).Concat(_blockIds) : _blockIds;
            await _blob.CommitBlockListAsync(ids, new CommitBlockListOptions { Conditions = conditions }, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.ErrorCode == BlobErrorCode.InvalidBlobType)
        {
            // registry:2 made small objects as append blobs once; a block blob cannot replace one in place.
            if (_start.Kind != StartKind.Fresh)
            {
                throw;
            }

            await AzureDriver.DeleteIfBlobTypeAsync(_blob, BlobType.Append, cancellationToken);
            await RetryAfterReplacingAppendBlobAsync(conditions, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.Conflict)
        {
            throw new IOException($"{_driver.Name}: {_path} changed while being written to", ex);
        }
        catch (RequestFailedException ex) when (ex.ErrorCode == BlobErrorCode.InvalidBlockList)
        {
            // Committing a block list, or a Put Blob, discards every uncommitted block of the blob: another writer of the
            // same name published first. For a new object that is the same as being replaced right after committing.
            if (_discardUnlessCommitted && await _driver.PropertiesAsync(_blobName, cancellationToken) is { } now && now.LastModified >= _openedAt.AddSeconds(-1))
            {
                LogSuperseded(_driver.Logger, _path);
                return;
            }

            throw new IOException($"{_driver.Name}: {_path} was written by another writer at the same time", ex);
        }
    }

    private async Task RetryAfterReplacingAppendBlobAsync(BlobRequestConditions? conditions, CancellationToken cancellationToken)
    {
        if (_blockIds.Count == 0)
        {
            await AzureDriver.UploadAsync(_blob, _buffer.AsMemory(0, _buffered), conditions, cancellationToken);
        }
        else
        {
            await _blob.CommitBlockListAsync(_blockIds, new CommitBlockListOptions { Conditions = conditions }, cancellationToken);
        }
    }

    /// <summary>Waits for a Put Block still running, ignoring its failure (the caller is already past it or handling one).</summary>
    private async Task SettleAsync()
    {
        if (_staging is { } staging)
        {
            _staging = null;
            try
            {
                await staging;
            }
            catch (Exception ex) when (ex is RequestFailedException or IOException or OperationCanceledException)
            {
                // Reported, if it matters, by the commit that needed it.
            }
        }
    }

    /// <summary>
    /// Block ids are base64 of the same length within a blob (Azure's rule): this writer's stem and a six-digit index,
    /// so every Berth writer's ids have one length and a later writer's blocks can follow an earlier one's.
    /// </summary>
    private string BlockId(int index) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes(_blockIdStem + index.ToString("D6", System.Globalization.CultureInfo.InvariantCulture)));

    private void EnsureOpen()
    {
        if (_state != State.Open)
        {
            throw new InvalidOperationException($"the writer for {_path} is {_state.ToString().ToLowerInvariant()}");
        }
    }

    private void ReleaseBuffer()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [LoggerMessage(EventId = 2205, Level = LogLevel.Warning,
        Message = "Could not store the data written to {Path} after a failed write; the previous content is kept")]
    private static partial void LogDisposeFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(EventId = 2206, Level = LogLevel.Debug,
        Message = "{Path} was published by another writer while this one committed; the other content stands, as if it replaced this one")]
    private static partial void LogSuperseded(ILogger logger, string path);

    internal enum StartKind
    {
        /// <summary>New content replacing whatever is there, unconditionally.</summary>
        Fresh,

        /// <summary>An append to a path with nothing there: published only if nothing appeared meanwhile.</summary>
        Missing,

        /// <summary>An append to a block blob: its committed blocks head the new list, published only if it is unchanged.</summary>
        Existing,
    }

    /// <summary>What the writer starts from.</summary>
    internal sealed record Start(StartKind Kind, long Size, ETag? ETag, IReadOnlyList<(string Id, long Size)> Blocks)
    {
        public static Start Fresh() => new(StartKind.Fresh, 0, null, []);

        public static Start Missing() => new(StartKind.Missing, 0, null, []);

        public static Start Existing(long size, ETag etag, IReadOnlyList<(string Id, long Size)> blocks) => new(StartKind.Existing, size, etag, blocks);
    }
}
