using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>Spec "Determining Support" (end-1) and the legacy API version header.</summary>
public sealed class VersionCheckTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;

    [Fact]
    public async Task GetV2_Returns200()
    {
        using var response = await _client.GetAsync("/v2/");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
    }

    [Fact]
    public async Task GetV2_HasApiVersionHeader()
    {
        using var response = await _client.GetAsync("/v2/");

        OciAssert.HasApiVersion(response);
    }

    [Fact]
    public async Task GetV2_WithoutTrailingSlash_Returns200()
    {
        using var response = await _client.GetAsync("/v2");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        OciAssert.HasApiVersion(response);
    }

    [Fact]
    public async Task HeadV2_Returns200WithApiVersionHeader()
    {
        using var response = await _client.SendAsync(HttpMethod.Head, "/v2/");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        OciAssert.HasApiVersion(response);
    }

    [Fact]
    public async Task GetV2_BodyIsEmptyJsonObject()
    {
        using var response = await _client.GetAsync("/v2/");

        Assert.Equal("{}", await response.Content.ReadAsStringAsync());
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task ErrorResponse_NotFoundManifest_HasApiVersionHeader()
    {
        using var response = await _client.GetAsync($"/v2/{Oci.UniqueRepository("version")}/manifests/latest");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Fact]
    public async Task ErrorResponse_InvalidName_HasApiVersionHeader()
    {
        using var response = await _client.GetAsync("/v2/UPPER/manifests/latest");

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "NAME_INVALID");
    }

    [Fact]
    public async Task ErrorResponse_MethodNotAllowed_HasApiVersionHeader()
    {
        using var response = await _client.SendAsync(HttpMethod.Delete, "/v2/");

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
    }

    [Fact]
    public async Task SuccessResponses_OfEveryResource_HaveApiVersionHeader()
    {
        var repository = Oci.UniqueRepository("version");
        var image = await _client.PushImageAsync(repository, "v1");
        var location = await _client.StartUploadAsync(repository);

        string[] paths =
        [
            "/v2/_catalog",
            $"/v2/{repository}/tags/list",
            $"/v2/{repository}/manifests/v1",
            $"/v2/{repository}/blobs/{image.Layer.Digest}",
            $"/v2/{repository}/referrers/{image.Manifest.Digest}",
            location.PathAndQuery,
        ];
        foreach (var path in paths)
        {
            using var response = await _client.GetAsync(path);
            Assert.True(response.IsSuccessStatusCode, $"GET {path} answered {(int)response.StatusCode}");
            Assert.True(response.Header(OciAssert.ApiVersionHeader) == OciAssert.ApiVersion, $"GET {path} lacks the API version header");
        }
    }
}
