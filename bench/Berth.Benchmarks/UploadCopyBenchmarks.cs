using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Berth.Core;
using Berth.Storage;
using Berth.Storage.Drivers;

namespace Berth.Benchmarks;

/// <summary>
/// The upload copy loop: <see cref="UploadStore.AppendAsync"/> streaming a body into a driver
/// that discards bytes (so storage costs nothing) while hashing it, against the floor of
/// SHA-256 alone over the same bytes. The gap is the loop's own overhead: reads, buffer
/// handling, the status and open calls around it.
/// </summary>
[MemoryDiagnoser]
public class UploadCopyBenchmarks
{
    private byte[] _data = [];
    private UploadStore _uploads = null!;
    private readonly RepositoryName _name = RepositoryName.Parse("bench/app");
    private readonly string _id = Guid.NewGuid().ToString("D");

    [Params(1, 64)]
    public int SizeMiB { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[SizeMiB * 1024 * 1024];
        RandomNumberGenerator.Fill(_data);
        var driver = new NullDriver();
        _uploads = new UploadStore(driver, new BlobStore(driver), TimeProvider.System);
    }

    /// <summary>Hashing the same bytes in the loop's chunk size, nothing else.</summary>
    [Benchmark(Baseline = true)]
    public byte[] Sha256Only()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (var offset = 0; offset < _data.Length; offset += UploadStore.CopyBufferSize)
        {
            hash.AppendData(_data, offset, Math.Min(UploadStore.CopyBufferSize, _data.Length - offset));
        }

        return hash.GetHashAndReset();
    }

    /// <summary>One PATCH-sized append to a fresh upload (the driver reports it empty each time).</summary>
    [Benchmark]
    public async Task<long> AppendAsync()
    {
        using var body = new MemoryStream(_data, writable: false);
        var status = await _uploads.AppendAsync(_name, _id, body, rangeStart: null, declaredLength: _data.Length, CancellationToken.None);
        return status.Size;
    }

    /// <summary>
    /// A driver with no storage: uploads always look freshly started and empty, writes are
    /// counted and dropped. Only what <see cref="UploadStore"/> touches is implemented.
    /// </summary>
    private sealed class NullDriver : IStorageDriver
    {
        private static readonly byte[] StartedAt = "2025-01-01T00:00:00.0000000Z"u8.ToArray();

        public string Name => "null";

        public Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken) => Task.FromResult(StartedAt);

        public Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken) => Task.FromResult<Stream>(Stream.Null);

        public Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken) =>
            Task.FromResult<StorageWriter>(new NullWriter());

        public Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken) =>
            Task.FromResult<StorageWriter>(new NullWriter());

        public Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken) =>
            Task.FromResult(new StorageFileInfo(path, 0, DateTimeOffset.UnixEpoch, IsDirectory: false));

        public Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<string>>([]);

        public Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task DeleteAsync(string path, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken) => Task.FromResult<Uri?>(null);
    }

    private sealed class NullWriter : StorageWriter
    {
        private long _size;

        public override long Size => _size;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
        {
            _size += buffer.Length;
            return ValueTask.CompletedTask;
        }

        public override Task CommitAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override Task CancelAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
