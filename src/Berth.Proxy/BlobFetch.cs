using System.Buffers;
using System.Security.Cryptography;
using Berth.Core;
using Microsoft.Win32.SafeHandles;

namespace Berth.Proxy;

/// <summary>
/// One blob on its way from an upstream: its bytes land in a local spool file as they arrive, and any number of
/// readers (the clients that asked for it, and the writer that stores it) follow the spool at their own pace. So
/// one upstream GET serves every concurrent request for the blob, a client sees bytes as soon as Berth does, and a
/// Range request waits only for the bytes it wants.
/// </summary>
/// <remarks>
/// The last byte is held back from every reader until the whole body has arrived and its digest verified. A body
/// that is cut short or corrupt therefore never completes for anyone: readers get an <see cref="IOException"/> (the
/// HTTP layer cuts the client's connection) and the storage writer never commits.
/// </remarks>
internal sealed class BlobFetch : IDisposable
{
    private const int CopyBufferSize = 128 * 1024;

    private readonly SafeFileHandle _spool;
    private readonly Lock _lock = new();
    private TaskCompletionSource _progress = NewSignal();
    private long _received;
    private bool _verified;
    private Exception? _failure;
    private int _references = 1;

    private BlobFetch(Digest digest, long size, SafeFileHandle spool)
    {
        Digest = digest;
        Size = size;
        _spool = spool;
    }

    public Digest Digest { get; }

    /// <summary>The blob's size, from the upstream's Content-Length.</summary>
    public long Size { get; }

    /// <summary>Creates the spool for a blob of <paramref name="size"/> bytes in <paramref name="spoolDirectory"/>.</summary>
    public static BlobFetch Create(Digest digest, long size, string spoolDirectory)
    {
        Directory.CreateDirectory(spoolDirectory);
        var path = Path.Combine(spoolDirectory, $"{digest.Encoded}-{Guid.NewGuid():N}");

        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete,
            FileOptions.Asynchronous | FileOptions.DeleteOnClose);

        // Unlinked at once where the OS allows it (the open handle keeps the bytes), so even a killed process leaves
        // nothing behind; elsewhere DeleteOnClose removes it when the last reader is done.
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return new BlobFetch(digest, size, handle);
    }

    /// <summary>
    /// Copies the upstream's body into the spool, hashing it, and settles the fetch: verified when exactly
    /// <see cref="Size"/> bytes arrived and they hash to <see cref="Digest"/>, failed otherwise.
    /// </summary>
    public async Task ReceiveAsync(Stream body, Action<long> received, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            using var hash = IncrementalHash.CreateHash(Digest.HashAlgorithm);
            long position = 0;
            while (true)
            {
                var read = await body.ReadAsync(buffer.AsMemory(0, CopyBufferSize), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                if (position + read > Size)
                {
                    throw new InvalidDataException($"the upstream sent more than the {Size} bytes it announced for {Digest}");
                }

                await RandomAccess.WriteAsync(_spool, buffer.AsMemory(0, read), position, cancellationToken);
                hash.AppendData(buffer, 0, read);
                position += read;
                received(read);
                Advance(position, verified: false, failure: null);
            }

            if (position != Size)
            {
                throw new InvalidDataException($"the upstream's body for {Digest} ended after {position} of {Size} bytes");
            }

            var actual = Digest.FromHash(Digest.Algorithm, hash.GetHashAndReset());
            if (actual != Digest)
            {
                throw new InvalidDataException($"the upstream sent bytes that hash to {actual}, not {Digest}");
            }

            Advance(position, verified: true, failure: null);
        }
        catch (Exception ex)
        {
            Fail(ex);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Fails the fetch for every reader (the upstream could not be read); too late once the body verified.</summary>
    public void Fail(Exception failure)
    {
        lock (_lock)
        {
            if (_verified)
            {
                return;
            }
        }

        Advance(Interlocked.Read(ref _received), verified: false, failure);
    }

    /// <summary>Why the fetch failed, or null while it goes on or once it verified.</summary>
    public Exception? Failure
    {
        get
        {
            lock (_lock)
            {
                return _failure;
            }
        }
    }

    /// <summary>A reader from the start, or null when the spool is closed already (the fetch is over).</summary>
    public Stream? TryOpenReader()
    {
        lock (_lock)
        {
            if (_references == 0)
            {
                return null;
            }

            _references++;
        }

        return new Reader(this, 0);
    }

    /// <summary>
    /// A new reader from <paramref name="offset"/>; it keeps the spool open until disposed. Reading past what has
    /// arrived waits for it.
    /// </summary>
    public Stream OpenReader(long offset)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_references == 0, this);
            _references++;
        }

        return new Reader(this, offset);
    }

    /// <summary>Releases the fetch's own reference; the spool closes when its last reader is disposed too.</summary>
    public void Dispose() => Release();

    private void Release()
    {
        lock (_lock)
        {
            if (--_references > 0)
            {
                return;
            }
        }

        _spool.Dispose();
    }

    private void Advance(long received, bool verified, Exception? failure)
    {
        TaskCompletionSource signal;
        lock (_lock)
        {
            Interlocked.Exchange(ref _received, received);
            _verified |= verified;
            _failure ??= failure;
            signal = _progress;
            _progress = NewSignal();
        }

        signal.TrySetResult();
    }

    private async ValueTask<int> ReadAtAsync(long position, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task next;
            long readable;
            lock (_lock)
            {
                if (_failure is not null)
                {
                    throw new IOException($"fetching {Digest} from the upstream failed: {_failure.Message}", _failure);
                }

                // Everything once verified; until then all but the last byte.
                readable = _verified ? Size : Math.Min(_received, Size - 1);
                next = _progress.Task;
            }

            if (position < readable)
            {
                var count = (int)Math.Min(buffer.Length, readable - position);
                return await RandomAccess.ReadAsync(_spool, buffer[..count], position, cancellationToken);
            }

            if (_verified && position >= Size)
            {
                return 0;
            }

            await next.WaitAsync(cancellationToken);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A forward-only stream over the spool from some offset.</summary>
    private sealed class Reader(BlobFetch fetch, long position) : Stream
    {
        private long _position = position;
        private bool _disposed;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => fetch.Size;

        /// <summary>Reads are positional, so a reader may start anywhere (a Range request).</summary>
        public override long Position
        {
            get => _position;
            set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (buffer.Length == 0)
            {
                return 0;
            }

            var read = await fetch.ReadAtAsync(_position, buffer, cancellationToken);
            _position += read;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("read asynchronously");

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (!_disposed)
            {
                _disposed = true;
                fetch.Release();
            }

            base.Dispose(disposing);
        }
    }
}
