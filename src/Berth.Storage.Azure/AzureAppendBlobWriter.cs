using System.Buffers;
using System.Net;
using Azure;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Berth.Storage.Drivers;

namespace Berth.Storage.Azure;

/// <summary>
/// Continues an append blob: how registry:2 stores upload data, so an upload it started can be finished by Berth.
/// Bytes collect in a pooled buffer of 4 MiB (the largest Append Block every service version takes) and each full
/// buffer is appended at the position the writer expects, on the ETag it last saw: a concurrent writer makes the
/// append fail instead of interleaving. Appended bytes are stored at once, so disposal only sends what is buffered.
/// </summary>
internal sealed class AzureAppendBlobWriter : StorageWriter
{
    /// <summary>The largest Append Block of service versions before 2022-11-02.</summary>
    internal const int AppendBlockSize = 4 * 1024 * 1024;

    private readonly AzureDriver _driver;
    private readonly string _path;
    private readonly AppendBlobClient _blob;
    private ETag _etag;
    private long _stored;
    private byte[]? _buffer;
    private int _buffered;
    private bool _closed;

    public AzureAppendBlobWriter(AzureDriver driver, string path, string blobName, long size, ETag etag)
    {
        _driver = driver;
        _path = path;
        _blob = driver.AppendBlob(blobName);
        _stored = size;
        _etag = etag;
    }

    public override long Size => _stored + _buffered;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        EnsureOpen();
        while (!buffer.IsEmpty)
        {
            _buffer ??= ArrayPool<byte>.Shared.Rent(AppendBlockSize);
            var count = Math.Min(buffer.Length, AppendBlockSize - _buffered);
            buffer.Span[..count].CopyTo(_buffer.AsSpan(_buffered));
            _buffered += count;
            buffer = buffer[count..];
            if (_buffered == AppendBlockSize)
            {
                await FlushAsync(cancellationToken);
            }
        }
    }

    public override async Task CommitAsync(CancellationToken cancellationToken)
    {
        EnsureOpen();
        _closed = true;
        try
        {
            await FlushAsync(cancellationToken);
        }
        finally
        {
            ReleaseBuffer();
        }
    }

    public override async Task CancelAsync(CancellationToken cancellationToken)
    {
        EnsureOpen();
        _closed = true;
        ReleaseBuffer();
        await _blob.DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: cancellationToken);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_closed)
        {
            ReleaseBuffer();
            return;
        }

        _closed = true;
        try
        {
            // As for block blobs: what the client sent is kept, whatever became of its connection.
            await FlushAsync(CancellationToken.None);
        }
        finally
        {
            ReleaseBuffer();
        }
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_buffered == 0)
        {
            return;
        }

        try
        {
            using var body = new MemoryStream(_buffer!, 0, _buffered, writable: false);
            var info = (await _blob.AppendBlockAsync(body, new AppendBlobAppendBlockOptions
            {
                Conditions = new AppendBlobRequestConditions { IfAppendPositionEqual = _stored, IfMatch = _etag },
            }, cancellationToken)).Value;
            _etag = info.ETag;
            _stored += _buffered;
            _buffered = 0;
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.PreconditionFailed || AzureDriver.IsMissingBlob(ex))
        {
            throw new IOException($"{_driver.Name}: {_path} changed while being appended to", ex);
        }
    }

    private void EnsureOpen()
    {
        if (_closed)
        {
            throw new InvalidOperationException($"the writer for {_path} is closed");
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
}
