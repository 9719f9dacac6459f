using System.Net;
using System.Net.Http.Headers;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>Spec "Pulling blobs" (end-2), "Checking if content exists", Range requests (RFC 9110) and "Deleting Blobs" (end-10).</summary>
public sealed class BlobPullTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;
    private readonly string _repository = Oci.UniqueRepository("pull");

    private async Task<(OciDescriptor Blob, byte[] Content)> PushAsync(int size = 1000)
    {
        var content = Oci.RandomBytes(size);
        return (await _client.PushBlobAsync(_repository, content), content);
    }

    private Task<HttpResponseMessage> GetRangeAsync(string digest, string range) =>
        _client.SendAsync(HttpMethod.Get, $"/v2/{_repository}/blobs/{digest}", null, ("Range", range));

    [Fact]
    public async Task Get_ExistingBlob_Returns200WithContent()
    {
        var (blob, content) = await PushAsync();

        using var response = await _client.GetAsync($"/v2/{_repository}/blobs/{blob.Digest}");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(content, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_ExistingBlob_HasContentLengthDigestAndETag()
    {
        var (blob, content) = await PushAsync();

        using var response = await _client.GetAsync($"/v2/{_repository}/blobs/{blob.Digest}");

        Assert.Equal(content.Length, response.Content.Headers.ContentLength);
        Assert.Equal(blob.Digest, response.Header("Docker-Content-Digest"));
        Assert.Equal($"\"{blob.Digest}\"", response.Headers.ETag?.ToString());
        OciAssert.HasApiVersion(response);
    }

    [Fact]
    public async Task Get_EmptyBlob_Returns200WithZeroLength()
    {
        var blob = await _client.PushBlobAsync(_repository, []);

        using var response = await _client.GetAsync($"/v2/{_repository}/blobs/{blob.Digest}");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(0, response.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task Head_ExistingBlob_Returns200WithHeadersAndNoBody()
    {
        var (blob, content) = await PushAsync();

        using var response = await _client.SendAsync(HttpMethod.Head, $"/v2/{_repository}/blobs/{blob.Digest}");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(content.Length, response.Content.Headers.ContentLength);
        Assert.Equal(blob.Digest, response.Header("Docker-Content-Digest"));
        Assert.Equal($"\"{blob.Digest}\"", response.Headers.ETag?.ToString());
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_UnknownBlob_Returns404BlobUnknown()
    {
        await PushAsync();

        using var response = await _client.GetAsync($"/v2/{_repository}/blobs/{Oci.AbsentDigest()}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Head_UnknownBlob_Returns404WithoutBody()
    {
        await PushAsync();

        using var response = await _client.SendAsync(HttpMethod.Head, $"/v2/{_repository}/blobs/{Oci.AbsentDigest()}");

        await OciAssert.StatusAsync(response, HttpStatusCode.NotFound);
        OciAssert.HasApiVersion(response);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_BlobOfAnotherRepository_Returns404BlobUnknown()
    {
        var (blob, _) = await PushAsync();
        var other = Oci.UniqueRepository("pull");
        await _client.PushBlobAsync(other, Oci.RandomBytes(5));

        using var response = await _client.GetAsync($"/v2/{other}/blobs/{blob.Digest}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Get_IfNoneMatchCurrentETag_Returns304()
    {
        var (blob, _) = await PushAsync();

        using var response = await _client.SendAsync(HttpMethod.Get, $"/v2/{_repository}/blobs/{blob.Digest}", null, ("If-None-Match", $"\"{blob.Digest}\""));

        await OciAssert.StatusAsync(response, HttpStatusCode.NotModified);
    }

    // ---- Range ----

    [Fact]
    public async Task Get_WithRange_Returns206WithContentRangeAndSlice()
    {
        var (blob, content) = await PushAsync(1000);

        using var response = await GetRangeAsync(blob.Digest, "bytes=100-199");

        await OciAssert.StatusAsync(response, HttpStatusCode.PartialContent);
        Assert.Equal("bytes 100-199/1000", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(100, response.Content.Headers.ContentLength);
        Assert.Equal(content[100..200], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_WithRangeFromZero_Returns206()
    {
        var (blob, content) = await PushAsync(1000);

        using var response = await GetRangeAsync(blob.Digest, "bytes=0-0");

        await OciAssert.StatusAsync(response, HttpStatusCode.PartialContent);
        Assert.Equal("bytes 0-0/1000", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(content[..1], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_WithSuffixRange_ReturnsLastBytes()
    {
        var (blob, content) = await PushAsync(1000);

        using var response = await GetRangeAsync(blob.Digest, "bytes=-100");

        await OciAssert.StatusAsync(response, HttpStatusCode.PartialContent);
        Assert.Equal("bytes 900-999/1000", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(content[900..], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_WithSuffixRangeLargerThanBlob_ReturnsWholeBlobAs206()
    {
        var (blob, content) = await PushAsync(100);

        using var response = await GetRangeAsync(blob.Digest, "bytes=-5000");

        await OciAssert.StatusAsync(response, HttpStatusCode.PartialContent);
        Assert.Equal("bytes 0-99/100", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(content, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_WithOpenEndedRange_ReturnsRest()
    {
        var (blob, content) = await PushAsync(1000);

        using var response = await GetRangeAsync(blob.Digest, "bytes=250-");

        await OciAssert.StatusAsync(response, HttpStatusCode.PartialContent);
        Assert.Equal("bytes 250-999/1000", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(content[250..], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_WithRangeEndBeyondSize_IsClamped()
    {
        var (blob, content) = await PushAsync(1000);

        using var response = await GetRangeAsync(blob.Digest, "bytes=900-5000");

        await OciAssert.StatusAsync(response, HttpStatusCode.PartialContent);
        Assert.Equal("bytes 900-999/1000", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(content[900..], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_WithUnsatisfiableRange_Returns416WithContentRangeStar()
    {
        var (blob, _) = await PushAsync(1000);

        using var response = await GetRangeAsync(blob.Digest, "bytes=1000-");

        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, response.StatusCode);
        Assert.Equal("bytes */1000", response.Content.Headers.ContentRange?.ToString());
        OciAssert.HasApiVersion(response);
    }

    [Fact]
    public async Task Get_WithRangeResumingADownload_ReassemblesTheBlob()
    {
        // Spec "Resumable Pull": keep the first part, fetch the rest with Range.
        var (blob, content) = await PushAsync(10_000);
        using var first = await GetRangeAsync(blob.Digest, "bytes=0-4095");
        using var rest = await GetRangeAsync(blob.Digest, "bytes=4096-");

        var reassembled = (await first.Content.ReadAsByteArrayAsync()).Concat(await rest.Content.ReadAsByteArrayAsync()).ToArray();

        Assert.Equal(content, reassembled);
    }

    [Fact]
    public async Task Get_AdvertisesAcceptRangesBytes()
    {
        var (blob, _) = await PushAsync();

        using var response = await _client.GetAsync($"/v2/{_repository}/blobs/{blob.Digest}");

        Assert.Contains("bytes", response.Headers.AcceptRanges);
    }

    [Fact]
    public async Task Get_ManifestDigestThroughBlobsEndpoint_ReturnsManifestBytes()
    {
        // registry:2 serves a manifest's bytes from the blobs endpoint too.
        var image = await _client.PushImageAsync(_repository);

        using var response = await _client.GetAsync($"/v2/{_repository}/blobs/{image.Manifest.Digest}");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(image.ManifestBytes, await response.Content.ReadAsByteArrayAsync());
    }

    // ---- Delete ----

    [Fact]
    public async Task Delete_ExistingBlob_Returns202()
    {
        var (blob, _) = await PushAsync();

        using var response = await _client.DeleteAsync($"/v2/{_repository}/blobs/{blob.Digest}");

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
        OciAssert.HasApiVersion(response);
    }

    [Fact]
    public async Task Delete_ThenGet_Returns404BlobUnknown()
    {
        var (blob, _) = await PushAsync();
        using (var delete = await _client.DeleteAsync($"/v2/{_repository}/blobs/{blob.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        using var get = await _client.GetAsync($"/v2/{_repository}/blobs/{blob.Digest}");
        using var head = await _client.SendAsync(HttpMethod.Head, $"/v2/{_repository}/blobs/{blob.Digest}");

        await OciAssert.ErrorAsync(get, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        await OciAssert.StatusAsync(head, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Delete_Twice_SecondReturns404BlobUnknown()
    {
        var (blob, _) = await PushAsync();
        using (var delete = await _client.DeleteAsync($"/v2/{_repository}/blobs/{blob.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        using var again = await _client.DeleteAsync($"/v2/{_repository}/blobs/{blob.Digest}");

        await OciAssert.ErrorAsync(again, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Delete_UnknownBlob_Returns404BlobUnknown()
    {
        await PushAsync();

        using var response = await _client.DeleteAsync($"/v2/{_repository}/blobs/{Oci.AbsentDigest()}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Delete_InOneRepository_LeavesMountedCopyInAnother()
    {
        var (blob, content) = await PushAsync();
        var other = Oci.UniqueRepository("pull");
        using (var mount = await _client.SendAsync(HttpMethod.Post, $"/v2/{other}/blobs/uploads/?mount={blob.Digest}&from={_repository}"))
        {
            await OciAssert.StatusAsync(mount, HttpStatusCode.Created);
        }

        using (var delete = await _client.DeleteAsync($"/v2/{_repository}/blobs/{blob.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        using var response = await _client.GetAsync($"/v2/{other}/blobs/{blob.Digest}");
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(content, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Delete_ThenPushAgain_BlobIsBack()
    {
        var (blob, content) = await PushAsync();
        using (var delete = await _client.DeleteAsync($"/v2/{_repository}/blobs/{blob.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        await _client.PushBlobAsync(_repository, content);

        using var response = await _client.GetAsync($"/v2/{_repository}/blobs/{blob.Digest}");
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
    }
}
