using System.Net;
using System.Text.Json;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>Spec "Deleting Manifests" and "Deleting tags" (end-9) with deletion enabled.</summary>
public sealed class ManifestDeleteTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;
    private readonly string _repository = Oci.UniqueRepository("delete");

    private Task<HttpResponseMessage> GetAsync(string reference) =>
        _client.SendAsync(HttpMethod.Get, $"/v2/{_repository}/manifests/{reference}", null, ("Accept", ManifestKinds.AcceptAll));

    private async Task<IReadOnlyList<string>> TagsAsync()
    {
        using var response = await _client.GetAsync($"/v2/{_repository}/tags/list");
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return [.. document.RootElement.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!)];
    }

    [Fact]
    public async Task DeleteByDigest_Returns202()
    {
        var image = await _client.PushImageAsync(_repository, "v1");

        using var response = await _client.DeleteAsync($"/v2/{_repository}/manifests/{image.Manifest.Digest}");

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
        OciAssert.HasApiVersion(response);
    }

    [Fact]
    public async Task DeleteByDigest_ThenGetByDigest_Returns404ManifestUnknown()
    {
        var image = await _client.PushImageAsync(_repository, "v1");
        using (var delete = await _client.DeleteAsync($"/v2/{_repository}/manifests/{image.Manifest.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        using var response = await GetAsync(image.Manifest.Digest);

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task DeleteByDigest_RemovesEveryTagPointingAtIt()
    {
        var image = await _client.PushImageAsync(_repository, "v1");
        await _client.PushManifestAsync(_repository, "also", Oci.ImageManifest, image.ManifestBytes);
        var other = await _client.PushImageAsync(_repository, "keep");
        using (var delete = await _client.DeleteAsync($"/v2/{_repository}/manifests/{image.Manifest.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        using var byTag = await GetAsync("v1");
        using var bySecondTag = await GetAsync("also");

        await OciAssert.ErrorAsync(byTag, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        await OciAssert.ErrorAsync(bySecondTag, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        Assert.Equal(["keep"], await TagsAsync());
        using var kept = await GetAsync(other.Manifest.Digest);
        await OciAssert.StatusAsync(kept, HttpStatusCode.OK);
    }

    [Fact]
    public async Task DeleteByDigest_Head_Returns404()
    {
        var image = await _client.PushImageAsync(_repository, "v1");
        using (var delete = await _client.DeleteAsync($"/v2/{_repository}/manifests/{image.Manifest.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        using var response = await _client.SendAsync(HttpMethod.Head, $"/v2/{_repository}/manifests/{image.Manifest.Digest}");

        await OciAssert.StatusAsync(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task DeleteByDigest_Twice_SecondReturns404ManifestUnknown()
    {
        var image = await _client.PushImageAsync(_repository, "v1");
        using (var delete = await _client.DeleteAsync($"/v2/{_repository}/manifests/{image.Manifest.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        using var again = await _client.DeleteAsync($"/v2/{_repository}/manifests/{image.Manifest.Digest}");

        await OciAssert.ErrorAsync(again, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task DeleteByDigest_UnknownRepository_Returns404()
    {
        using var response = await _client.DeleteAsync($"/v2/{Oci.UniqueRepository("delete")}/manifests/{Oci.AbsentDigest()}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Fact]
    public async Task DeleteByDigest_ThenPushAgain_IsPullable()
    {
        var image = await _client.PushImageAsync(_repository, "v1");
        using (var delete = await _client.DeleteAsync($"/v2/{_repository}/manifests/{image.Manifest.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        await _client.PushManifestAsync(_repository, "v1", Oci.ImageManifest, image.ManifestBytes);

        using var response = await GetAsync("v1");
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(image.ManifestBytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task DeleteByDigestOfALayer_Returns404ManifestUnknownAndKeepsTheBlob()
    {
        var image = await _client.PushImageAsync(_repository, "v1");

        using var response = await _client.DeleteAsync($"/v2/{_repository}/manifests/{image.Layer.Digest}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using var blob = await _client.GetAsync($"/v2/{_repository}/blobs/{image.Layer.Digest}");
        await OciAssert.StatusAsync(blob, HttpStatusCode.OK);
    }

    [Fact]
    public async Task DeleteBlobOfAManifest_KeepsTheManifestPullable()
    {
        var image = await _client.PushImageAsync(_repository, "v1");
        (await _client.DeleteAsync($"/v2/{_repository}/blobs/{image.Manifest.Digest}")).Dispose();

        using var response = await GetAsync("v1");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(image.ManifestBytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task DeleteByTag_Returns202AndRemovesOnlyTheTag()
    {
        var image = await _client.PushImageAsync(_repository, "v1");
        await _client.PushManifestAsync(_repository, "v2", Oci.ImageManifest, image.ManifestBytes);

        using var response = await _client.DeleteAsync($"/v2/{_repository}/manifests/v1");

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
        using var byTag = await GetAsync("v1");
        await OciAssert.ErrorAsync(byTag, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using var otherTag = await GetAsync("v2");
        await OciAssert.StatusAsync(otherTag, HttpStatusCode.OK);
        using var byDigest = await GetAsync(image.Manifest.Digest);
        await OciAssert.StatusAsync(byDigest, HttpStatusCode.OK);
        Assert.Equal(["v2"], await TagsAsync());
    }

    [Fact]
    public async Task DeleteByTag_UnknownTag_Returns404ManifestUnknown()
    {
        await _client.PushImageAsync(_repository, "v1");

        using var response = await _client.DeleteAsync($"/v2/{_repository}/manifests/nope");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task DeleteIndex_LeavesItsChildren()
    {
        var (bytes, mediaType) = await ManifestKinds.PrepareAsync(_client, _repository, ManifestKinds.OciIndex);
        var index = await _client.PushManifestAsync(_repository, "multi", mediaType, bytes);
        using var document = JsonDocument.Parse(bytes);
        var child = document.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString()!;

        using (var delete = await _client.DeleteAsync($"/v2/{_repository}/manifests/{index.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        using var response = await GetAsync(child);
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
    }
}
