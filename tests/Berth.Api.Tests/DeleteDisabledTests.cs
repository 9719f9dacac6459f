using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// <c>storage.delete.enabled: false</c> (registry:2's default). Spec: "If deletion is disabled, the
/// registry MUST respond with either a 400 Bad Request or a 405 Method Not Allowed"; registry:2 answers 405 UNSUPPORTED.
/// </summary>
public sealed class DeleteDisabledTests(DeleteDisabledRegistryFixture registry) : IClassFixture<DeleteDisabledRegistryFixture>
{
    private readonly HttpClient _client = registry.Client;
    private readonly string _repository = Oci.UniqueRepository("nodelete");

    [Fact]
    public async Task DeleteManifestByDigest_Returns405Unsupported()
    {
        var image = await _client.PushImageAsync(_repository, "v1");

        using var response = await _client.DeleteAsync($"/v2/{_repository}/manifests/{image.Manifest.Digest}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
    }

    [Fact]
    public async Task DeleteManifestByTag_Returns405Unsupported()
    {
        await _client.PushImageAsync(_repository, "v1");

        using var response = await _client.DeleteAsync($"/v2/{_repository}/manifests/v1");

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
    }

    [Fact]
    public async Task DeleteBlob_Returns405Unsupported()
    {
        var image = await _client.PushImageAsync(_repository, "v1");

        using var response = await _client.DeleteAsync($"/v2/{_repository}/blobs/{image.Layer.Digest}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
    }

    [Fact]
    public async Task RefusedDeletes_LeaveContentInPlace()
    {
        var image = await _client.PushImageAsync(_repository, "v1");
        (await _client.DeleteAsync($"/v2/{_repository}/manifests/{image.Manifest.Digest}")).Dispose();
        (await _client.DeleteAsync($"/v2/{_repository}/manifests/v1")).Dispose();
        (await _client.DeleteAsync($"/v2/{_repository}/blobs/{image.Layer.Digest}")).Dispose();

        using var manifest = await _client.GetAsync($"/v2/{_repository}/manifests/v1");
        using var blob = await _client.GetAsync($"/v2/{_repository}/blobs/{image.Layer.Digest}");

        await OciAssert.StatusAsync(manifest, HttpStatusCode.OK);
        await OciAssert.StatusAsync(blob, HttpStatusCode.OK);
        Assert.Equal(image.LayerBytes, await blob.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task CancelUpload_IsStillAllowed()
    {
        // Cancelling an upload is not content deletion; registry:2 allows it with delete disabled.
        var location = await _client.StartUploadAsync(_repository);

        using var response = await _client.SendAsync(HttpMethod.Delete, location);

        await OciAssert.StatusAsync(response, HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Pushes_StillWork()
    {
        var image = await _client.PushImageAsync(_repository, "v2");

        using var response = await _client.GetAsync($"/v2/{_repository}/manifests/v2");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(image.ManifestBytes, await response.Content.ReadAsByteArrayAsync());
    }
}
