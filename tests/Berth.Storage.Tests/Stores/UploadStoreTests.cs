using System.Text.Json;
using Berth.Core;
using Berth.Core.Errors;
using static Berth.Storage.Tests.Stores.StoreHarness;

namespace Berth.Storage.Tests.Stores;

public sealed class UploadStoreTests
{
    private static readonly RepositoryName Repo = Name("library/app");
    private readonly StoreHarness _h = new();

    private static MemoryStream Body(byte[] content) => new(content, writable: false);

    /// <summary>Starts an upload; the voucher is what the state in the client's Location vouches for.</summary>
    private (string Id, UploadVoucher Voucher) Start()
    {
        var started = _h.Uploads.Start();
        return (started.Id, new UploadVoucher(started.StartedAt, 0));
    }

    private static MemoryStream Body(string text) => Body(Bytes(text));

    private static byte[] Payload(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task Start_NewUpload_HasUuidAndZeroSize()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);

        var started = _h.Uploads.Start();

        Assert.True(UploadStore.IsValidId(started.Id));
        Assert.Equal(0, started.Size);
        Assert.False(started.Stored);
        Assert.InRange(started.StartedAt, before, DateTimeOffset.UtcNow.AddSeconds(1));
        var status = await _h.Uploads.StatusAsync(Repo, started.Id, new UploadVoucher(started.StartedAt, 0), Ct);
        Assert.Equal(0, status.Size);
        Assert.Equal(started.Id, status.Id);
        Assert.Equal(started.StartedAt, status.StartedAt);
    }

    [Fact]
    public async Task Start_WritesNothing()
    {
        _h.Uploads.Start();

        Assert.False(await _h.ExistsAsync(StoragePaths.Repository(Repo)));
    }

    [Fact]
    public async Task Status_UntouchedUpload_IsKnownOnlyThroughAVoucherAtOffsetZero()
    {
        var (id, v) = Start();

        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.StatusAsync(Repo, id, null, Ct));
        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.StatusAsync(Repo, id, v with { Offset = 5 }, Ct));
        Assert.Equal(0, (await _h.Uploads.StatusAsync(Repo, id, v, Ct)).Size);
    }

    [Fact]
    public async Task Status_UntouchedUploadOlderThanItsLifetime_IsUnknown()
    {
        var (id, _) = Start();
        var expired = new UploadVoucher(DateTimeOffset.UtcNow - UploadStore.UntouchedUploadLifetime - TimeSpan.FromMinutes(1), 0);

        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.StatusAsync(Repo, id, expired, Ct));
        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.CommitAsync(Repo, id, expired, Digest.Compute([]), null, null, null, Ct));
    }

    [Fact]
    public async Task Start_Twice_GivesDistinctIds()
    {
        var a = _h.Uploads.Start();
        var b = _h.Uploads.Start();

        Assert.NotEqual(a.Id, b.Id);
    }

    [Fact]
    public async Task Append_ChunksInOrder_GrowsTheUpload()
    {
        var (id, v) = Start();

        var first = await _h.Uploads.AppendAsync(Repo, id, v, Body("hello"), rangeStart: 0, declaredLength: 5, Ct);
        var second = await _h.Uploads.AppendAsync(Repo, id, v, Body(" big"), rangeStart: 5, declaredLength: 4, Ct);
        var third = await _h.Uploads.AppendAsync(Repo, id, v, Body(" world"), rangeStart: null, declaredLength: null, Ct);

        Assert.Equal(5, first.Size);
        Assert.Equal(9, second.Size);
        Assert.Equal(15, third.Size);
        Assert.Equal(15, (await _h.Uploads.StatusAsync(Repo, id, v, Ct)).Size);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(6)]
    public async Task Append_OutOfOrderRangeStart_ThrowsRangeInvalidWithRangeHeader(long rangeStart)
    {
        var (id, v) = Start();
        await _h.Uploads.AppendAsync(Repo, id, v, Body("12345"), 0, 5, Ct);

        var exception = await ThrowsAsync(ErrorCode.RangeInvalid,
            () => _h.Uploads.AppendAsync(Repo, id, v, Body("678"), rangeStart, 3, Ct));

        Assert.Equal(416, exception.Code.Status);
        Assert.NotNull(exception.Headers);
        Assert.Equal("0-4", exception.Headers["Range"]);
        Assert.Equal(5, (await _h.Uploads.StatusAsync(Repo, id, v, Ct)).Size);
    }

    [Fact]
    public async Task Append_NonZeroRangeStartOnEmptyUpload_ThrowsRangeInvalidWithZeroRange()
    {
        var (id, v) = Start();

        var exception = await ThrowsAsync(ErrorCode.RangeInvalid, () => _h.Uploads.AppendAsync(Repo, id, v, Body("abc"), 3, 3, Ct));

        Assert.Equal("0-0", exception.Headers!["Range"]);
    }

    [Theory]
    [InlineData(0, "0-0")]
    [InlineData(1, "0-0")]
    [InlineData(2, "0-1")]
    [InlineData(1000, "0-999")]
    public void RangeHeader_DescribesUploadedBytes(long size, string expected)
    {
        Assert.Equal(expected, UploadStore.RangeHeader(size));
    }

    [Fact]
    public async Task Append_BodyShorterThanDeclaredLength_ThrowsSizeInvalid()
    {
        var (id, v) = Start();

        await ThrowsAsync(ErrorCode.SizeInvalid, () => _h.Uploads.AppendAsync(Repo, id, v, Body("abc"), 0, 10, Ct));
    }

    [Fact]
    public async Task Append_BodyLongerThanDeclaredLength_ThrowsSizeInvalid()
    {
        var (id, v) = Start();

        await ThrowsAsync(ErrorCode.SizeInvalid, () => _h.Uploads.AppendAsync(Repo, id, v, Body("abcdef"), 0, 2, Ct));
    }

    [Fact]
    public async Task Commit_MatchingDigest_LinksBlobAndRemovesUpload()
    {
        var content = Payload(300_000, 1);
        var digest = Digest.Compute(content);
        var (id, v) = Start();
        await _h.Uploads.AppendAsync(Repo, id, v, Body(content[..100_000]), 0, 100_000, Ct);
        await _h.Uploads.AppendAsync(Repo, id, v, Body(content[100_000..]), 100_000, 200_000, Ct);

        var size = await _h.Uploads.CommitAsync(Repo, id, v, digest, null, null, null, Ct);

        Assert.Equal(content.Length, size);
        Assert.Equal(content.Length, await _h.Blobs.StatAsync(Repo, digest, Ct));
        await using (var stream = await _h.Blobs.OpenReadAsync(digest, 0, Ct))
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, Ct);
            Assert.Equal(content, copy.ToArray());
        }

        // The state of the last PATCH vouches for 300,000 bytes that are no longer an upload.
        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.StatusAsync(Repo, id, v with { Offset = content.Length }, Ct));
        Assert.False(await _h.ExistsAsync(StoragePaths.Upload(Repo, id)));
        Assert.Null(await _h.Blobs.StatAsync(Name("other/repo"), digest, Ct));
    }

    [Fact]
    public async Task Commit_WithLastChunk_AppendsItBeforeVerifying()
    {
        var digest = Digest.Compute(Bytes("first second"));
        var (id, v) = Start();
        await _h.Uploads.AppendAsync(Repo, id, v, Body("first "), 0, 6, Ct);

        var size = await _h.Uploads.CommitAsync(Repo, id, v, digest, Body("second"), 6, 6, Ct);

        Assert.Equal(12, size);
        Assert.Equal(12, await _h.Blobs.StatAsync(Repo, digest, Ct));
    }

    [Fact]
    public async Task Commit_MonolithicSingleChunk_Succeeds()
    {
        var content = Payload(1000, 7);
        var digest = Digest.Compute(content);
        var (id, v) = Start();

        var size = await _h.Uploads.CommitAsync(Repo, id, v, digest, Body(content), null, content.Length, Ct);

        Assert.Equal(1000, size);
        Assert.Equal(1000, await _h.Blobs.StatAsync(Repo, digest, Ct));
        // Straight into the content store: no upload directory was made.
        Assert.False(await _h.ExistsAsync(StoragePaths.Uploads(Repo)));
    }

    [Fact]
    public async Task Commit_UntouchedWithWrongDigest_StoresNothing()
    {
        var content = Payload(1000, 8);
        var wrong = Digest.Compute(Bytes("not this"));
        var (id, v) = Start();

        await ThrowsAsync(ErrorCode.DigestInvalid, () => _h.Uploads.CommitAsync(Repo, id, v, wrong, Body(content), null, content.Length, Ct));

        Assert.Null(await _h.Blobs.StatContentAsync(wrong, Ct));
        Assert.Null(await _h.Blobs.StatContentAsync(Digest.Compute(content), Ct));
        Assert.False(await _h.ExistsAsync(StoragePaths.Repository(Repo) + "/_layers"));
        // The failed commit ends the upload, as registry:2 ends one.
        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.StatusAsync(Repo, id, v, Ct));
    }

    [Fact]
    public async Task Commit_UntouchedWithShortBody_ThrowsSizeInvalidAndStoresNothing()
    {
        var content = Payload(1000, 9);
        var digest = Digest.Compute(content);
        var (id, v) = Start();

        await ThrowsAsync(ErrorCode.SizeInvalid, () => _h.Uploads.CommitAsync(Repo, id, v, digest, Body(content[..500]), null, content.Length, Ct));

        Assert.Null(await _h.Blobs.StatContentAsync(digest, Ct));
        // Still there, empty: the client may send the whole body again.
        Assert.Equal(0, (await _h.Uploads.StatusAsync(Repo, id, v, Ct)).Size);
        Assert.Equal(content.Length, await _h.Uploads.CommitAsync(Repo, id, v, digest, Body(content), null, content.Length, Ct));
    }

    [Fact]
    public async Task Commit_UntouchedWithChunkNotAtZero_ThrowsRangeInvalid()
    {
        var (id, v) = Start();

        var exception = await ThrowsAsync(ErrorCode.RangeInvalid, () => _h.Uploads.CommitAsync(Repo, id, v, Digest.Compute(Bytes("abc")), Body("abc"), 5, 3, Ct));

        Assert.Equal("0-0", exception.Headers!["Range"]);
    }

    [Fact]
    public async Task Commit_EmptyUpload_StoresTheEmptyBlob()
    {
        var digest = Digest.Compute([]);
        var (id, v) = Start();

        var size = await _h.Uploads.CommitAsync(Repo, id, v, digest, null, null, null, Ct);

        Assert.Equal(0, size);
        Assert.Equal(0, await _h.Blobs.StatAsync(Repo, digest, Ct));
    }

    [Fact]
    public async Task Commit_WrongDigest_ThrowsDigestInvalidAndRemovesUpload()
    {
        var wrong = Digest.Compute(Bytes("something else"));
        var (id, v) = Start();
        await _h.Uploads.AppendAsync(Repo, id, v, Body("actual content"), 0, 14, Ct);

        var exception = await ThrowsAsync(ErrorCode.DigestInvalid, () => _h.Uploads.CommitAsync(Repo, id, v, wrong, null, null, null, Ct));

        var detail = JsonSerializer.SerializeToElement(exception.Detail);
        Assert.Equal(wrong.ToString(), detail.GetProperty("expected").GetString());
        Assert.Equal(Digest.Compute(Bytes("actual content")).ToString(), detail.GetProperty("actual").GetString());
        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.StatusAsync(Repo, id, v with { Offset = 14 }, Ct));
        // Not even the state from the POST brings it back.
        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.StatusAsync(Repo, id, v, Ct));
        Assert.False(await _h.ExistsAsync(StoragePaths.UploadData(Repo, id)));
        Assert.False(await _h.ExistsAsync(StoragePaths.UploadStartedAt(Repo, id)));
        Assert.Null(await _h.Blobs.StatAsync(Repo, wrong, Ct));
        Assert.Null(await _h.Blobs.StatContentAsync(wrong, Ct));
    }

    [Fact]
    public async Task Commit_AfterRestart_RehashesStoredDataAndSucceeds()
    {
        var content = Payload(500_000, 2);
        var digest = Digest.Compute(content);
        var (id, v) = Start();
        await _h.Uploads.AppendAsync(Repo, id, v, Body(content), 0, content.Length, Ct);

        var restarted = _h.NewUploadStore();
        Assert.Equal(content.Length, (await restarted.StatusAsync(Repo, id, v, Ct)).Size);
        var size = await restarted.CommitAsync(Repo, id, v, digest, null, null, null, Ct);

        Assert.Equal(content.Length, size);
        Assert.Equal(content.Length, await _h.Blobs.StatAsync(Repo, digest, Ct));
    }

    [Fact]
    public async Task Append_AfterRestart_ContinuesAndCommitVerifiesWholeContent()
    {
        var content = Payload(400_000, 3);
        var digest = Digest.Compute(content);
        var (id, v) = Start();
        await _h.Uploads.AppendAsync(Repo, id, v, Body(content[..150_000]), 0, 150_000, Ct);

        var other = _h.NewUploadStore();
        await other.AppendAsync(Repo, id, v, Body(content[150_000..]), 150_000, 250_000, Ct);
        var size = await other.CommitAsync(Repo, id, v, digest, null, null, null, Ct);

        Assert.Equal(content.Length, size);
        Assert.Equal(content.Length, await _h.Blobs.StatAsync(Repo, digest, Ct));
    }

    [Fact]
    public async Task Commit_AfterAnotherReplicaAppended_DoesNotUseStaleHashState()
    {
        var content = Bytes("part one|part two");
        var digest = Digest.Compute(content);
        var (id, v) = Start();
        await _h.Uploads.AppendAsync(Repo, id, v, Body("part one|"), 0, 9, Ct);
        await _h.NewUploadStore().AppendAsync(Repo, id, v, Body("part two"), 9, 8, Ct);

        var size = await _h.Uploads.CommitAsync(Repo, id, v, digest, null, null, null, Ct);

        Assert.Equal(content.Length, size);
    }

    [Fact]
    public async Task Commit_Sha512Digest_Succeeds()
    {
        var content = Payload(200_000, 4);
        var digest = Digest.Compute(content, Digest.Sha512);
        var (id, v) = Start();
        await _h.Uploads.AppendAsync(Repo, id, v, Body(content), 0, content.Length, Ct);

        var size = await _h.Uploads.CommitAsync(Repo, id, v, digest, null, null, null, Ct);

        Assert.Equal(content.Length, size);
        Assert.Equal(content.Length, await _h.Blobs.StatAsync(Repo, digest, Ct));
        Assert.True(await _h.ExistsAsync(StoragePaths.BlobData(digest)));
        Assert.StartsWith(StoragePaths.BlobsRoot + "/sha512/", StoragePaths.BlobData(digest), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Commit_ContentAlreadyStored_LinksIntoSecondRepository()
    {
        var content = Payload(10_000, 5);
        var digest = Digest.Compute(content);
        var other = Name("other/repo");
        var (first, firstVoucher) = Start();
        await _h.Uploads.CommitAsync(Repo, first, firstVoucher, digest, Body(content), null, null, Ct);
        var (second, secondVoucher) = Start();

        var size = await _h.Uploads.CommitAsync(other, second, secondVoucher, digest, Body(content), null, null, Ct);

        Assert.Equal(content.Length, size);
        Assert.Equal(content.Length, await _h.Blobs.StatAsync(other, digest, Ct));
        Assert.Equal(content.Length, await _h.Blobs.StatAsync(Repo, digest, Ct));
        Assert.False(await _h.ExistsAsync(StoragePaths.Upload(other, second)));
    }

    [Fact]
    public async Task Commit_Twice_SecondIsUnknownUpload()
    {
        var digest = Digest.Compute(Bytes("x"));
        var (id, v) = Start();
        var patched = await _h.Uploads.AppendAsync(Repo, id, v, Body("x"), 0, 1, Ct);
        var latest = new UploadVoucher(patched.StartedAt, patched.Size);
        await _h.Uploads.CommitAsync(Repo, id, latest, digest, null, null, null, Ct);

        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.CommitAsync(Repo, id, latest, digest, null, null, null, Ct));
    }

    [Fact]
    public async Task Commit_UntouchedTwiceWithTheSameBody_StoresTheSameBlobAgain()
    {
        // An upload that never held a byte leaves no trace to refuse a repeated PUT by; content addressing makes the
        // repeat harmless, and a body that does not match is refused as any other.
        var digest = Digest.Compute(Bytes("x"));
        var (id, v) = Start();
        await _h.Uploads.CommitAsync(Repo, id, v, digest, Body("x"), null, null, Ct);

        Assert.Equal(1, await _h.Uploads.CommitAsync(Repo, id, v, digest, Body("x"), null, null, Ct));
        await ThrowsAsync(ErrorCode.DigestInvalid, () => _h.Uploads.CommitAsync(Repo, id, v, digest, Body("y"), null, null, Ct));
        Assert.Equal(1, await _h.Blobs.StatAsync(Repo, digest, Ct));
    }

    [Fact]
    public async Task Cancel_RemovesTheUpload()
    {
        var (id, v) = Start();
        await _h.Uploads.AppendAsync(Repo, id, v, Body("data"), 0, 4, Ct);

        await _h.Uploads.CancelAsync(Repo, id, v, Ct);

        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.StatusAsync(Repo, id, v, Ct));
        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.AppendAsync(Repo, id, v, Body("more"), null, null, Ct));
        Assert.False(await _h.ExistsAsync(StoragePaths.UploadData(Repo, id)));
        Assert.False(await _h.ExistsAsync(StoragePaths.UploadStartedAt(Repo, id)));
    }

    [Fact]
    public async Task Cancel_UntouchedUpload_EveryLaterRequestIsUnknown()
    {
        var (id, v) = Start();

        await _h.Uploads.CancelAsync(Repo, id, v, Ct);

        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.StatusAsync(Repo, id, v, Ct));
        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.NewUploadStore().AppendAsync(Repo, id, v, Body("more"), null, null, Ct));
        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.CommitAsync(Repo, id, v, Digest.Compute(Bytes("x")), Body("x"), null, null, Ct));
        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.CancelAsync(Repo, id, v, Ct));
        Assert.Null(await _h.Blobs.StatContentAsync(Digest.Compute(Bytes("x")), Ct));
    }

    [Fact]
    public async Task Append_UntouchedUpload_RecordsWhenTheVoucherSaysItStarted()
    {
        var (id, v) = Start();

        var status = await _h.NewUploadStore().AppendAsync(Repo, id, v, Body("abc"), 0, 3, Ct);

        Assert.True(status.Stored);
        Assert.Equal(v.StartedAt, status.StartedAt);
        var stored = await _h.Uploads.StatusAsync(Repo, id, null, Ct);
        Assert.Equal(3, stored.Size);
        Assert.Equal(v.StartedAt, stored.StartedAt);
    }

    [Fact]
    public async Task Cancel_UnknownUpload_ThrowsBlobUploadUnknown()
    {
        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.CancelAsync(Repo, Guid.NewGuid().ToString("D"), null, Ct));
    }

    [Theory]
    [InlineData("3f2c7d4e-0000-4000-8000-000000000000")]
    [InlineData("not-a-uuid")]
    [InlineData("")]
    [InlineData("3F2C7D4E00004000800000000000000000")]
    [InlineData("../../../../etc/passwd")]
    public async Task UnknownId_EveryOperation_ThrowsBlobUploadUnknown(string id)
    {
        UploadVoucher? v = null;
        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.StatusAsync(Repo, id, v, Ct));
        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.AppendAsync(Repo, id, v, Body("x"), null, null, Ct));
        await ThrowsAsync(ErrorCode.BlobUploadUnknown,
            () => _h.Uploads.CommitAsync(Repo, id, v, Digest.Compute(Bytes("x")), null, null, null, Ct));
    }

    [Fact]
    public async Task Status_UploadOfAnotherRepository_ThrowsBlobUploadUnknown()
    {
        var (id, v) = Start();
        await _h.Uploads.AppendAsync(Repo, id, v, Body("x"), 0, 1, Ct);

        await ThrowsAsync(ErrorCode.BlobUploadUnknown, () => _h.Uploads.StatusAsync(Name("other/repo"), id, null, Ct));
    }

    [Fact]
    public async Task Start_WritesDistributionLayout()
    {
        var (id, v) = Start();
        await _h.Uploads.AppendAsync(Repo, id, v, Body("x"), 0, 1, Ct);

        Assert.True(await _h.ExistsAsync($"/docker/registry/v2/repositories/library/app/_uploads/{id}/startedat"));
        Assert.True(await _h.ExistsAsync($"/docker/registry/v2/repositories/library/app/_uploads/{id}/data"));
    }
}
