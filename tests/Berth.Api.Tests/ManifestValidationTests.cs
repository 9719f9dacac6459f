using System.Net;
using System.Text;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>Manifests a registry must refuse, and the error each one gets.</summary>
public sealed class ManifestValidationTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;
    private readonly string _repository = Oci.UniqueRepository("invalid");

    private async Task AssertNotStoredAsync(string reference)
    {
        using var response = await _client.SendAsync(HttpMethod.Get, $"/v2/{_repository}/manifests/{reference}", null, ("Accept", ManifestKinds.AcceptAll));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    // ---- References to content the repository does not hold (MANIFEST_BLOB_UNKNOWN) ----

    [Fact]
    public async Task Put_MissingLayer_Returns404ManifestBlobUnknown()
    {
        var config = await _client.PushBlobAsync(_repository, Oci.ConfigJson(), Oci.ImageConfig);
        var missing = new OciDescriptor(Oci.ImageLayer, Oci.AbsentDigest(), 100);
        var manifest = Oci.Manifest(config, [missing]);

        using var response = await _client.PutManifestAsync(_repository, "v1", Oci.ImageManifest, manifest);

        var errors = await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_BLOB_UNKNOWN");
        Assert.Contains(missing.Digest, errors[0].ToString(), StringComparison.Ordinal);
        await AssertNotStoredAsync("v1");
        await AssertNotStoredAsync(Oci.DigestOf(manifest));
    }

    [Fact]
    public async Task Put_MissingConfig_Returns404ManifestBlobUnknown()
    {
        var layer = await _client.PushBlobAsync(_repository, Oci.RandomBytes(10));
        var manifest = Oci.Manifest(new OciDescriptor(Oci.ImageConfig, Oci.AbsentDigest(), 10), [layer]);

        using var response = await _client.PutManifestAsync(_repository, "v1", Oci.ImageManifest, manifest);

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_BLOB_UNKNOWN");
        await AssertNotStoredAsync("v1");
    }

    [Fact]
    public async Task Put_DockerManifestMissingLayer_Returns404ManifestBlobUnknown()
    {
        var config = await _client.PushBlobAsync(_repository, Oci.ConfigJson(), Oci.DockerConfig);
        var manifest = Oci.Manifest(config, [new OciDescriptor(Oci.DockerLayer, Oci.AbsentDigest(), 5)], Oci.DockerManifest);

        using var response = await _client.PutManifestAsync(_repository, "v1", Oci.DockerManifest, manifest);

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Put_LayerOnlyInAnotherRepository_Returns404ManifestBlobUnknown()
    {
        var other = Oci.UniqueRepository("invalid");
        var layer = await _client.PushBlobAsync(other, Oci.RandomBytes(10));
        var config = await _client.PushBlobAsync(_repository, Oci.ConfigJson(), Oci.ImageConfig);
        var manifest = Oci.Manifest(config, [layer]);

        using var response = await _client.PutManifestAsync(_repository, "v1", Oci.ImageManifest, manifest);

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Put_IndexWithMissingChild_Returns404ManifestBlobUnknown()
    {
        var present = await ManifestKinds.PushChildAsync(_client, _repository, Oci.ImageManifest, "amd64");
        var missing = new OciDescriptor(Oci.ImageManifest, Oci.AbsentDigest(), 500) { Platform = ("linux", "arm64") };
        var index = Oci.Index([present, missing]);

        using var response = await _client.PutManifestAsync(_repository, "v1", Oci.ImageIndex, index);

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_BLOB_UNKNOWN");
        await AssertNotStoredAsync("v1");
    }

    [Fact]
    public async Task Put_DockerManifestListWithMissingChild_Returns404ManifestBlobUnknown()
    {
        var missing = new OciDescriptor(Oci.DockerManifest, Oci.AbsentDigest(), 500) { Platform = ("linux", "amd64") };
        var list = Oci.Index([missing], Oci.DockerManifestList);

        using var response = await _client.PutManifestAsync(_repository, "v1", Oci.DockerManifestList, list);

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Put_IndexWhoseChildIsOnlyABlob_Returns404ManifestBlobUnknown()
    {
        // The child digest exists as a layer blob, but no manifest with that digest was pushed.
        var blob = await _client.PushBlobAsync(_repository, Oci.RandomBytes(50));
        var index = Oci.Index([blob with { MediaType = Oci.ImageManifest, Platform = ("linux", "amd64") }]);

        using var response = await _client.PutManifestAsync(_repository, "v1", Oci.ImageIndex, index);

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Put_IndexWithChildOnlyInAnotherRepository_Returns404ManifestBlobUnknown()
    {
        var other = Oci.UniqueRepository("invalid");
        var child = await ManifestKinds.PushChildAsync(_client, other, Oci.ImageManifest, "amd64");

        using var response = await _client.PutManifestAsync(_repository, "v1", Oci.ImageIndex, Oci.Index([child]));

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_BLOB_UNKNOWN");
    }

    // ---- Malformed manifests (MANIFEST_INVALID) ----

    [Fact]
    public async Task Put_ContentTypeDiffersFromMediaType_Returns400ManifestInvalid()
    {
        var (bytes, _) = await ManifestKinds.PrepareAsync(_client, _repository, ManifestKinds.OciManifest);

        using var response = await _client.PutManifestAsync(_repository, "v1", Oci.DockerManifest, bytes);

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
        await AssertNotStoredAsync("v1");
    }

    [Fact]
    public async Task Put_IndexContentTypeForImageManifest_Returns400ManifestInvalid()
    {
        var (bytes, _) = await ManifestKinds.PrepareAsync(_client, _repository, ManifestKinds.OciManifest);

        using var response = await _client.PutManifestAsync(_repository, "v1", Oci.ImageIndex, bytes);

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("\"a string\"")]
    [InlineData("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"x\"")]
    public async Task Put_InvalidJson_Returns400ManifestInvalid(string body)
    {
        using var response = await _client.PutManifestAsync(_repository, "v1", Oci.ImageManifest, Encoding.UTF8.GetBytes(body));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    [Theory]
    [InlineData("""{"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}""")]
    [InlineData("""{"schemaVersion":3,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}""")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}""")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"not-a-digest","size":2},"layers":[]}""")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":-1},"layers":[]}""")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":{}}""")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":"nope"}""")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"annotations":{"k":1}}""")]
    public async Task Put_StructurallyInvalidManifest_Returns400ManifestInvalid(string body)
    {
        var contentType = body.Contains("image.index", StringComparison.Ordinal) ? Oci.ImageIndex : Oci.ImageManifest;

        using var response = await _client.PutManifestAsync(_repository, "v1", contentType, Encoding.UTF8.GetBytes(body));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    [Fact]
    public async Task Put_UnknownMediaType_Returns400ManifestInvalid()
    {
        var body = """{"schemaVersion":2,"mediaType":"application/vnd.example.unknown+json","config":{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}""";

        using var response = await _client.PutManifestAsync(_repository, "v1", "application/vnd.example.unknown+json", Encoding.UTF8.GetBytes(body));

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    [Fact]
    public async Task Put_LargerThan4MiB_Returns413()
    {
        var config = await _client.PushBlobAsync(_repository, Oci.ConfigJson(), Oci.ImageConfig);
        var manifest = Oci.Manifest(config, [], annotations: new Dictionary<string, string> { ["padding"] = new string('x', 4 * 1024 * 1024 + 16) });

        using var response = await _client.PutManifestAsync(_repository, "big", Oci.ImageManifest, manifest);

        await OciAssert.StatusAsync(response, HttpStatusCode.RequestEntityTooLarge);
        OciAssert.HasApiVersion(response);
        var errors = await OciAssert.ErrorBodyAsync(response);
        Assert.Contains(errors[0].GetProperty("code").GetString(), new[] { "SIZE_INVALID", "MANIFEST_INVALID" });
        await AssertNotStoredAsync("big");
    }

    [Fact]
    public async Task Put_LargerThan4MiBWithoutContentLength_Returns413()
    {
        var config = await _client.PushBlobAsync(_repository, Oci.ConfigJson(), Oci.ImageConfig);
        var manifest = Oci.Manifest(config, [], annotations: new Dictionary<string, string> { ["padding"] = new string('x', 4 * 1024 * 1024 + 16) });
        var body = RegistryClient.Streamed(manifest);
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(Oci.ImageManifest);

        using var response = await _client.SendAsync(HttpMethod.Put, $"/v2/{_repository}/manifests/big-chunked", body);

        await OciAssert.StatusAsync(response, HttpStatusCode.RequestEntityTooLarge);
        await AssertNotStoredAsync("big-chunked");
    }

    [Fact]
    public async Task Put_JustUnder4MiB_IsAccepted()
    {
        // Spec: registries SHOULD accept manifests of at least 4 megabytes.
        var config = await _client.PushBlobAsync(_repository, Oci.ConfigJson(), Oci.ImageConfig);
        var skeleton = Oci.Manifest(config, [], annotations: new Dictionary<string, string> { ["padding"] = "" });
        var manifest = Oci.Manifest(config, [], annotations: new Dictionary<string, string> { ["padding"] = new string('x', 4 * 1024 * 1024 - skeleton.Length) });
        Assert.Equal(4 * 1024 * 1024, manifest.Length);

        using var response = await _client.PutManifestAsync(_repository, "exactly-4mib", Oci.ImageManifest, manifest);

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
    }

    // ---- Reference problems ----

    [Fact]
    public async Task PutByDigest_WithWrongDigest_Returns400DigestInvalid()
    {
        var (bytes, mediaType) = await ManifestKinds.PrepareAsync(_client, _repository, ManifestKinds.OciManifest);
        var wrong = Oci.AbsentDigest();

        using var response = await _client.PutManifestAsync(_repository, wrong, mediaType, bytes);

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        await AssertNotStoredAsync(wrong);
        await AssertNotStoredAsync(Oci.DigestOf(bytes));
    }

    [Theory]
    [InlineData("-leading-dash")]
    [InlineData(".leading-dot")]
    [InlineData("has+plus")]
    [InlineData("has%20space")]
    [InlineData("has!bang")]
    public async Task Put_InvalidTag_Returns400TagInvalid(string tag)
    {
        var (bytes, mediaType) = await ManifestKinds.PrepareAsync(_client, _repository, ManifestKinds.OciManifest);

        using var response = await _client.PutManifestAsync(_repository, tag, mediaType, bytes);

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "TAG_INVALID");
    }

    [Fact]
    public async Task Put_TagLongerThan128Characters_Returns400TagInvalid()
    {
        var (bytes, mediaType) = await ManifestKinds.PrepareAsync(_client, _repository, ManifestKinds.OciManifest);

        using var response = await _client.PutManifestAsync(_repository, new string('t', 129), mediaType, bytes);

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "TAG_INVALID");
    }

    [Theory]
    [InlineData("sha256:abc")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    public async Task Put_MalformedDigestReference_Returns400DigestInvalid(string reference)
    {
        var (bytes, mediaType) = await ManifestKinds.PrepareAsync(_client, _repository, ManifestKinds.OciManifest);

        using var response = await _client.PutManifestAsync(_repository, reference, mediaType, bytes);

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }
}
