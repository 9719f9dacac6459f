using System.Collections.Concurrent;

namespace Berth.Storage.S3;

/// <summary>
/// The writers' part buffers: arrays of exactly <c>chunksize</c> bytes, at most <see cref="MaximumIdle"/> of them kept
/// between writers. <see cref="System.Buffers.ArrayPool{T}.Shared"/> would round a 10 MiB part up to a 16 MiB array
/// (its buckets are powers of two) and keep up to several such arrays per core once a few uploads have run at
/// the same time; this pool holds only what one or two pushes need, and any extra arrays of a busy moment go back
/// to the garbage collector.
/// </summary>
internal sealed class PartBufferPool(int bufferSize)
{
    /// <summary>Idle buffers kept for the next writers; more than this are left to the garbage collector.</summary>
    internal const int MaximumIdle = 2;

    private readonly ConcurrentBag<byte[]> _idle = [];
    private int _idleCount;
    private int _rented;

    /// <summary>The length of every buffer handed out.</summary>
    public int BufferSize { get; } = bufferSize;

    /// <summary>Buffers handed out and not given back: the writers' part buffers in use.</summary>
    public int Rented => Volatile.Read(ref _rented);

    /// <summary>An idle buffer, or a new one; its content is undefined.</summary>
    public byte[] Rent()
    {
        Interlocked.Increment(ref _rented);
        if (_idle.TryTake(out var buffer))
        {
            Interlocked.Decrement(ref _idleCount);
            return buffer;
        }

        // Uninitialized: the writer fills the part before reading it, so zeroing 10 MiB would be wasted work.
        return GC.AllocateUninitializedArray<byte>(BufferSize);
    }

    /// <summary>Gives a buffer back; kept when fewer than <see cref="MaximumIdle"/> are idle.</summary>
    public void Return(byte[] buffer)
    {
        if (buffer.Length != BufferSize)
        {
            return;
        }

        Interlocked.Decrement(ref _rented);
        if (Interlocked.Increment(ref _idleCount) <= MaximumIdle)
        {
            _idle.Add(buffer);
        }
        else
        {
            Interlocked.Decrement(ref _idleCount);
        }
    }
}
