using System.Net;
using System.Security.Cryptography;
using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using Berth.Storage.Drivers;
using Berth.Storage.S3.Tests.Infrastructure;

namespace Berth.Storage.S3.Tests;

/// <summary>
/// What only the S3 driver does, checked against a real server and, behind the driver's back, with a raw
/// client: multipart writes, appends, multipart copies, presigned redirects, registry:2's key layout and
/// paginated listings.
/// </summary>
public sealed class S3DriverBehaviourTests(S3Fixture fixture) : IClassFixture<S3Fixture>, IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private readonly string _root = $"{S3TestStore.RunPrefix}/{nameof(S3DriverBehaviourTests)}/{Guid.NewGuid():N}";
    private readonly List<S3Driver> _drivers = [];
    private AmazonS3Client? _raw;

    private static CancellationToken Ct => CancellationToken.None;

    private AmazonS3Client Raw => _raw ??= S3TestStore.RawClient(fixture.Endpoint);

    private string Bucket => fixture.Endpoint.Bucket;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await S3TestStore.DeletePrefixAsync(fixture.Endpoint, _root + "/");
        _raw?.Dispose();
        foreach (var driver in _drivers)
        {
            driver.Dispose();
        }
    }

    // ---- writers ----

    [Fact]
    public async Task Writer_SeveralChunks_UploadsOnePartPerChunkAndRoundTripsByteExact()
    {
        var driver = Driver(o => o with { ChunkSize = 5 * MiB });
        var content = RandomBytes(25 * MiB + 12_345, 1);

        await using (var writer = await driver.OpenWriteAsync("/uploads/big/data", append: false, Ct))
        {
            for (var offset = 0; offset < content.Length; offset += 100_000)
            {
                var piece = content.AsMemory(offset, Math.Min(100_000, content.Length - offset));
                await writer.WriteAsync(piece, Ct);
                Assert.Equal(offset + piece.Length, writer.Size);
            }

            await writer.CommitAsync(Ct);
        }

        Assert.Equal(SHA256.HashData(content), await HashOfAsync(driver, "/uploads/big/data"));
        Assert.EndsWith("-6\"", await ETagAsync(driver, "/uploads/big/data"), StringComparison.Ordinal);
        Assert.Empty(await OpenUploadsAsync(driver, "/uploads/big/data"));
    }

    [Fact]
    public async Task Writer_LessThanOneChunk_IsStoredWithOneSinglePut()
    {
        var driver = Driver(o => o with { ChunkSize = 5 * MiB });
        var content = RandomBytes(3 * MiB, 2);

        await using (var writer = await driver.OpenWriteAsync("/small", append: false, Ct))
        {
            await writer.WriteAsync(content, Ct);
            await writer.CommitAsync(Ct);
        }

        Assert.Equal(content, await ReadAsync(driver, "/small"));
        Assert.DoesNotContain("-", await ETagAsync(driver, "/small"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writer_ManySmallObjectsAtOnce_HoldNoPartBuffer()
    {
        var driver = Driver(o => o with { ChunkSize = 5 * MiB });
        var contents = Enumerable.Range(0, 16).Select(i => RandomBytes(1_000 + (i * 20_000), 30 + i)).ToList();
        var writers = new List<StorageWriter>();
        try
        {
            for (var i = 0; i < contents.Count; i++)
            {
                var writer = await driver.OpenWriteAsync($"/small/{i}", append: false, Ct);
                writers.Add(writer);
                for (var offset = 0; offset < contents[i].Length; offset += 7_000)
                {
                    await writer.WriteAsync(contents[i].AsMemory(offset, Math.Min(7_000, contents[i].Length - offset)), Ct);
                }
            }

            // Sixteen writers open with up to 301 KB each: a part buffer apiece would be 80 MiB.
            Assert.Equal(0, driver.PartBuffers.Rented);
            foreach (var writer in writers)
            {
                await writer.CommitAsync(Ct);
            }
        }
        finally
        {
            foreach (var writer in writers)
            {
                await writer.DisposeAsync();
            }
        }

        for (var i = 0; i < contents.Count; i++)
        {
            Assert.Equal(contents[i], await ReadAsync(driver, $"/small/{i}"));
            Assert.DoesNotContain("-", await ETagAsync(driver, $"/small/{i}"), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Writer_ObjectOutgrowingTheSmallBuffers_TakesOnePartBufferAndKeepsEveryByte()
    {
        var driver = Driver(o => o with { ChunkSize = 5 * MiB });
        var content = RandomBytes((12 * MiB) + 777, 40);

        await using (var writer = await driver.OpenWriteAsync("/growing/data", append: false, Ct))
        {
            var offset = 0;
            foreach (var length in Enumerable.Repeat(new[] { 1, 65_535, 2, 300_000, 3 * MiB }, 100).SelectMany(l => l))
            {
                var take = Math.Min(length, content.Length - offset);
                if (take == 0)
                {
                    break;
                }

                await writer.WriteAsync(content.AsMemory(offset, take), Ct);
                offset += take;
                if (offset <= 2 * MiB)
                {
                    Assert.Equal(0, driver.PartBuffers.Rented);
                }
            }

            // One part in flight and the next being filled, at most.
            Assert.InRange(driver.PartBuffers.Rented, 1, 2);
            await writer.CommitAsync(Ct);
        }

        Assert.Equal(0, driver.PartBuffers.Rented);
        Assert.Equal(SHA256.HashData(content), await HashOfAsync(driver, "/growing/data"));
        Assert.EndsWith("-3\"", await ETagAsync(driver, "/growing/data"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writer_AppendToObjectOfAtLeast5MiB_CopiesItServerSideAndContinues()
    {
        var driver = Driver(o => o with { ChunkSize = 5 * MiB });
        var first = RandomBytes(7 * MiB + 3, 3);
        var second = RandomBytes(6 * MiB, 4);
        await driver.PutContentAsync("/upload/data", first, Ct);

        await using (var writer = await driver.OpenWriteAsync("/upload/data", append: true, Ct))
        {
            Assert.Equal(first.Length, writer.Size);
            await writer.WriteAsync(second, Ct);
            Assert.Equal(first.Length + second.Length, writer.Size);
        }

        Assert.Equal(first.Concat(second).ToArray(), await ReadAsync(driver, "/upload/data"));
        Assert.Contains("-", await ETagAsync(driver, "/upload/data"), StringComparison.Ordinal);
        Assert.Empty(await OpenUploadsAsync(driver, "/upload/data"));
    }

    [Fact]
    public async Task Writer_AppendToSmallObject_ReuploadsItAsTheStartOfTheFirstPart()
    {
        var driver = Driver(o => o with { ChunkSize = 5 * MiB });
        var first = RandomBytes(MiB, 5);
        var second = RandomBytes(12 * MiB, 6);
        await driver.PutContentAsync("/upload/data", first, Ct);

        await using (var writer = await driver.OpenWriteAsync("/upload/data", append: true, Ct))
        {
            await writer.WriteAsync(second, Ct);
            await writer.CommitAsync(Ct);
        }

        Assert.Equal(first.Concat(second).ToArray(), await ReadAsync(driver, "/upload/data"));
        Assert.EndsWith("-3\"", await ETagAsync(driver, "/upload/data"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writer_ChunkedUploadSessionsDisposedWithoutCommit_EachResumesAtTheStoredSize()
    {
        // What the upload store does for a chunked push: one append session per PATCH, closed by disposal.
        var driver = new ValidatingDriver(Driver(o => o with { ChunkSize = 5 * MiB }));
        var chunks = Enumerable.Range(0, 5).Select(i => RandomBytes(3 * MiB + i, 10 + i)).ToList();
        var expected = new List<byte>();

        foreach (var chunk in chunks)
        {
            await using (var writer = await driver.OpenWriteAsync("/repo/_uploads/u/data", append: true, Ct))
            {
                Assert.Equal(expected.Count, writer.Size);
                await writer.WriteAsync(chunk, Ct);
            }

            expected.AddRange(chunk);
            Assert.Equal(expected.Count, (await driver.StatAsync("/repo/_uploads/u/data", Ct)).Size);
        }

        Assert.Equal(expected.ToArray(), await ReadAsync(driver, "/repo/_uploads/u/data"));
    }

    [Fact]
    public async Task Writer_AppendAfterTheObjectChanged_FailsAndKeepsTheNewerObject()
    {
        var driver = Driver();
        await driver.PutContentAsync("/upload/data", Bytes("first"), Ct);

        await using (var writer = await driver.OpenWriteAsync("/upload/data", append: true, Ct))
        {
            await driver.PutContentAsync("/upload/data", Bytes("rewritten meanwhile"), Ct);
            await Assert.ThrowsAsync<IOException>(() => writer.WriteAsync(Bytes(" more"), Ct).AsTask());
        }

        Assert.Equal(Bytes("rewritten meanwhile"), await ReadAsync(driver, "/upload/data"));
    }

    [Fact]
    public async Task Writer_AppendAfterALargeObjectChanged_FailsWithoutLeavingAMultipartUpload()
    {
        var driver = Driver(o => o with { ChunkSize = 5 * MiB });
        var rewritten = RandomBytes(6 * MiB, 21);
        await driver.PutContentAsync("/upload/data", RandomBytes(6 * MiB, 20), Ct);

        await using (var writer = await driver.OpenWriteAsync("/upload/data", append: true, Ct))
        {
            await driver.PutContentAsync("/upload/data", rewritten, Ct);
            await Assert.ThrowsAsync<IOException>(() => writer.WriteAsync(Bytes(" more"), Ct).AsTask());
        }

        Assert.Equal(rewritten, await ReadAsync(driver, "/upload/data"));
        Assert.Empty(await OpenUploadsAsync(driver, "/upload/data"));
    }

    [Fact]
    public async Task Writer_CancelAfterUploadingParts_AbortsTheMultipartUploadAndRemovesTheObject()
    {
        var driver = Driver(o => o with { ChunkSize = 5 * MiB });
        await driver.PutContentAsync("/upload/data", Bytes("old"), Ct);

        await using (var writer = await driver.OpenWriteAsync("/upload/data", append: true, Ct))
        {
            await writer.WriteAsync(RandomBytes(12 * MiB, 7), Ct);
            Assert.NotEmpty(await OpenUploadsAsync(driver, "/upload/data"));
            await writer.CancelAsync(Ct);
        }

        Assert.Empty(await OpenUploadsAsync(driver, "/upload/data"));
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => driver.StatAsync("/upload/data", Ct));
    }

    [Fact]
    public async Task Writer_AfterCommit_RefusesMoreWrites()
    {
        var driver = Driver();
        await using var writer = await driver.OpenWriteAsync("/w", append: false, Ct);
        await writer.WriteAsync(Bytes("x"), Ct);
        await writer.CommitAsync(Ct);

        await Assert.ThrowsAsync<InvalidOperationException>(() => writer.WriteAsync(Bytes("y"), Ct).AsTask());
    }

    // ---- reads ----

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5)]
    public async Task OpenRead_EmptyObjectAtAnyOffset_IsAnEmptyStream(long offset)
    {
        var driver = Driver();
        await driver.PutContentAsync("/empty", ReadOnlyMemory<byte>.Empty, Ct);

        await using var stream = await driver.OpenReadAsync("/empty", offset, Ct);

        Assert.Equal(-1, stream.ReadByte());
    }

    // ---- move ----

    [Fact]
    public async Task Move_AboveTheMultipartCopyThreshold_CopiesInPartsByteExact()
    {
        var driver = Driver(o => o with { MultipartCopyThresholdSize = 5 * MiB, MultipartCopyChunkSize = 5 * MiB, MultipartCopyMaxConcurrency = 2 });
        var content = RandomBytes(13 * MiB, 8);
        await driver.PutContentAsync("/uploads/u/data", content, Ct);

        await driver.MoveAsync("/uploads/u/data", "/blobs/sha256/ab/abcd/data", Ct);

        Assert.Equal(SHA256.HashData(content), await HashOfAsync(driver, "/blobs/sha256/ab/abcd/data"));
        // 13 MiB in 5 MiB parts leaves 3 MiB, under S3's part minimum, merged into the part before: two parts.
        Assert.EndsWith("-2\"", await ETagAsync(driver, "/blobs/sha256/ab/abcd/data"), StringComparison.Ordinal);
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => driver.StatAsync("/uploads/u/data", Ct));
    }

    [Fact]
    public async Task Move_OntoItself_KeepsTheObject()
    {
        var driver = Driver();
        await driver.PutContentAsync("/same", Bytes("stay"), Ct);

        await driver.MoveAsync("/same", "/same", Ct);

        Assert.Equal(Bytes("stay"), await ReadAsync(driver, "/same"));
    }

    [Theory]
    [InlineData(13L * MiB, 5L * MiB, new long[] { 5 * MiB, 8 * MiB })]
    [InlineData(15L * MiB, 5L * MiB, new long[] { 5 * MiB, 5 * MiB, 5 * MiB })]
    [InlineData(6L * MiB, 32L * MiB, new long[] { 6 * MiB })]
    [InlineData(1L, 32L * MiB, new long[] { 1 })]
    public void CopyRanges_CoverTheObjectWithPartsS3Accepts(long size, long chunk, long[] expected)
    {
        var ranges = S3Driver.CopyRanges(size, chunk);

        Assert.Equal(expected, ranges.Select(r => r.Last - r.First + 1));
        Assert.Equal(0, ranges[0].First);
        Assert.Equal(size - 1, ranges[^1].Last);
    }

    // ---- redirects ----

    [Fact]
    public async Task RedirectUri_Get_IsAPresignedUrlThatServesTheBytesForTwentyMinutes()
    {
        var driver = Driver();
        var content = RandomBytes(100_000, 9);
        await driver.PutContentAsync("/docker/registry/v2/blobs/sha256/ab/abcd/data", content, Ct);

        var url = await driver.RedirectUriAsync("/docker/registry/v2/blobs/sha256/ab/abcd/data", "GET", Ct);

        Assert.NotNull(url);
        Assert.InRange(SignedExpiry(url), 1199, 1201);
        Assert.Equal(new Uri(fixture.Endpoint.Url).Authority, url.Authority);
        using var http = new HttpClient();
        Assert.Equal(content, await http.GetByteArrayAsync(url, Ct));
        using var ranged = new HttpRequestMessage(HttpMethod.Get, url) { Headers = { Range = new(10, 19) } };
        using var partial = await http.SendAsync(ranged, Ct);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(content[10..20], await partial.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task RedirectUri_Head_IsAPresignedHeadUrl()
    {
        var driver = Driver();
        await driver.PutContentAsync("/blob", new byte[1234], Ct);

        var url = await driver.RedirectUriAsync("/blob", "HEAD", Ct);

        using var http = new HttpClient();
        using var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, url), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1234, response.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task RedirectUri_ConfiguredExpiry_IsSigned()
    {
        var driver = Driver(o => o with { RedirectExpiry = TimeSpan.FromSeconds(90) });
        await driver.PutContentAsync("/blob", Bytes("x"), Ct);

        var url = await driver.RedirectUriAsync("/blob", "GET", Ct);

        Assert.InRange(SignedExpiry(url!), 89, 91);
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("POST")]
    public async Task RedirectUri_OtherMethods_AreNull(string method)
    {
        Assert.Null(await Driver().RedirectUriAsync("/blob", method, Ct));
    }

    [Fact]
    public async Task RedirectUri_RedirectEndpoint_IsSignedForThatHost()
    {
        // The same server under another name stands in for a CDN or public endpoint in front of the bucket.
        var server = new Uri(fixture.Endpoint.Url);
        var alias = new Uri($"{server.Scheme}://localhost:{server.Port}");
        var driver = Driver(o => o with { RedirectEndpoint = alias });
        await driver.PutContentAsync("/blob", Bytes("via the redirect endpoint"), Ct);

        var url = await driver.RedirectUriAsync("/blob", "GET", Ct);

        Assert.Equal(alias.Authority, url!.Authority);
        using var http = new HttpClient();
        Assert.Equal(Bytes("via the redirect endpoint"), await http.GetByteArrayAsync(url, Ct));
    }

    // ---- layout ----

    [Fact]
    public async Task ObjectKeys_AreRegistry2s_RootDirectoryThenPath()
    {
        var driver = Driver(rootDirectory: "/" + _root + "/");
        const string blob = "/docker/registry/v2/blobs/sha256/9f/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08/data";

        await driver.PutContentAsync(blob, Bytes("test"), Ct);

        Assert.Equal(_root + blob, driver.ObjectKey(blob));
        using var response = await Raw.GetObjectAsync(Bucket, _root + blob, Ct);
        using var copy = new MemoryStream();
        await response.ResponseStream.CopyToAsync(copy, Ct);
        Assert.Equal(Bytes("test"), copy.ToArray());
    }

    [Fact]
    public async Task ObjectsWrittenAtRegistry2Keys_AreServed()
    {
        const string link = "/docker/registry/v2/repositories/library/app/_layers/sha256/abcd/link";
        await Raw.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = _root + link, ContentBody = "sha256:abcd" }, Ct);
        var driver = Driver();

        Assert.Equal(Bytes("sha256:abcd"), await driver.GetContentAsync(link, 100, Ct));
        Assert.Equal(["/docker/registry/v2/repositories/library"], await driver.ListAsync("/docker/registry/v2/repositories", Ct));
        Assert.True((await driver.StatAsync("/docker/registry/v2/repositories/library/app", Ct)).IsDirectory);
    }

    [Fact]
    public async Task List_DirectoryMarkerKeys_AreNotListedAsEntries()
    {
        // Some tools (and registry:2's S3 walk notes) leave zero-byte "dir/" keys behind.
        await Raw.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = _root + "/dir/", ContentBody = string.Empty }, Ct);
        await Raw.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = _root + "/dir/file", ContentBody = "x" }, Ct);

        Assert.Equal(["/dir/file"], await Driver().ListAsync("/dir", Ct));
    }

    // ---- listing and deleting at scale ----

    [Fact]
    public async Task ListAndDelete_MoreThanOnePageOfKeys_SeeAndRemoveThemAll()
    {
        const int files = 1_050;
        const int directories = 3;
        var driver = Driver();
        var paths = Enumerable.Range(0, files).Select(i => $"/many/f{i:D5}")
            .Concat(Enumerable.Range(0, directories).Select(i => $"/many/d{i}/nested/file"))
            .ToList();
        await Parallel.ForEachAsync(paths, new ParallelOptions { MaxDegreeOfParallelism = 32 },
            async (path, ct) => await driver.PutContentAsync(path, Bytes(path), ct));

        var children = await driver.ListAsync("/many", Ct);

        Assert.Equal(files + directories, children.Count);
        Assert.Equal(files + directories, children.Distinct().Count());
        Assert.Contains("/many/f01049", children);
        Assert.Contains("/many/d2", children);

        await driver.DeleteAsync("/many", Ct);

        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => driver.StatAsync("/many", Ct));
        var left = await Raw.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, Prefix = _root + "/many" }, Ct);
        Assert.Empty(left.S3Objects ?? []);
    }

    [Fact]
    public async Task Delete_SiblingsSharingTheKeyPrefix_AreKept()
    {
        var driver = Driver();
        await driver.PutContentAsync("/tags/v1/current/link", Bytes("a"), Ct);
        await driver.PutContentAsync("/tags/v1.0/current/link", Bytes("b"), Ct);
        await driver.PutContentAsync("/tags/v1-rc", Bytes("c"), Ct);

        await driver.DeleteAsync("/tags/v1", Ct);

        Assert.Equal(["/tags/v1-rc", "/tags/v1.0"], (await driver.ListAsync("/tags", Ct)).Order(StringComparer.Ordinal));
    }

    // ---- errors ----

    [Fact]
    public async Task MissingBucket_IsAnS3ErrorNotAMissingPath()
    {
        var driver = Driver(o => o with { Bucket = "berth-missing-" + Guid.NewGuid().ToString("N")[..12] });

        var exception = await Assert.ThrowsAsync<AmazonS3Exception>(() => driver.GetContentAsync("/x", 100, Ct));

        Assert.Equal("NoSuchBucket", exception.ErrorCode);
    }

    private S3Driver Driver(Func<S3DriverOptions, S3DriverOptions>? configure = null, string? rootDirectory = null)
    {
        var driver = fixture.CreateDriver(rootDirectory ?? _root, configure);
        _drivers.Add(driver);
        return driver;
    }

    private async Task<string> ETagAsync(S3Driver driver, string path) =>
        (await Raw.GetObjectMetadataAsync(Bucket, driver.ObjectKey(path), Ct)).ETag;

    private async Task<List<string>> OpenUploadsAsync(S3Driver driver, string path)
    {
        var key = driver.ObjectKey(path);
        var uploads = await Raw.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = Bucket, Prefix = key }, Ct);
        return (uploads.MultipartUploads ?? []).Where(u => u.Key == key).Select(u => u.UploadId).ToList();
    }

    private static async Task<byte[]> ReadAsync(IStorageDriver driver, string path)
    {
        await using var stream = await driver.OpenReadAsync(path, 0, Ct);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }

    private static async Task<byte[]> HashOfAsync(IStorageDriver driver, string path)
    {
        await using var stream = await driver.OpenReadAsync(path, 0, Ct);
        return await SHA256.HashDataAsync(stream, Ct);
    }

    /// <summary>X-Amz-Expires: the SDK measures it from its own clock, corrected for the server's, so allow a second.</summary>
    private static int SignedExpiry(Uri url) =>
        int.Parse(System.Web.HttpUtility.ParseQueryString(url.Query)["X-Amz-Expires"]!, System.Globalization.CultureInfo.InvariantCulture);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
