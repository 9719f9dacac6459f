using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>Spec "Pushing blobs": monolithic (single POST, POST then PUT), chunked (PATCH ... PUT), upload status and cancel.</summary>
public sealed class BlobUploadTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;
    private readonly string _repository = Oci.UniqueRepository("uploads");

    private async Task<byte[]> PullBlobAsync(string repository, string digest)
    {
        using var response = await _client.GetAsync($"/v2/{repository}/blobs/{digest}");
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        return await response.Content.ReadAsByteArrayAsync();
    }

    private async Task AssertBlobAbsentAsync(string repository, string digest)
    {
        using var response = await _client.SendAsync(HttpMethod.Head, $"/v2/{repository}/blobs/{digest}");
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    // ---- Single POST (end-4b) ----

    [Fact]
    public async Task SinglePost_WithDigest_Returns201WithBlobLocation()
    {
        var content = Oci.RandomBytes(3000);
        var digest = Oci.DigestOf(content);

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{_repository}/blobs/uploads/?digest={digest}", RegistryClient.Bytes(content));

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal($"/v2/{_repository}/blobs/{digest}", _client.LocationOf(response).AbsolutePath);
        Assert.Equal(digest, response.Header("Docker-Content-Digest"));
    }

    [Fact]
    public async Task SinglePost_WithDigest_BlobIsPullable()
    {
        var content = Oci.RandomBytes(3000);
        var digest = Oci.DigestOf(content);

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{_repository}/blobs/uploads/?digest={digest}", RegistryClient.Bytes(content));
        await OciAssert.StatusAsync(response, HttpStatusCode.Created);

        Assert.Equal(content, await PullBlobAsync(_repository, digest));
    }

    [Fact]
    public async Task SinglePost_WithWrongDigest_Returns400DigestInvalidAndCommitsNothing()
    {
        var content = Oci.RandomBytes(100);
        var claimed = Oci.AbsentDigest();

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{_repository}/blobs/uploads/?digest={claimed}", RegistryClient.Bytes(content));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        await AssertBlobAbsentAsync(_repository, claimed);
        await AssertBlobAbsentAsync(_repository, Oci.DigestOf(content));
    }

    [Fact]
    public async Task SinglePost_EmptyBlob_Returns201()
    {
        var digest = Oci.DigestOf([]);

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{_repository}/blobs/uploads/?digest={digest}", RegistryClient.Bytes([]));

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Empty(await PullBlobAsync(_repository, digest));
    }

    // ---- POST then PUT (end-4a, end-6) ----

    [Fact]
    public async Task Post_WithoutDigest_Returns202WithSessionHeaders()
    {
        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{_repository}/blobs/uploads/", RegistryClient.Bytes([]));

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
        var location = _client.LocationOf(response);
        var uuid = response.Header("Docker-Upload-UUID");
        Assert.False(string.IsNullOrEmpty(uuid));
        Assert.True(Guid.TryParse(uuid, out _), $"Docker-Upload-UUID '{uuid}' is not a UUID");
        Assert.StartsWith($"/v2/{_repository}/blobs/uploads/{uuid}", location.AbsolutePath, StringComparison.Ordinal);
        Assert.Equal("0-0", response.Header("Range"));
        OciAssert.HasApiVersion(response);
    }

    [Fact]
    public async Task Post_WithoutTrailingSlash_StartsSession()
    {
        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{_repository}/blobs/uploads", RegistryClient.Bytes([]));

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Post_TwoSessions_HaveDistinctIds()
    {
        var first = await _client.StartUploadAsync(_repository);
        var second = await _client.StartUploadAsync(_repository);

        Assert.NotEqual(first.AbsolutePath, second.AbsolutePath);
    }

    [Fact]
    public async Task PostThenPut_WholeBlob_Returns201WithBlobLocationAndDigest()
    {
        var content = Oci.RandomBytes(5000);
        var digest = Oci.DigestOf(content);
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, digest), RegistryClient.Bytes(content));

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal($"/v2/{_repository}/blobs/{digest}", _client.LocationOf(response).AbsolutePath);
        Assert.Equal(digest, response.Header("Docker-Content-Digest"));
        Assert.Equal(content, await PullBlobAsync(_repository, digest));
    }

    [Fact]
    public async Task PostThenPut_BlobLargerThanKestrelDefaultLimit_IsAccepted()
    {
        // Kestrel's default body limit is 30,000,000 bytes and Berth's global one is lower; uploads must lift it.
        var content = Oci.RandomBytes(33 * 1024 * 1024);
        var digest = Oci.DigestOf(content);
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, digest), RegistryClient.Bytes(content));

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        using var head = await _client.SendAsync(HttpMethod.Head, $"/v2/{_repository}/blobs/{digest}");
        await OciAssert.StatusAsync(head, HttpStatusCode.OK);
        Assert.Equal(content.Length, head.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task Put_WithoutDigestParameter_Returns400DigestInvalid()
    {
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.SendAsync(HttpMethod.Put, location, RegistryClient.Bytes(Oci.RandomBytes(10)));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task Put_WithDigestMismatch_Returns400DigestInvalidAndCommitsNothing()
    {
        var content = Oci.RandomBytes(2048);
        var claimed = Oci.AbsentDigest();
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, claimed), RegistryClient.Bytes(content));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        await AssertBlobAbsentAsync(_repository, claimed);
        await AssertBlobAbsentAsync(_repository, Oci.DigestOf(content));
    }

    [Fact]
    public async Task Put_WithDigestMismatch_EndsTheUploadSession()
    {
        // registry:2 cancels the upload when the commit fails.
        var location = await _client.StartUploadAsync(_repository);
        using (var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, Oci.AbsentDigest()), RegistryClient.Bytes(Oci.RandomBytes(10))))
        {
            await OciAssert.ErrorAsync(put, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        }

        using var status = await _client.GetAsync(location);

        await OciAssert.ErrorAsync(status, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task Put_WithSha512Digest_IsVerifiedAndAccepted()
    {
        var content = Oci.RandomBytes(777);
        var digest = Oci.Sha512Of(content);
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, digest), RegistryClient.Bytes(content));

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal(content, await PullBlobAsync(_repository, digest));
    }

    [Fact]
    public async Task Put_AfterChunkedCompletion_UploadIsUnknown()
    {
        var content = Oci.RandomBytes(10);
        var location = await _client.StartUploadAsync(_repository);
        using var patch = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(content));
        await OciAssert.StatusAsync(patch, HttpStatusCode.Accepted);
        var latest = _client.LocationOf(patch);
        using (var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(latest, Oci.DigestOf(content)), null))
        {
            await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        }

        using var again = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(latest, Oci.DigestOf(content)), null);

        await OciAssert.ErrorAsync(again, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task Put_WholeBlobRepeatedOnTheSameLocation_StoresItOnce()
    {
        // An upload that received its bytes in the completing PUT leaves nothing behind to refuse a repeat by (registry:2
        // answers 404 there); the repeat is harmless: the same content under the same digest, nothing stored twice.
        var content = Oci.RandomBytes(10);
        var location = await _client.StartUploadAsync(_repository);
        using (var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, Oci.DigestOf(content)), RegistryClient.Bytes(content)))
        {
            await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        }

        using var again = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, Oci.DigestOf(content)), RegistryClient.Bytes(content));

        await OciAssert.StatusAsync(again, HttpStatusCode.Created);
        Assert.Equal(content, await PullBlobAsync(_repository, Oci.DigestOf(content)));
    }

    [Fact]
    public async Task Put_SameContentTwice_BothSucceed()
    {
        var content = Oci.RandomBytes(64);
        await _client.PushBlobAsync(_repository, content);

        var descriptor = await _client.PushBlobAsync(_repository, content);

        Assert.Equal(content, await PullBlobAsync(_repository, descriptor.Digest));
    }

    // ---- Chunked (end-5) ----

    [Fact]
    public async Task Patch_FirstChunkWithContentRange_Returns202WithRangeAndLocation()
    {
        var location = await _client.StartUploadAsync(_repository);
        var chunk = Oci.RandomBytes(1000);

        using var response = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(chunk), ("Content-Range", "0-999"));

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
        Assert.Equal("0-999", response.Header("Range"));
        Assert.False(string.IsNullOrEmpty(response.Header("Docker-Upload-UUID")));
        Assert.StartsWith(location.AbsolutePath, _client.LocationOf(response).AbsolutePath, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChunkedUpload_TwoPatchesThenEmptyPut_Returns201AndBlobMatches()
    {
        var content = Oci.RandomBytes(3000);
        var digest = Oci.DigestOf(content);
        var location = await _client.StartUploadAsync(_repository);

        using var first = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(content[..1200]), ("Content-Range", "0-1199"));
        await OciAssert.StatusAsync(first, HttpStatusCode.Accepted);
        Assert.Equal("0-1199", first.Header("Range"));

        using var second = await _client.SendAsync(HttpMethod.Patch, _client.LocationOf(first), RegistryClient.Bytes(content[1200..]), ("Content-Range", "1200-2999"));
        await OciAssert.StatusAsync(second, HttpStatusCode.Accepted);
        Assert.Equal("0-2999", second.Header("Range"));

        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(_client.LocationOf(second), digest), RegistryClient.Bytes([]));
        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        Assert.Equal($"/v2/{_repository}/blobs/{digest}", _client.LocationOf(put).AbsolutePath);
        Assert.Equal(content, await PullBlobAsync(_repository, digest));
    }

    [Fact]
    public async Task ChunkedUpload_ManySmallChunks_Returns201AndBlobMatches()
    {
        var content = Oci.RandomBytes(10 * 97);
        var digest = Oci.DigestOf(content);
        var location = await _client.StartUploadAsync(_repository);
        for (var offset = 0; offset < content.Length; offset += 97)
        {
            using var patch = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(content[offset..(offset + 97)]),
                ("Content-Range", $"{offset}-{offset + 96}"));
            await OciAssert.StatusAsync(patch, HttpStatusCode.Accepted);
            location = _client.LocationOf(patch);
        }

        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, digest), RegistryClient.Bytes([]));

        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        Assert.Equal(content, await PullBlobAsync(_repository, digest));
    }

    [Fact]
    public async Task StreamedPatch_WithoutContentRangeOrLength_Returns202AndPutCompletes()
    {
        var content = Oci.RandomBytes(200_000);
        var digest = Oci.DigestOf(content);
        var location = await _client.StartUploadAsync(_repository);

        using var patch = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Streamed(content));
        await OciAssert.StatusAsync(patch, HttpStatusCode.Accepted);
        Assert.Equal($"0-{content.Length - 1}", patch.Header("Range"));

        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(_client.LocationOf(patch), digest), RegistryClient.Bytes([]));
        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        Assert.Equal(content, await PullBlobAsync(_repository, digest));
    }

    [Fact]
    public async Task StreamedPatch_Twice_AppendsInOrder()
    {
        var content = Oci.RandomBytes(5000);
        var digest = Oci.DigestOf(content);
        var location = await _client.StartUploadAsync(_repository);

        using var first = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Streamed(content[..2000]));
        await OciAssert.StatusAsync(first, HttpStatusCode.Accepted);
        using var second = await _client.SendAsync(HttpMethod.Patch, _client.LocationOf(first), RegistryClient.Streamed(content[2000..]));
        await OciAssert.StatusAsync(second, HttpStatusCode.Accepted);
        Assert.Equal("0-4999", second.Header("Range"));

        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(_client.LocationOf(second), digest), RegistryClient.Bytes([]));
        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        Assert.Equal(content, await PullBlobAsync(_repository, digest));
    }

    [Fact]
    public async Task ChunkedUpload_FinalChunkInPut_Returns201AndBlobMatches()
    {
        var content = Oci.RandomBytes(4096);
        var digest = Oci.DigestOf(content);
        var location = await _client.StartUploadAsync(_repository);
        using var patch = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(content[..3000]), ("Content-Range", "0-2999"));
        await OciAssert.StatusAsync(patch, HttpStatusCode.Accepted);

        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(_client.LocationOf(patch), digest),
            RegistryClient.Bytes(content[3000..]), ("Content-Range", "3000-4095"));

        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        Assert.Equal(content, await PullBlobAsync(_repository, digest));
    }

    [Fact]
    public async Task ChunkedUpload_DigestMismatchAtPut_Returns400DigestInvalidAndCommitsNothing()
    {
        var content = Oci.RandomBytes(1500);
        var claimed = Oci.AbsentDigest();
        var location = await _client.StartUploadAsync(_repository);
        using var patch = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(content), ("Content-Range", "0-1499"));
        await OciAssert.StatusAsync(patch, HttpStatusCode.Accepted);

        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(_client.LocationOf(patch), claimed), RegistryClient.Bytes([]));

        await OciAssert.ErrorAsync(put, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        await AssertBlobAbsentAsync(_repository, claimed);
        await AssertBlobAbsentAsync(_repository, Oci.DigestOf(content));
    }

    [Fact]
    public async Task Patch_OutOfOrderChunk_Returns416WithCurrentRange()
    {
        var location = await _client.StartUploadAsync(_repository);
        using var first = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(Oci.RandomBytes(100)), ("Content-Range", "0-99"));
        await OciAssert.StatusAsync(first, HttpStatusCode.Accepted);

        using var skipped = await _client.SendAsync(HttpMethod.Patch, _client.LocationOf(first), RegistryClient.Bytes(Oci.RandomBytes(100)), ("Content-Range", "200-299"));

        await OciAssert.ErrorAsync(skipped, HttpStatusCode.RequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID");
        Assert.Equal("0-99", skipped.Header("Range"));
    }

    [Fact]
    public async Task Patch_FirstChunkNotStartingAtZero_Returns416()
    {
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(Oci.RandomBytes(10)), ("Content-Range", "10-19"));

        await OciAssert.ErrorAsync(response, HttpStatusCode.RequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID");
        Assert.Equal("0-0", response.Header("Range"));
    }

    [Fact]
    public async Task Patch_RetryOfPreviousChunk_Returns416AndLeavesUploadIntact()
    {
        var content = Oci.RandomBytes(200);
        var location = await _client.StartUploadAsync(_repository);
        using var first = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(content[..100]), ("Content-Range", "0-99"));
        await OciAssert.StatusAsync(first, HttpStatusCode.Accepted);

        using var retry = await _client.SendAsync(HttpMethod.Patch, _client.LocationOf(first), RegistryClient.Bytes(content[..100]), ("Content-Range", "0-99"));
        await OciAssert.ErrorAsync(retry, HttpStatusCode.RequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID");

        using var status = await _client.GetAsync(_client.LocationOf(first));
        await OciAssert.StatusAsync(status, HttpStatusCode.NoContent);
        Assert.Equal("0-99", status.Header("Range"));
        using var second = await _client.SendAsync(HttpMethod.Patch, _client.LocationOf(status), RegistryClient.Bytes(content[100..]), ("Content-Range", "100-199"));
        await OciAssert.StatusAsync(second, HttpStatusCode.Accepted);
        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(_client.LocationOf(second), Oci.DigestOf(content)), RegistryClient.Bytes([]));
        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        Assert.Equal(content, await PullBlobAsync(_repository, Oci.DigestOf(content)));
    }

    [Fact]
    public async Task Put_FinalChunkAtWrongOffset_Returns416AndCommitsNothing()
    {
        var content = Oci.RandomBytes(300);
        var location = await _client.StartUploadAsync(_repository);
        using var patch = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(content[..100]), ("Content-Range", "0-99"));
        await OciAssert.StatusAsync(patch, HttpStatusCode.Accepted);

        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(_client.LocationOf(patch), Oci.DigestOf(content)),
            RegistryClient.Bytes(content[200..]), ("Content-Range", "200-299"));

        await OciAssert.ErrorAsync(put, HttpStatusCode.RequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID");
        Assert.Equal("0-99", put.Header("Range"));
        await AssertBlobAbsentAsync(_repository, Oci.DigestOf(content));
    }

    [Fact]
    public async Task Patch_ContentLengthDisagreesWithContentRange_Returns400SizeInvalid()
    {
        // registry:2 answers SIZE_INVALID when Content-Length is not end-start+1.
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(Oci.RandomBytes(5)), ("Content-Range", "0-9"));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "SIZE_INVALID");
    }

    [Fact]
    public async Task Patch_ContentLengthDisagreesWithContentRange_WritesNothing()
    {
        var location = await _client.StartUploadAsync(_repository);
        using (var bad = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(Oci.RandomBytes(5)), ("Content-Range", "0-9")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        using var status = await _client.GetAsync(location);

        await OciAssert.StatusAsync(status, HttpStatusCode.NoContent);
        Assert.Equal("0-0", status.Header("Range"));
    }

    [Fact]
    public async Task Put_FinalChunkContentLengthDisagreesWithContentRange_Returns400SizeInvalid()
    {
        var content = Oci.RandomBytes(20);
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, Oci.DigestOf(content)),
            RegistryClient.Bytes(content), ("Content-Range", "0-99"));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "SIZE_INVALID");
        await AssertBlobAbsentAsync(_repository, Oci.DigestOf(content));
    }

    [Fact]
    public async Task Patch_MalformedContentRange_Returns4xxWithOciError()
    {
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(Oci.RandomBytes(10)), ("Content-Range", "banana"));

        Assert.True((int)response.StatusCode is >= 400 and < 500, $"got {(int)response.StatusCode}");
        OciAssert.HasApiVersion(response);
        await OciAssert.ErrorBodyAsync(response);
    }

    // ---- Status (end-13) and cancel ----

    [Fact]
    public async Task GetStatus_NewSession_Returns204WithZeroRange()
    {
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.GetAsync(location);

        await OciAssert.StatusAsync(response, HttpStatusCode.NoContent);
        Assert.Equal("0-0", response.Header("Range"));
    }

    [Fact]
    public async Task GetStatus_AfterChunk_Returns204WithRangeLocationAndUuid()
    {
        var location = await _client.StartUploadAsync(_repository);
        using var patch = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(Oci.RandomBytes(512)), ("Content-Range", "0-511"));
        await OciAssert.StatusAsync(patch, HttpStatusCode.Accepted);
        var uuid = patch.Header("Docker-Upload-UUID");

        using var response = await _client.GetAsync(_client.LocationOf(patch));

        await OciAssert.StatusAsync(response, HttpStatusCode.NoContent);
        Assert.Equal("0-511", response.Header("Range"));
        Assert.Equal(uuid, response.Header("Docker-Upload-UUID"));
        Assert.StartsWith($"/v2/{_repository}/blobs/uploads/{uuid}", _client.LocationOf(response).AbsolutePath, StringComparison.Ordinal);
        OciAssert.HasApiVersion(response);
    }

    [Fact]
    public async Task GetStatus_LocationItReturns_ContinuesTheUpload()
    {
        var content = Oci.RandomBytes(300);
        var location = await _client.StartUploadAsync(_repository);
        using var patch = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(content[..100]), ("Content-Range", "0-99"));
        await OciAssert.StatusAsync(patch, HttpStatusCode.Accepted);
        using var status = await _client.GetAsync(_client.LocationOf(patch));
        await OciAssert.StatusAsync(status, HttpStatusCode.NoContent);

        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(_client.LocationOf(status), Oci.DigestOf(content)),
            RegistryClient.Bytes(content[100..]), ("Content-Range", "100-299"));

        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        Assert.Equal(content, await PullBlobAsync(_repository, Oci.DigestOf(content)));
    }

    [Fact]
    public async Task Cancel_Returns204()
    {
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.SendAsync(HttpMethod.Delete, location);

        await OciAssert.StatusAsync(response, HttpStatusCode.NoContent);
        OciAssert.HasApiVersion(response);
    }

    [Fact]
    public async Task Cancel_ThenGetStatus_Returns404BlobUploadUnknown()
    {
        var location = await _client.StartUploadAsync(_repository);
        using (var cancel = await _client.SendAsync(HttpMethod.Delete, location))
        {
            await OciAssert.StatusAsync(cancel, HttpStatusCode.NoContent);
        }

        using var response = await _client.GetAsync(location);

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task Cancel_ThenPatch_Returns404BlobUploadUnknown()
    {
        var location = await _client.StartUploadAsync(_repository);
        using (var cancel = await _client.SendAsync(HttpMethod.Delete, location))
        {
            await OciAssert.StatusAsync(cancel, HttpStatusCode.NoContent);
        }

        using var response = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(Oci.RandomBytes(10)), ("Content-Range", "0-9"));

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task Cancel_ThenPut_Returns404BlobUploadUnknownAndCommitsNothing()
    {
        var content = Oci.RandomBytes(10);
        var location = await _client.StartUploadAsync(_repository);
        using (var cancel = await _client.SendAsync(HttpMethod.Delete, location))
        {
            await OciAssert.StatusAsync(cancel, HttpStatusCode.NoContent);
        }

        using var response = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, Oci.DigestOf(content)), RegistryClient.Bytes(content));

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        await AssertBlobAbsentAsync(_repository, Oci.DigestOf(content));
    }

    [Fact]
    public async Task Cancel_Twice_SecondReturns404BlobUploadUnknown()
    {
        var location = await _client.StartUploadAsync(_repository);
        using (var cancel = await _client.SendAsync(HttpMethod.Delete, location))
        {
            await OciAssert.StatusAsync(cancel, HttpStatusCode.NoContent);
        }

        using var response = await _client.SendAsync(HttpMethod.Delete, location);

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task HeadStatus_ActiveUpload_Returns204WithRange()
    {
        // registry:2 routes HEAD on an upload URL to the same status handler as GET.
        var location = await _client.StartUploadAsync(_repository);
        using var patch = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(Oci.RandomBytes(64)), ("Content-Range", "0-63"));
        await OciAssert.StatusAsync(patch, HttpStatusCode.Accepted);

        using var response = await _client.SendAsync(HttpMethod.Head, _client.LocationOf(patch));

        await OciAssert.StatusAsync(response, HttpStatusCode.NoContent);
        Assert.Equal("0-63", response.Header("Range"));
    }

    [Fact]
    public async Task SinglePost_StreamedBodyWithoutContentLength_Returns201()
    {
        var content = Oci.RandomBytes(150_000);
        var digest = Oci.DigestOf(content);

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{_repository}/blobs/uploads/?digest={digest}", RegistryClient.Streamed(content));

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal(content, await PullBlobAsync(_repository, digest));
    }

    [Fact]
    public async Task Put_StreamedBodyWithoutContentLength_Returns201()
    {
        var content = Oci.RandomBytes(150_000);
        var digest = Oci.DigestOf(content);
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, digest), RegistryClient.Streamed(content));

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal(content, await PullBlobAsync(_repository, digest));
    }

    [Fact]
    public async Task Put_ContentRangeInBytesUnitForm_IsAccepted()
    {
        var content = Oci.RandomBytes(100);
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(content), ("Content-Range", "bytes 0-99/100"));

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
        Assert.Equal("0-99", response.Header("Range"));
    }

    // ---- Unknown and forged sessions ----

    [Theory]
    [InlineData("GET")]
    [InlineData("PATCH")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task UnknownUploadId_Returns404BlobUploadUnknown(string method)
    {
        var uri = $"/v2/{_repository}/blobs/uploads/{Guid.NewGuid()}" + (method == "PUT" ? $"?digest={Oci.AbsentDigest()}" : "");

        using var response = await _client.SendAsync(new HttpMethod(method), uri, method is "PATCH" or "PUT" ? RegistryClient.Bytes(Oci.RandomBytes(4)) : null);

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Theory]
    [InlineData("not-a-uuid")]
    [InlineData("00000000000000000000000000000000000000000000000000")]
    public async Task MalformedUploadId_Returns404BlobUploadUnknown(string id)
    {
        using var response = await _client.GetAsync($"/v2/{_repository}/blobs/uploads/{id}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task UploadId_FromAnotherRepository_Returns404BlobUploadUnknown()
    {
        var location = await _client.StartUploadAsync(_repository);
        var uuid = location.AbsolutePath[(location.AbsolutePath.LastIndexOf('/') + 1)..];

        using var response = await _client.GetAsync($"/v2/{Oci.UniqueRepository("uploads")}/blobs/uploads/{uuid}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task Patch_WithForgedState_Returns400BlobUploadInvalid()
    {
        var location = await _client.StartUploadAsync(_repository);
        var forged = new UriBuilder(location) { Query = "_state=" + Uri.EscapeDataString("eyJOYW1lIjoiZXZpbCJ9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") }.Uri;

        using var response = await _client.SendAsync(HttpMethod.Patch, forged, RegistryClient.Bytes(Oci.RandomBytes(10)), ("Content-Range", "0-9"));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "BLOB_UPLOAD_INVALID");
    }

    [Fact]
    public async Task Put_WithTamperedState_Returns400BlobUploadInvalidAndCommitsNothing()
    {
        var content = Oci.RandomBytes(10);
        var location = await _client.StartUploadAsync(_repository);
        var state = Uri.UnescapeDataString(location.Query.TrimStart('?').Split('&').Single(p => p.StartsWith("_state=", StringComparison.Ordinal))["_state=".Length..]);
        var tampered = state[..^2] + (state[^2] == 'A' ? "BB" : "AA");
        var uri = new UriBuilder(location) { Query = "_state=" + Uri.EscapeDataString(tampered) }.Uri;

        using var response = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(uri, Oci.DigestOf(content)), RegistryClient.Bytes(content));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "BLOB_UPLOAD_INVALID");
        await AssertBlobAbsentAsync(_repository, Oci.DigestOf(content));
    }

    [Fact]
    public async Task Patch_WithStateOfAnotherUpload_Returns400BlobUploadInvalid()
    {
        var first = await _client.StartUploadAsync(_repository);
        var second = await _client.StartUploadAsync(_repository);
        var swapped = new UriBuilder(first) { Query = second.Query.TrimStart('?') }.Uri;

        using var response = await _client.SendAsync(HttpMethod.Patch, swapped, RegistryClient.Bytes(Oci.RandomBytes(10)), ("Content-Range", "0-9"));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "BLOB_UPLOAD_INVALID");
    }

    [Fact]
    public async Task Patch_WithGarbageState_Returns400BlobUploadInvalid()
    {
        var location = await _client.StartUploadAsync(_repository);
        var uri = new UriBuilder(location) { Query = "_state=" + Uri.EscapeDataString("@@@.###") }.Uri;

        using var response = await _client.SendAsync(HttpMethod.Patch, uri, RegistryClient.Bytes(Oci.RandomBytes(10)), ("Content-Range", "0-9"));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "BLOB_UPLOAD_INVALID");
    }
}
