using System.Net;
using System.Text;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// Spec "Pushing Manifests" (end-7) and "Pulling manifests" (end-3) for every manifest format:
/// OCI image manifest, OCI index, Docker schema2, Docker manifest list and an OCI artifact.
/// </summary>
public sealed class ManifestPushPullTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;
    private readonly string _repository = Oci.UniqueRepository("manifests");

    private Task<HttpResponseMessage> GetManifestAsync(HttpMethod method, string reference, string accept = ManifestKinds.AcceptAll) =>
        _client.SendAsync(method, $"/v2/{_repository}/manifests/{reference}", null, ("Accept", accept));

    [Theory]
    [MemberData(nameof(ManifestKinds.All), MemberType = typeof(ManifestKinds))]
    public async Task PutByTag_Returns201WithLocationAndDigest(string kind)
    {
        var (bytes, mediaType) = await ManifestKinds.PrepareAsync(_client, _repository, kind);

        using var response = await _client.PutManifestAsync(_repository, "v1", mediaType, bytes);

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal(Oci.DigestOf(bytes), response.Header("Docker-Content-Digest"));
        Assert.Equal($"/v2/{_repository}/manifests/{Oci.DigestOf(bytes)}", _client.LocationOf(response).AbsolutePath);
        OciAssert.HasApiVersion(response);
    }

    [Theory]
    [MemberData(nameof(ManifestKinds.All), MemberType = typeof(ManifestKinds))]
    public async Task PutByDigest_Returns201(string kind)
    {
        var (bytes, mediaType) = await ManifestKinds.PrepareAsync(_client, _repository, kind);

        using var response = await _client.PutManifestAsync(_repository, Oci.DigestOf(bytes), mediaType, bytes);

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal(Oci.DigestOf(bytes), response.Header("Docker-Content-Digest"));
    }

    [Theory]
    [MemberData(nameof(ManifestKinds.All), MemberType = typeof(ManifestKinds))]
    public async Task GetByTag_ReturnsExactBytesWithStoredContentType(string kind)
    {
        var (bytes, mediaType) = await ManifestKinds.PrepareAsync(_client, _repository, kind);
        await _client.PushManifestAsync(_repository, "v1", mediaType, bytes);

        using var response = await GetManifestAsync(HttpMethod.Get, "v1");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(bytes, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Oci.DigestOf(bytes), response.Header("Docker-Content-Digest"));
    }

    [Theory]
    [MemberData(nameof(ManifestKinds.All), MemberType = typeof(ManifestKinds))]
    public async Task GetByDigest_ReturnsExactBytesWithStoredContentType(string kind)
    {
        var (bytes, mediaType) = await ManifestKinds.PrepareAsync(_client, _repository, kind);
        await _client.PushManifestAsync(_repository, "v1", mediaType, bytes);

        using var response = await GetManifestAsync(HttpMethod.Get, Oci.DigestOf(bytes));

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(bytes, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Oci.DigestOf(bytes), response.Header("Docker-Content-Digest"));
    }

    [Theory]
    [MemberData(nameof(ManifestKinds.All), MemberType = typeof(ManifestKinds))]
    public async Task HeadByTag_Returns200WithDigestLengthAndContentType(string kind)
    {
        var (bytes, mediaType) = await ManifestKinds.PrepareAsync(_client, _repository, kind);
        await _client.PushManifestAsync(_repository, "v1", mediaType, bytes);

        using var response = await GetManifestAsync(HttpMethod.Head, "v1");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(Oci.DigestOf(bytes), response.Header("Docker-Content-Digest"));
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [MemberData(nameof(ManifestKinds.All), MemberType = typeof(ManifestKinds))]
    public async Task HeadByDigest_Returns200WithDigestAndLength(string kind)
    {
        var (bytes, mediaType) = await ManifestKinds.PrepareAsync(_client, _repository, kind);
        await _client.PushManifestAsync(_repository, Oci.DigestOf(bytes), mediaType, bytes);

        using var response = await GetManifestAsync(HttpMethod.Head, Oci.DigestOf(bytes));

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(Oci.DigestOf(bytes), response.Header("Docker-Content-Digest"));
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task Get_ContentTypeHasNoParameters()
    {
        // Spec: "The registry SHOULD NOT include parameters on the Content-Type header."
        var image = await _client.PushImageAsync(_repository, "v1");

        using var response = await GetManifestAsync(HttpMethod.Get, "v1");

        Assert.Equal(Oci.ImageManifest, response.Content.Headers.ContentType?.ToString());
        Assert.Equal(image.ManifestBytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_HasETagOfDigest()
    {
        var image = await _client.PushImageAsync(_repository, "v1");

        using var response = await GetManifestAsync(HttpMethod.Get, "v1");

        Assert.Equal($"\"{image.Manifest.Digest}\"", response.Headers.ETag?.ToString());
    }

    [Fact]
    public async Task Artifact_Put_ReturnsOciSubjectHeader()
    {
        var subject = await _client.PushImageAsync(_repository);
        await _client.PushBlobAsync(_repository, Oci.EmptyJson, Oci.Empty);
        var artifact = Oci.Manifest(Oci.EmptyDescriptor, [Oci.EmptyDescriptor], artifactType: "application/vnd.example.signature.v1", subject: subject.Manifest);

        using var response = await _client.PutManifestAsync(_repository, Oci.DigestOf(artifact), Oci.ImageManifest, artifact);

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal(subject.Manifest.Digest, response.Header("OCI-Subject"));
    }

    [Fact]
    public async Task Artifact_WithSubjectNotInRepository_IsAcceptedWithOciSubject()
    {
        // Spec: a registry MUST accept a manifest whose subject does not exist yet.
        await _client.PushBlobAsync(_repository, Oci.EmptyJson, Oci.Empty);
        var missingSubject = new OciDescriptor(Oci.ImageManifest, Oci.AbsentDigest(), 1234);
        var artifact = Oci.Manifest(Oci.EmptyDescriptor, [Oci.EmptyDescriptor], artifactType: "application/vnd.example.signature.v1", subject: missingSubject);

        using var response = await _client.PutManifestAsync(_repository, Oci.DigestOf(artifact), Oci.ImageManifest, artifact);

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal(missingSubject.Digest, response.Header("OCI-Subject"));
    }

    [Fact]
    public async Task IndexWithSubject_Put_ReturnsOciSubjectHeader()
    {
        var subject = await _client.PushImageAsync(_repository);
        var child = await ManifestKinds.PushChildAsync(_client, _repository, Oci.ImageManifest, "amd64");
        var index = Oci.Index([child], artifactType: "application/vnd.example.bundle.v1", subject: subject.Manifest);

        using var response = await _client.PutManifestAsync(_repository, Oci.DigestOf(index), Oci.ImageIndex, index);

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal(subject.Manifest.Digest, response.Header("OCI-Subject"));
    }

    [Fact]
    public async Task ManifestWithoutSubject_Put_HasNoOciSubjectHeader()
    {
        var (bytes, mediaType) = await ManifestKinds.PrepareAsync(_client, _repository, ManifestKinds.OciManifest);

        using var response = await _client.PutManifestAsync(_repository, "v1", mediaType, bytes);

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Null(response.Header("OCI-Subject"));
    }

    [Fact]
    public async Task EmptyConfigBlob_HasWellKnownDigest()
    {
        var descriptor = await _client.PushBlobAsync(_repository, Oci.EmptyJson, Oci.Empty);

        Assert.Equal(Oci.EmptyJsonDigest, descriptor.Digest);
    }

    [Fact]
    public async Task Manifest_WithNoLayers_IsAccepted()
    {
        // Conformance: "Registry should accept a manifest upload with no layers".
        var config = await _client.PushBlobAsync(_repository, Oci.ConfigJson(), Oci.ImageConfig);
        var manifest = Oci.Manifest(config, []);

        using var response = await _client.PutManifestAsync(_repository, "nolayers", Oci.ImageManifest, manifest);

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
    }

    [Fact]
    public async Task Manifest_WithoutMediaTypeField_IsServedWithTheContentTypeItWasPushedWith()
    {
        var config = await _client.PushBlobAsync(_repository, Oci.ConfigJson(), Oci.ImageConfig);
        var layer = await _client.PushBlobAsync(_repository, Oci.RandomBytes(10));
        var manifest = Oci.Manifest(config, [layer], mediaType: null);
        await _client.PushManifestAsync(_repository, "nomediatype", Oci.ImageManifest, manifest);

        using var response = await GetManifestAsync(HttpMethod.Get, "nomediatype");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(Oci.ImageManifest, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(manifest, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Index_WithoutMediaTypeField_IsServedAsOciIndex()
    {
        var child = await ManifestKinds.PushChildAsync(_client, _repository, Oci.ImageManifest, "amd64");
        var index = Oci.Index([child], mediaType: null);
        await _client.PushManifestAsync(_repository, "nomediatype-index", Oci.ImageIndex, index);

        using var response = await GetManifestAsync(HttpMethod.Get, "nomediatype-index");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(Oci.ImageIndex, response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Put_ContentTypeWithParameters_IsAccepted()
    {
        // Spec: "The registry SHOULD ignore parameters on the Content-Type header."
        var (bytes, _) = await ManifestKinds.PrepareAsync(_client, _repository, ManifestKinds.OciManifest);

        using var response = await _client.PutManifestAsync(_repository, "params", Oci.ImageManifest + "; charset=utf-8", bytes);

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
    }

    [Fact]
    public async Task Put_StoresExactBytes_IncludingWhitespaceAndKeyOrder()
    {
        // Spec: "The registry MUST store the manifest in the exact byte representation provided by the client."
        var config = await _client.PushBlobAsync(_repository, Oci.ConfigJson(), Oci.ImageConfig);
        var layer = await _client.PushBlobAsync(_repository, Oci.RandomBytes(10));
        var text = $$"""
            {
               "layers" : [ { "size": {{layer.Size}}, "digest": "{{layer.Digest}}", "mediaType": "{{layer.MediaType}}" } ],
               "config" : { "size": {{config.Size}}, "digest": "{{config.Digest}}", "mediaType": "{{config.MediaType}}" },
               "mediaType" : "{{Oci.ImageManifest}}",
               "schemaVersion" : 2
            }

            """;
        var bytes = Encoding.UTF8.GetBytes(text);
        await _client.PushManifestAsync(_repository, "exact", Oci.ImageManifest, bytes);

        using var response = await GetManifestAsync(HttpMethod.Get, "exact");

        Assert.Equal(bytes, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(Oci.DigestOf(bytes), response.Header("Docker-Content-Digest"));
    }

    [Fact]
    public async Task Put_BySha512Digest_IsAcceptedAndPullableByIt()
    {
        var (bytes, mediaType) = await ManifestKinds.PrepareAsync(_client, _repository, ManifestKinds.OciManifest);
        var digest = Oci.Sha512Of(bytes);

        using var put = await _client.PutManifestAsync(_repository, digest, mediaType, bytes);
        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        Assert.Equal(digest, put.Header("Docker-Content-Digest"));

        using var get = await GetManifestAsync(HttpMethod.Get, digest);
        await OciAssert.StatusAsync(get, HttpStatusCode.OK);
        Assert.Equal(bytes, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Put_SameTagAgain_MovesTheTag()
    {
        var first = await _client.PushImageAsync(_repository, "moving");
        var second = await _client.PushImageAsync(_repository, "moving");

        using var response = await GetManifestAsync(HttpMethod.Get, "moving");

        Assert.Equal(second.Manifest.Digest, response.Header("Docker-Content-Digest"));
        using var old = await GetManifestAsync(HttpMethod.Get, first.Manifest.Digest);
        await OciAssert.StatusAsync(old, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Put_SameManifestUnderTwoTags_BothResolve()
    {
        var image = await _client.PushImageAsync(_repository, "one");
        await _client.PushManifestAsync(_repository, "two", Oci.ImageManifest, image.ManifestBytes);

        using var one = await GetManifestAsync(HttpMethod.Head, "one");
        using var two = await GetManifestAsync(HttpMethod.Head, "two");

        Assert.Equal(image.Manifest.Digest, one.Header("Docker-Content-Digest"));
        Assert.Equal(image.Manifest.Digest, two.Header("Docker-Content-Digest"));
    }

    [Fact]
    public async Task Put_SameManifestTwice_IsIdempotent()
    {
        var image = await _client.PushImageAsync(_repository, "again");

        using var response = await _client.PutManifestAsync(_repository, "again", Oci.ImageManifest, image.ManifestBytes);

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal(image.Manifest.Digest, response.Header("Docker-Content-Digest"));
    }

    [Fact]
    public async Task Put_ValidTagGrammarEdgeCases_AreAccepted()
    {
        var image = await _client.PushImageAsync(_repository);
        string[] tags = ["_underscore", "UPPER.case-9", "a", new string('x', 128), "1.0.0-rc.1_build"];
        foreach (var tag in tags)
        {
            using var response = await _client.PutManifestAsync(_repository, tag, Oci.ImageManifest, image.ManifestBytes);
            await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        }
    }

    [Fact]
    public async Task Put_ReferrersTagSchemaTag_IsAccepted()
    {
        // Spec "Referrers Tag Schema": clients without the referrers API push an index to <alg>-<ref>.
        var subject = await _client.PushImageAsync(_repository, "v1");
        var index = Oci.Index([]);
        var tag = subject.Manifest.Digest.Replace(':', '-');

        using var response = await _client.PutManifestAsync(_repository, tag, Oci.ImageIndex, index);

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        using var get = await GetManifestAsync(HttpMethod.Get, tag);
        Assert.Equal(index, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_IfNoneMatchCurrentETag_Returns304()
    {
        var image = await _client.PushImageAsync(_repository, "v1");

        using var response = await _client.SendAsync(HttpMethod.Get, $"/v2/{_repository}/manifests/v1", null,
            ("Accept", ManifestKinds.AcceptAll), ("If-None-Match", $"\"{image.Manifest.Digest}\""));

        await OciAssert.StatusAsync(response, HttpStatusCode.NotModified);
    }

    // ---- Not found ----

    [Fact]
    public async Task Get_UnknownTagInExistingRepository_Returns404ManifestUnknown()
    {
        await _client.PushImageAsync(_repository, "v1");

        using var response = await GetManifestAsync(HttpMethod.Get, "does-not-exist");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task Get_UnknownDigestInExistingRepository_Returns404ManifestUnknown()
    {
        await _client.PushImageAsync(_repository, "v1");

        using var response = await GetManifestAsync(HttpMethod.Get, Oci.AbsentDigest());

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task Head_UnknownTag_Returns404WithoutBody()
    {
        await _client.PushImageAsync(_repository, "v1");

        using var response = await GetManifestAsync(HttpMethod.Head, "does-not-exist");

        await OciAssert.StatusAsync(response, HttpStatusCode.NotFound);
        OciAssert.HasApiVersion(response);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_UnknownRepository_Returns404NameUnknown()
    {
        using var response = await _client.GetAsync($"/v2/{Oci.UniqueRepository("manifests")}/manifests/latest");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Fact]
    public async Task Get_ManifestOfAnotherRepository_Returns404()
    {
        var image = await _client.PushImageAsync(_repository, "v1");
        var other = Oci.UniqueRepository("manifests");
        await _client.PushImageAsync(other, "v1");

        using var response = await _client.GetAsync($"/v2/{other}/manifests/{image.Manifest.Digest}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task Get_ByTagWithAcceptExcludingStoredType_Returns404ManifestUnknown()
    {
        // registry:2: "OCI manifest found, but accept header does not support OCI manifests".
        await _client.PushImageAsync(_repository, "v1");

        using var response = await GetManifestAsync(HttpMethod.Get, "v1", Oci.DockerManifest);

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task Get_ByTagWithWildcardAccept_Returns200()
    {
        var image = await _client.PushImageAsync(_repository, "v1");

        using var response = await GetManifestAsync(HttpMethod.Get, "v1", "*/*");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(image.ManifestBytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_BlobDigestThroughManifestsEndpoint_Returns404ManifestUnknown()
    {
        var image = await _client.PushImageAsync(_repository, "v1");

        using var response = await GetManifestAsync(HttpMethod.Get, image.Layer.Digest);

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }
}
