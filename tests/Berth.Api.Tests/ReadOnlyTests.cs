using System.Net;
using System.Text.Json;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// <c>storage.maintenance.readonly.enabled: true</c>: registry:2 answers every write with 405
/// UNSUPPORTED and keeps serving reads. The storage was filled by a writable Berth beforehand.
/// </summary>
public sealed class ReadOnlyTests(ReadOnlyRegistryFixture registry) : IClassFixture<ReadOnlyRegistryFixture>
{
    private const string Repository = ReadOnlyRegistryFixture.Repository;
    private readonly HttpClient _client = registry.Client;
    private readonly PushedImage _image = registry.Image;

    // ---- Writes are refused ----

    [Fact]
    public async Task StartUpload_Returns405Unsupported()
    {
        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{Repository}/blobs/uploads/", RegistryClient.Bytes([]));

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
    }

    [Fact]
    public async Task MonolithicUpload_Returns405UnsupportedAndStoresNothing()
    {
        var content = Oci.RandomBytes(100);

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{Repository}/blobs/uploads/?digest={Oci.DigestOf(content)}", RegistryClient.Bytes(content));

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
        using var head = await _client.SendAsync(HttpMethod.Head, $"/v2/{Repository}/blobs/{Oci.DigestOf(content)}");
        await OciAssert.StatusAsync(head, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Mount_Returns405Unsupported()
    {
        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/readonly/other/blobs/uploads/?mount={_image.Layer.Digest}&from={Repository}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
    }

    [Fact]
    public async Task PatchUpload_Returns405Unsupported()
    {
        using var response = await _client.SendAsync(HttpMethod.Patch, $"/v2/{Repository}/blobs/uploads/{Guid.NewGuid()}",
            RegistryClient.Bytes(Oci.RandomBytes(10)), ("Content-Range", "0-9"));

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
    }

    [Fact]
    public async Task PutUpload_Returns405Unsupported()
    {
        var content = Oci.RandomBytes(10);

        using var response = await _client.SendAsync(HttpMethod.Put, $"/v2/{Repository}/blobs/uploads/{Guid.NewGuid()}?digest={Oci.DigestOf(content)}",
            RegistryClient.Bytes(content));

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
    }

    [Fact]
    public async Task CancelUpload_Returns405Unsupported()
    {
        using var response = await _client.SendAsync(HttpMethod.Delete, $"/v2/{Repository}/blobs/uploads/{Guid.NewGuid()}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
    }

    [Fact]
    public async Task PutManifest_Returns405Unsupported()
    {
        using var response = await _client.PutManifestAsync(Repository, "v2", Oci.ImageManifest, _image.ManifestBytes);

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
        using var tag = await _client.GetAsync($"/v2/{Repository}/manifests/v2");
        await OciAssert.StatusAsync(tag, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task DeleteManifest_Returns405Unsupported()
    {
        using var response = await _client.DeleteAsync($"/v2/{Repository}/manifests/{_image.Manifest.Digest}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
    }

    [Fact]
    public async Task DeleteTag_Returns405Unsupported()
    {
        using var response = await _client.DeleteAsync($"/v2/{Repository}/manifests/{ReadOnlyRegistryFixture.Tag}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
    }

    [Fact]
    public async Task DeleteBlob_Returns405Unsupported()
    {
        using var response = await _client.DeleteAsync($"/v2/{Repository}/blobs/{_image.Layer.Digest}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
    }

    // ---- Reads still work ----

    [Fact]
    public async Task VersionCheck_Returns200()
    {
        using var response = await _client.GetAsync("/v2/");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
    }

    [Fact]
    public async Task GetManifestByTag_Returns200()
    {
        using var response = await _client.GetAsync($"/v2/{Repository}/manifests/{ReadOnlyRegistryFixture.Tag}");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(_image.ManifestBytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task HeadManifestByDigest_Returns200()
    {
        using var response = await _client.SendAsync(HttpMethod.Head, $"/v2/{Repository}/manifests/{_image.Manifest.Digest}");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
    }

    [Fact]
    public async Task GetBlob_Returns200()
    {
        using var response = await _client.GetAsync($"/v2/{Repository}/blobs/{_image.Layer.Digest}");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(_image.LayerBytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetBlobRange_Returns206()
    {
        using var response = await _client.SendAsync(HttpMethod.Get, $"/v2/{Repository}/blobs/{_image.Layer.Digest}", null, ("Range", "bytes=0-9"));

        await OciAssert.StatusAsync(response, HttpStatusCode.PartialContent);
        Assert.Equal(_image.LayerBytes[..10], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task TagsList_Returns200()
    {
        using var response = await _client.GetAsync($"/v2/{Repository}/tags/list");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal([ReadOnlyRegistryFixture.Tag], document.RootElement.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public async Task Catalog_Returns200()
    {
        using var response = await _client.GetAsync("/v2/_catalog");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(Repository, document.RootElement.GetProperty("repositories").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task Referrers_Returns200()
    {
        using var response = await _client.GetAsync($"/v2/{Repository}/referrers/{_image.Manifest.Digest}");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
    }

    [Fact]
    public async Task UploadStatus_ForUnknownUpload_Returns404BlobUploadUnknown()
    {
        using var response = await _client.GetAsync($"/v2/{Repository}/blobs/uploads/{Guid.NewGuid()}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }
}
