using System.Security.Cryptography;
using Berth.Core;

namespace Berth.Proxy.Tests;

public sealed class BlobFetchTests : IDisposable
{
    private readonly string _spool = Path.Combine(Path.GetTempPath(), "berth-proxy-unit-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Readers_FromAnyOffset_GetTheBodyOnceItVerified()
    {
        var content = RandomNumberGenerator.GetBytes(300_000);
        using var fetch = BlobFetch.Create(Digest.Compute(content), content.Length, _spool);
        Assert.Empty(Directory.GetFiles(_spool)); // unlinked at once: a killed process leaves nothing behind
        await using var whole = fetch.OpenReader(0);
        await using var tail = fetch.OpenReader(250_000);
        var reads = Task.WhenAll(ReadAllAsync(whole), ReadAllAsync(tail));

        await fetch.ReceiveAsync(new MemoryStream(content), _ => { }, CancellationToken.None);

        var results = await reads;
        Assert.Equal(content, results[0]);
        Assert.Equal(content[250_000..], results[1]);
    }

    [Fact]
    public async Task LastByte_IsWithheldUntilTheDigestVerifies()
    {
        var content = RandomNumberGenerator.GetBytes(1000);
        using var fetch = BlobFetch.Create(Digest.Compute(content), content.Length, _spool);
        using var body = new GatedStream(content, stopAfter: content.Length);
        var receiving = fetch.ReceiveAsync(body, _ => { }, CancellationToken.None);
        await using var reader = fetch.OpenReader(0);

        var buffer = new byte[2000];
        var read = 0;
        while (read < 999)
        {
            read += await reader.ReadAsync(buffer.AsMemory(read));
        }

        var last = reader.ReadAsync(buffer.AsMemory(read)).AsTask();
        await Task.Delay(100);
        Assert.False(last.IsCompleted, "the last byte must wait for the end of the body");

        body.Release();
        await receiving;
        Assert.Equal(1, await last);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task BadBody_CorruptOrShort_FailsEveryReaderWithoutTheLastByte(bool corrupt)
    {
        var content = RandomNumberGenerator.GetBytes(10_000);
        using var fetch = BlobFetch.Create(Digest.Compute(content), content.Length, _spool);
        var sent = content.ToArray();
        if (corrupt)
        {
            sent[5000] ^= 0xff;
        }
        else
        {
            sent = sent[..6000];
        }

        await using var reader = fetch.OpenReader(0);

        await Assert.ThrowsAsync<InvalidDataException>(() => fetch.ReceiveAsync(new MemoryStream(sent), _ => { }, CancellationToken.None));
        var error = await Assert.ThrowsAsync<IOException>(() => ReadAllAsync(reader));
        Assert.IsType<InvalidDataException>(error.InnerException);
    }

    [Fact]
    public async Task OpenReader_AfterTheLastReferenceWentAway_Throws()
    {
        var content = RandomNumberGenerator.GetBytes(10);
        var fetch = BlobFetch.Create(Digest.Compute(content), content.Length, _spool);
        await fetch.ReceiveAsync(new MemoryStream(content), _ => { }, CancellationToken.None);

        fetch.Dispose();

        Assert.Throws<ObjectDisposedException>(() => fetch.OpenReader(0));
        Assert.Empty(Directory.GetFiles(_spool));
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    public void Dispose()
    {
        if (Directory.Exists(_spool))
        {
            Directory.Delete(_spool, recursive: true);
        }
    }

    /// <summary>Sends its content, then waits before reporting the end of the body.</summary>
    private sealed class GatedStream(byte[] content, int stopAfter) : Stream
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _position;

        public void Release() => _gate.TrySetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position >= stopAfter)
            {
                await _gate.Task.WaitAsync(cancellationToken);
                return 0;
            }

            var count = Math.Min(buffer.Length, stopAfter - _position);
            content.AsMemory(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => content.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
