using System.Security.Cryptography;
using Berth.Core;
using Berth.Storage.Drivers;
using Berth.Storage.S3.Tests.Infrastructure;

namespace Berth.Storage.S3.Tests;

/// <summary>
/// The registry's upload path over the S3 driver, as the HTTP layer drives it: one append session per
/// PATCH, closed without commit, offsets read back from storage, a server-side move at the end. Two
/// upload stores over one bucket stand for two replicas.
/// </summary>
public sealed class UploadStoreOverS3Tests(S3Fixture fixture) : IClassFixture<S3Fixture>, IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private readonly string _root = $"{S3TestStore.RunPrefix}/{nameof(UploadStoreOverS3Tests)}/{Guid.NewGuid():N}";
    private readonly List<S3Driver> _drivers = [];

    private static CancellationToken Ct => CancellationToken.None;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await S3TestStore.DeletePrefixAsync(fixture.Endpoint, _root + "/");
        foreach (var driver in _drivers)
        {
            driver.Dispose();
        }
    }

    [Fact]
    public async Task ChunkedUpload_AcrossTwoReplicas_CommitsTheExactBlob()
    {
        var (replicaA, blobsA) = Replica();
        var (replicaB, _) = Replica();
        var name = RepositoryName.Parse("library/app");
        var content = RandomBytes(19 * MiB + 7, 1);
        var digest = Digest.Compute(content);

        var upload = replicaA.Start();
        var status = await replicaA.AppendAsync(name, upload.Id, new UploadVoucher(upload.StartedAt, 0), new MemoryStream(content, 0, 6 * MiB), 0, 6 * MiB, Ct);
        Assert.Equal(6 * MiB, status.Size);
        status = await replicaB.AppendAsync(name, upload.Id, Voucher(status), new MemoryStream(content, 6 * MiB, 7 * MiB), 6 * MiB, 7 * MiB, Ct);
        Assert.Equal(13 * MiB, status.Size);
        Assert.Equal(13 * MiB, (await replicaA.StatusAsync(name, upload.Id, Voucher(status), Ct)).Size);
        var size = await replicaA.CommitAsync(name, upload.Id, Voucher(status), digest, new MemoryStream(content, 13 * MiB, content.Length - 13 * MiB),
            13 * MiB, content.Length - 13 * MiB, Ct);

        Assert.Equal(content.Length, size);
        Assert.Equal(content.Length, await blobsA.StatAsync(name, digest, Ct));
        await using var stream = await blobsA.OpenReadAsync(digest, 0, Ct);
        Assert.Equal(SHA256.HashData(content), await SHA256.HashDataAsync(stream, Ct));
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => blobsA.Driver.ListAsync(StoragePaths.Upload(name, upload.Id), Ct));
    }

    [Fact]
    public async Task MonolithicUpload_LargerThanAChunk_CommitsTheExactBlob()
    {
        var (uploads, blobs) = Replica();
        var name = RepositoryName.Parse("library/big");
        var content = RandomBytes(23 * MiB, 2);
        var digest = Digest.Compute(content);

        var upload = uploads.Start();
        await uploads.CommitAsync(name, upload.Id, new UploadVoucher(upload.StartedAt, 0), digest, new MemoryStream(content), null, content.Length, Ct);

        await using var stream = await blobs.OpenReadAsync(digest, 0, Ct);
        Assert.Equal(SHA256.HashData(content), await SHA256.HashDataAsync(stream, Ct));
    }

    /// <summary>What the state in the Location of a response carrying <paramref name="status"/> vouches for.</summary>
    private static UploadVoucher Voucher(UploadStatus status) => new(status.StartedAt, status.Size);

    private (UploadStore Uploads, BlobStore Blobs) Replica()
    {
        var driver = fixture.CreateDriver(_root, o => o with { ChunkSize = 5 * MiB });
        _drivers.Add(driver);
        var validated = new ValidatingDriver(driver);
        var blobs = new BlobStore(validated);
        return (new UploadStore(validated, blobs, TimeProvider.System), blobs);
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
