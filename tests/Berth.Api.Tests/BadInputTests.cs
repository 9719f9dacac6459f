using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// Hostile and malformed requests: invalid repository names, malformed digests, unknown endpoints
/// and wrong methods. Every one gets a 4xx with an OCI error body, never a 500.
/// </summary>
public sealed class BadInputTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;
    private readonly Uri _baseAddress = registry.Server.BaseAddress;

    public static TheoryData<string> InvalidNames =>
    [
        "UPPER",
        "Library/ubuntu",
        "library/Ubuntu",
        "foo..bar",
        "foo/..bar",
        "..foo",
        "foo/bar..",
        "-foo",
        "foo-",
        "foo_",
        "_foo",
        "foo/_bar",
        "foo___bar",
        "foo.-bar",
        "foo/.hidden",
        "foo%2Fbar",
        "foo%5Cbar",
        "a%20b",
        "caf%C3%A9",
        new string('a', 256),
        string.Join('/', Enumerable.Repeat("abcdefghij", 25)) + "/abcdef",
    ];

    // ---- Repository names ----

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public async Task GetManifest_InvalidName_Returns400NameInvalid(string name)
    {
        using var response = await _client.GetAsync($"/v2/{name}/manifests/latest");

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "NAME_INVALID");
    }

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public async Task StartUpload_InvalidName_Returns400NameInvalid(string name)
    {
        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{name}/blobs/uploads/", RegistryClient.Bytes([]));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "NAME_INVALID");
    }

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public async Task PutManifest_InvalidName_Returns400NameInvalid(string name)
    {
        using var response = await _client.PutManifestAsync(name, "latest", Oci.ImageManifest, Oci.Manifest(Oci.EmptyDescriptor, []));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "NAME_INVALID");
    }

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public async Task TagsList_InvalidName_Returns400NameInvalid(string name)
    {
        using var response = await _client.GetAsync($"/v2/{name}/tags/list");

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "NAME_INVALID");
    }

    [Theory]
    [InlineData("foo//bar")]
    [InlineData("foo/")]
    [InlineData("foo///bar/baz")]
    public async Task EmptyPathComponent_Returns400NameInvalid(string name)
    {
        using var response = await _client.GetAsync($"/v2/{name}/manifests/latest");

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "NAME_INVALID");
    }

    [Fact]
    public async Task NameOf255Characters_IsValid()
    {
        var name = new string('a', 200) + "/" + new string('b', 54);
        Assert.Equal(255, name.Length);

        var image = await _client.PushImageAsync(name, "v1");

        using var response = await _client.GetAsync($"/v2/{name}/manifests/v1");
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(image.ManifestBytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task NameOf256Characters_Returns400NameInvalidOnPush()
    {
        var name = new string('a', 200) + "/" + new string('b', 55);
        Assert.Equal(256, name.Length);

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{name}/blobs/uploads/", RegistryClient.Bytes([]));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "NAME_INVALID");
    }

    [Theory]
    [InlineData("a")]
    [InlineData("a/b/c/d/e/f")]
    [InlineData("foo.bar")]
    [InlineData("foo_bar")]
    [InlineData("foo__bar")]
    [InlineData("foo---bar")]
    [InlineData("0123/456")]
    public async Task GrammarEdgeCaseNames_AreValid(string name)
    {
        await _client.PushImageAsync(name, "v1");

        using var response = await _client.GetAsync($"/v2/{name}/tags/list");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
    }

    // Dot segments and encoded dots must be sent raw: HttpClient would normalise them away.

    [Theory]
    [InlineData("/v2/foo/%2e%2e/bar/manifests/latest")]
    [InlineData("/v2/foo/%2E%2E/%2E%2E/bar/manifests/latest")]
    [InlineData("/v2/foo/../bar/manifests/latest")]
    [InlineData("/v2/foo/./bar/manifests/latest")]
    [InlineData("/v2/foo/%2e/bar/manifests/latest")]
    public async Task DotSegmentsInName_Raw_Returns400NameInvalid(string target)
    {
        var response = await RawHttp.SendAsync(_baseAddress, "GET", target);

        Assert.True(response.Status == 400, $"GET {target}: {response}");
        Assert.Equal(OciAssert.ApiVersion, response.Header(OciAssert.ApiVersionHeader));
        var errors = OciAssert.ParseErrorBody(response.BodyText);
        Assert.Equal("NAME_INVALID", errors[0].GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("/v2/..%2F..%2Fetc/manifests/latest")]
    [InlineData("/v2/foo%2F..%2F..%2Fbar/manifests/latest")]
    [InlineData("/v2/%2e%2e%2f%2e%2e%2fetc/manifests/latest")]
    [InlineData("/v2/%2Fetc%2Fpasswd/manifests/latest")]
    [InlineData("/v2/foo%5C..%5Cbar/manifests/latest")]
    public async Task EncodedSeparatorsInName_Raw_Returns400NameInvalid(string target)
    {
        var response = await RawHttp.SendAsync(_baseAddress, "GET", target);

        Assert.True(response.Status == 400, $"GET {target}: {response}");
        var errors = OciAssert.ParseErrorBody(response.BodyText);
        Assert.Equal("NAME_INVALID", errors[0].GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("/v2/foo/%2e%2e/bar/blobs/uploads/")]
    [InlineData("/v2/..%2F..%2Fescape/blobs/uploads/")]
    [InlineData("/v2/foo/../../../escape/blobs/uploads/")]
    [InlineData("/v2/Foo/blobs/uploads/")]
    [InlineData("/v2/foo//bar/blobs/uploads/")]
    [InlineData("/v2/foo%00bar/blobs/uploads/")]
    [InlineData("/v2/foo%00bar/manifests/latest")]
    public async Task HostileNameOnPost_Raw_IsRefusedWith4xx(string target)
    {
        var response = await RawHttp.SendAsync(_baseAddress, "POST", target, []);

        Assert.True(response.Status is >= 400 and < 500, $"POST {target}: {response}");
    }

    // ---- Digests ----

    public static TheoryData<string> MalformedDigests =>
    [
        "sha256:abc",
        "sha256:",
        "sha256",
        ":e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855aa",
        "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha384:38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
        "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
        "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ];

    [Theory]
    [MemberData(nameof(MalformedDigests))]
    public async Task GetBlob_MalformedDigest_Returns400DigestInvalid(string digest)
    {
        using var response = await _client.GetAsync($"/v2/bad/input/blobs/{digest}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Theory]
    [MemberData(nameof(MalformedDigests))]
    public async Task HeadBlob_MalformedDigest_Returns400(string digest)
    {
        using var response = await _client.SendAsync(HttpMethod.Head, $"/v2/bad/input/blobs/{digest}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Theory]
    [MemberData(nameof(MalformedDigests))]
    public async Task DeleteBlob_MalformedDigest_Returns400DigestInvalid(string digest)
    {
        using var response = await _client.DeleteAsync($"/v2/bad/input/blobs/{digest}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Theory]
    [MemberData(nameof(MalformedDigests))]
    public async Task GetManifest_MalformedDigestReference_Returns400DigestInvalid(string digest)
    {
        if (!digest.Contains(':', StringComparison.Ordinal))
        {
            return; // Without a colon the reference is a (valid) tag.
        }

        using var response = await _client.GetAsync($"/v2/bad/input/manifests/{digest}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Theory]
    [MemberData(nameof(MalformedDigests))]
    public async Task SinglePostUpload_MalformedDigest_Returns400DigestInvalidAndStoresNothing(string digest)
    {
        var repository = Oci.UniqueRepository("badinput");

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{repository}/blobs/uploads/?digest={Uri.EscapeDataString(digest)}",
            RegistryClient.Bytes(Oci.RandomBytes(10)));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Theory]
    [MemberData(nameof(MalformedDigests))]
    public async Task CompleteUpload_MalformedDigest_Returns400DigestInvalid(string digest)
    {
        var repository = Oci.UniqueRepository("badinput");
        var location = await _client.StartUploadAsync(repository);

        using var response = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, digest), RegistryClient.Bytes(Oci.RandomBytes(10)));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Theory]
    [MemberData(nameof(MalformedDigests))]
    public async Task Referrers_MalformedDigest_Returns400DigestInvalid(string digest)
    {
        using var response = await _client.GetAsync($"/v2/bad/input/referrers/{digest}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    // ---- Unknown endpoints ----

    [Theory]
    [InlineData("/v2/foo/bar")]
    [InlineData("/v2/foo/blobs/")]
    [InlineData("/v2/foo/manifests/")]
    [InlineData("/v2/foo/tags")]
    [InlineData("/v2/foo/tags/list/extra")]
    [InlineData("/v2/_catalog/extra")]
    [InlineData("/v2/foo/referrers/")]
    [InlineData("/v2/foo/blobs/uploads/id/extra")]
    [InlineData("/v2/foo/unknown/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    public async Task UnknownEndpointUnderV2_Returns404WithOciErrorBody(string path)
    {
        using var response = await _client.GetAsync(path);

        await OciAssert.StatusAsync(response, HttpStatusCode.NotFound);
        OciAssert.HasApiVersion(response);
        await OciAssert.ErrorBodyAsync(response);
    }

    [Fact]
    public async Task UnknownEndpointUnderV2_ErrorCodeIsFromTheSpecTable()
    {
        // Spec "Error Codes": "The code field MUST be one of the following" (code-1 .. code-14).
        using var response = await _client.GetAsync("/v2/foo/bar");

        var errors = await OciAssert.ErrorBodyAsync(response);
        var code = errors[0].GetProperty("code").GetString()!;
        Assert.True(OciAssert.SpecErrorCodes.Contains(code), $"code {code} is not in the distribution spec's error code table");
    }

    [Theory]
    [InlineData("/v3/")]
    [InlineData("/foo")]
    [InlineData("/v2x/_catalog")]
    public async Task UnknownPathOutsideV2_Returns404WithApiVersionHeader(string path)
    {
        // registry:2 stamps Docker-Distribution-API-Version on every response its app handles, 404s included.
        using var response = await _client.GetAsync(path);

        await OciAssert.StatusAsync(response, HttpStatusCode.NotFound);
        OciAssert.HasApiVersion(response);
    }

    [Theory]
    [InlineData("/v3/")]
    [InlineData("/foo")]
    public async Task UnknownPathOutsideV2_HasOciErrorBody(string path)
    {
        using var response = await _client.GetAsync(path);

        await OciAssert.StatusAsync(response, HttpStatusCode.NotFound);
        await OciAssert.ErrorBodyAsync(response);
    }

    // ---- Wrong methods ----

    [Theory]
    [InlineData("POST", "/v2/")]
    [InlineData("DELETE", "/v2/")]
    [InlineData("PUT", "/v2/_catalog")]
    [InlineData("PATCH", "/v2/_catalog")]
    [InlineData("POST", "/v2/foo/manifests/latest")]
    [InlineData("PATCH", "/v2/foo/manifests/latest")]
    [InlineData("PUT", "/v2/foo/blobs/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("POST", "/v2/foo/blobs/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("GET", "/v2/foo/blobs/uploads/")]
    [InlineData("PUT", "/v2/foo/blobs/uploads/")]
    [InlineData("DELETE", "/v2/foo/tags/list")]
    [InlineData("POST", "/v2/foo/referrers/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("POST", "/v2/foo/blobs/uploads/3f2504e0-4f89-11d3-9a0c-0305e82c3301")]
    public async Task WrongMethod_Returns405UnsupportedWithAllowHeader(string method, string path)
    {
        using var response = await _client.SendAsync(new HttpMethod(method), path, method is "POST" or "PUT" or "PATCH" ? RegistryClient.Bytes([]) : null);

        await OciAssert.ErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
        Assert.False(string.IsNullOrEmpty(response.Header("Allow")), "405 without an Allow header");
        Assert.DoesNotContain(method, response.Header("Allow")!.Split(',', StringSplitOptions.TrimEntries));
    }

    // ---- Every error has the OCI body ----

    [Fact]
    public async Task EveryErrorResponse_HasOciJsonBodyAndApiVersionHeader()
    {
        var repository = Oci.UniqueRepository("badinput");
        var image = await _client.PushImageAsync(repository, "v1");
        var location = await _client.StartUploadAsync(repository);
        (HttpMethod Method, string Uri, HttpContent? Body, (string, string)[] Headers)[] requests =
        [
            (HttpMethod.Get, $"/v2/{repository}/manifests/nope", null, []),
            (HttpMethod.Get, $"/v2/{Oci.UniqueRepository("badinput")}/tags/list", null, []),
            (HttpMethod.Get, $"/v2/{repository}/blobs/{Oci.AbsentDigest()}", null, []),
            (HttpMethod.Get, $"/v2/{repository}/blobs/sha256:zz", null, []),
            (HttpMethod.Get, "/v2/NOPE/tags/list", null, []),
            (HttpMethod.Get, $"/v2/{repository}/tags/list?n=x", null, []),
            (HttpMethod.Get, $"/v2/{repository}/blobs/uploads/{Guid.NewGuid()}", null, []),
            (HttpMethod.Get, $"/v2/{repository}/blobs/{image.Layer.Digest}", null, [("Range", "bytes=99999999-")]),
            (HttpMethod.Put, $"/v2/{repository}/manifests/v2", RegistryClient.Bytes("{"u8.ToArray(), Oci.ImageManifest), []),
            (HttpMethod.Put, $"/v2/{repository}/manifests/-bad", RegistryClient.Bytes(image.ManifestBytes, Oci.ImageManifest), []),
            (HttpMethod.Patch, location.ToString(), RegistryClient.Bytes(Oci.RandomBytes(3)), [("Content-Range", "5-7")]),
            (HttpMethod.Put, RegistryClient.WithDigest(location, Oci.AbsentDigest()).ToString(), RegistryClient.Bytes(Oci.RandomBytes(3)), []),
            (HttpMethod.Post, "/v2/", null, []),
            (HttpMethod.Get, "/v2/foo/bar", null, []),
        ];

        foreach (var (method, uri, body, headers) in requests)
        {
            using var response = await _client.SendAsync(method, uri, body, headers);
            Assert.True((int)response.StatusCode >= 400, $"{method} {uri} answered {(int)response.StatusCode}");
            Assert.True(response.Header(OciAssert.ApiVersionHeader) == OciAssert.ApiVersion, $"{method} {uri} lacks the API version header");
            await OciAssert.ErrorBodyAsync(response);
        }
    }

    [Fact]
    public async Task ServerErrors_NeverReturned_ForGarbageHeaders()
    {
        var repository = Oci.UniqueRepository("badinput");
        var image = await _client.PushImageAsync(repository, "v1");
        var location = await _client.StartUploadAsync(repository);
        (HttpMethod Method, string Uri, (string, string) Header)[] requests =
        [
            (HttpMethod.Get, $"/v2/{repository}/blobs/{image.Layer.Digest}", ("Range", "bytes=abc-def")),
            (HttpMethod.Get, $"/v2/{repository}/blobs/{image.Layer.Digest}", ("Range", "bytes=5-1")),
            (HttpMethod.Get, $"/v2/{repository}/blobs/{image.Layer.Digest}", ("Range", "bytes=0-1,5-6")),
            (HttpMethod.Get, $"/v2/{repository}/blobs/{image.Layer.Digest}", ("Range", "bytes=99999999999999999999-")),
            (HttpMethod.Get, $"/v2/{repository}/blobs/{image.Layer.Digest}", ("Range", "bytes=--1")),
            (HttpMethod.Get, $"/v2/{repository}/manifests/v1", ("Accept", ";;;,,,")),
            (HttpMethod.Patch, location.ToString(), ("Content-Range", "99999999999999999999-99999999999999999999")),
            (HttpMethod.Patch, location.ToString(), ("Content-Range", "-5")),
            (HttpMethod.Patch, location.ToString(), ("Content-Range", "bytes 0-")),
        ];

        foreach (var (method, uri, header) in requests)
        {
            using var response = await _client.SendAsync(method, uri, method == HttpMethod.Patch ? RegistryClient.Bytes(Oci.RandomBytes(1)) : null, header);
            Assert.True((int)response.StatusCode < 500, $"{method} {uri} with {header} answered {(int)response.StatusCode}: {await OciAssert.BodyTextAsync(response)}");
        }
    }
}
