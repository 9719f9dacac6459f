using System.Net;
using System.Text.Json;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>Spec "Listing Referrers" (end-12a, end-12b) and "Pushing Manifests with Subject".</summary>
public sealed class ReferrersTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private const string SbomType = "application/vnd.example.sbom.v1";
    private const string SignatureType = "application/vnd.example.signature.v1";
    private const string CustomConfigType = "application/vnd.example.config.v1+json";

    private readonly HttpClient _client = registry.Client;
    private readonly string _repository = Oci.UniqueRepository("referrers");

    private sealed record Referrer(string MediaType, string Digest, long Size, string? ArtifactType, Dictionary<string, string>? Annotations);

    private async Task<(HttpResponseMessage Response, List<Referrer> Referrers)> ListAsync(string subject, string? artifactType = null, string? repository = null)
    {
        var query = artifactType is null ? "" : "?artifactType=" + Uri.EscapeDataString(artifactType);
        var response = await _client.GetAsync($"/v2/{repository ?? _repository}/referrers/{subject}{query}");
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(Oci.ImageIndex, response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = document.RootElement;
        Assert.Equal(2, root.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(Oci.ImageIndex, root.GetProperty("mediaType").GetString());
        var referrers = root.GetProperty("manifests").EnumerateArray().Select(m => new Referrer(
            m.GetProperty("mediaType").GetString()!,
            m.GetProperty("digest").GetString()!,
            m.GetProperty("size").GetInt64(),
            m.TryGetProperty("artifactType", out var type) ? type.GetString() : null,
            m.TryGetProperty("annotations", out var annotations)
                ? annotations.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!)
                : null)).ToList();
        return (response, referrers);
    }

    /// <summary>Pushes an artifact manifest (empty config) referring to <paramref name="subject"/>.</summary>
    private async Task<OciDescriptor> PushArtifactAsync(OciDescriptor subject, string artifactType, string annotationValue, string? repository = null)
    {
        repository ??= _repository;
        await _client.PushBlobAsync(repository, Oci.EmptyJson, Oci.Empty);
        var payload = await _client.PushBlobAsync(repository, Oci.RandomBytes(64), "application/vnd.example.payload");
        var manifest = Oci.Manifest(Oci.EmptyDescriptor, [payload], artifactType: artifactType, subject: subject,
            annotations: new Dictionary<string, string> { ["org.example.value"] = annotationValue, ["org.opencontainers.image.created"] = "2024-01-01T00:00:00Z" });
        using var response = await _client.PutManifestAsync(repository, Oci.DigestOf(manifest), Oci.ImageManifest, manifest);
        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal(subject.Digest, response.Header("OCI-Subject"));
        return OciDescriptor.Of(Oci.ImageManifest, manifest);
    }

    [Fact]
    public async Task List_UnknownSubject_Returns200EmptyIndex()
    {
        await _client.PushImageAsync(_repository, "v1");

        var (response, referrers) = await ListAsync(Oci.AbsentDigest());

        using (response)
        {
            Assert.Empty(referrers);
            Assert.Null(response.Header("OCI-Filters-Applied"));
        }
    }

    [Fact]
    public async Task List_WritesMediaTypesWithAPlainPlus_AsOtherRegistriesDo()
    {
        var image = await _client.PushImageAsync(_repository, "v1");

        using var response = await _client.GetAsync($"/v2/{_repository}/referrers/{image.Manifest.Digest}");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Contains("\"application/vnd.oci.image.index.v1+json\"", body, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u002B", body, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task List_UnknownRepository_Returns200EmptyIndex()
    {
        // Spec: a registry that supports the referrers API "MUST NOT return a 404".
        var (response, referrers) = await ListAsync(Oci.AbsentDigest(), repository: Oci.UniqueRepository("referrers"));

        using (response)
        {
            Assert.Empty(referrers);
        }
    }

    [Fact]
    public async Task List_SubjectWithoutReferrers_Returns200EmptyIndex()
    {
        var image = await _client.PushImageAsync(_repository, "v1");

        var (response, referrers) = await ListAsync(image.Manifest.Digest);

        using (response)
        {
            Assert.Empty(referrers);
        }
    }

    [Fact]
    public async Task List_ReturnsEveryReferrerWithArtifactTypeSizeAndAnnotations()
    {
        var subject = await _client.PushImageAsync(_repository, "v1");
        var sbom = await PushArtifactAsync(subject.Manifest, SbomType, "sbom");
        var signature = await PushArtifactAsync(subject.Manifest, SignatureType, "signature");

        var (response, referrers) = await ListAsync(subject.Manifest.Digest);

        using (response)
        {
            Assert.Equal(2, referrers.Count);
            var listedSbom = Assert.Single(referrers, r => r.Digest == sbom.Digest);
            Assert.Equal(Oci.ImageManifest, listedSbom.MediaType);
            Assert.Equal(sbom.Size, listedSbom.Size);
            Assert.Equal(SbomType, listedSbom.ArtifactType);
            Assert.Equal("sbom", listedSbom.Annotations?["org.example.value"]);
            Assert.Equal("2024-01-01T00:00:00Z", listedSbom.Annotations?["org.opencontainers.image.created"]);
            var listedSignature = Assert.Single(referrers, r => r.Digest == signature.Digest);
            Assert.Equal(SignatureType, listedSignature.ArtifactType);
            Assert.Equal("signature", listedSignature.Annotations?["org.example.value"]);
        }
    }

    [Fact]
    public async Task List_ManifestWithoutArtifactType_UsesConfigMediaType()
    {
        // Spec: "If the artifactType is empty or missing in the image manifest, the value of artifactType MUST be set to the config descriptor mediaType value."
        var subject = await _client.PushImageAsync(_repository, "v1");
        var config = await _client.PushBlobAsync(_repository, Oci.ConfigJson(), CustomConfigType);
        var layer = await _client.PushBlobAsync(_repository, Oci.RandomBytes(16));
        var manifest = Oci.Manifest(config, [layer], subject: subject.Manifest);
        var pushed = await _client.PushManifestAsync(_repository, Oci.DigestOf(manifest), Oci.ImageManifest, manifest);

        var (response, referrers) = await ListAsync(subject.Manifest.Digest);

        using (response)
        {
            var referrer = Assert.Single(referrers);
            Assert.Equal(pushed.Digest, referrer.Digest);
            Assert.Equal(CustomConfigType, referrer.ArtifactType);
        }
    }

    [Fact]
    public async Task List_IndexWithoutArtifactType_OmitsArtifactType()
    {
        // Spec: "If the artifactType is empty or missing in an index, the artifactType MUST be omitted."
        var subject = await _client.PushImageAsync(_repository, "v1");
        var child = await ManifestKinds.PushChildAsync(_client, _repository, Oci.ImageManifest, "amd64");
        var index = Oci.Index([child], subject: subject.Manifest, annotations: new Dictionary<string, string> { ["org.example.value"] = "index" });
        var pushed = await _client.PushManifestAsync(_repository, Oci.DigestOf(index), Oci.ImageIndex, index);

        var (response, referrers) = await ListAsync(subject.Manifest.Digest);

        using (response)
        {
            var referrer = Assert.Single(referrers);
            Assert.Equal(pushed.Digest, referrer.Digest);
            Assert.Equal(Oci.ImageIndex, referrer.MediaType);
            Assert.Null(referrer.ArtifactType);
            Assert.Equal("index", referrer.Annotations?["org.example.value"]);
        }
    }

    [Fact]
    public async Task List_IndexWithArtifactType_ReportsIt()
    {
        var subject = await _client.PushImageAsync(_repository, "v1");
        var child = await ManifestKinds.PushChildAsync(_client, _repository, Oci.ImageManifest, "amd64");
        var index = Oci.Index([child], artifactType: "application/vnd.example.bundle.v1", subject: subject.Manifest);
        await _client.PushManifestAsync(_repository, Oci.DigestOf(index), Oci.ImageIndex, index);

        var (response, referrers) = await ListAsync(subject.Manifest.Digest);

        using (response)
        {
            Assert.Equal("application/vnd.example.bundle.v1", Assert.Single(referrers).ArtifactType);
        }
    }

    [Fact]
    public async Task List_FilteredByArtifactType_ReturnsOnlyMatchesWithFiltersAppliedHeader()
    {
        var subject = await _client.PushImageAsync(_repository, "v1");
        var sbom = await PushArtifactAsync(subject.Manifest, SbomType, "sbom-1");
        var secondSbom = await PushArtifactAsync(subject.Manifest, SbomType, "sbom-2");
        await PushArtifactAsync(subject.Manifest, SignatureType, "signature");

        var (response, referrers) = await ListAsync(subject.Manifest.Digest, SbomType);

        using (response)
        {
            Assert.Equal("artifactType", response.Header("OCI-Filters-Applied"));
            Assert.Equal(new[] { sbom.Digest, secondSbom.Digest }.Order(StringComparer.Ordinal), referrers.Select(r => r.Digest).Order(StringComparer.Ordinal));
            Assert.All(referrers, r => Assert.Equal(SbomType, r.ArtifactType));
        }
    }

    [Fact]
    public async Task List_FilterMatchingNothing_ReturnsEmptyIndexWithFiltersAppliedHeader()
    {
        var subject = await _client.PushImageAsync(_repository, "v1");
        await PushArtifactAsync(subject.Manifest, SbomType, "sbom");

        var (response, referrers) = await ListAsync(subject.Manifest.Digest, "application/vnd.example.nothing");

        using (response)
        {
            Assert.Empty(referrers);
            Assert.Equal("artifactType", response.Header("OCI-Filters-Applied"));
        }
    }

    [Fact]
    public async Task List_FilterOnConfigMediaTypeFallback_Matches()
    {
        var subject = await _client.PushImageAsync(_repository, "v1");
        var config = await _client.PushBlobAsync(_repository, Oci.ConfigJson(), CustomConfigType);
        var manifest = Oci.Manifest(config, [], subject: subject.Manifest);
        var pushed = await _client.PushManifestAsync(_repository, Oci.DigestOf(manifest), Oci.ImageManifest, manifest);

        var (response, referrers) = await ListAsync(subject.Manifest.Digest, CustomConfigType);

        using (response)
        {
            Assert.Equal(pushed.Digest, Assert.Single(referrers).Digest);
        }
    }

    [Fact]
    public async Task List_DeletedReferrer_Disappears()
    {
        var subject = await _client.PushImageAsync(_repository, "v1");
        var kept = await PushArtifactAsync(subject.Manifest, SbomType, "kept");
        var deleted = await PushArtifactAsync(subject.Manifest, SbomType, "deleted");
        using (var delete = await _client.DeleteAsync($"/v2/{_repository}/manifests/{deleted.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        var (response, referrers) = await ListAsync(subject.Manifest.Digest);

        using (response)
        {
            Assert.Equal(kept.Digest, Assert.Single(referrers).Digest);
        }
    }

    [Fact]
    public async Task List_ReferrerPushedBeforeItsSubject_IsListed()
    {
        // Spec: clients may push a manifest and its referrers in either order.
        var configBytes = Oci.ConfigJson();
        var layerBytes = Oci.RandomBytes(100);
        var config = await _client.PushBlobAsync(_repository, configBytes, Oci.ImageConfig);
        var layer = await _client.PushBlobAsync(_repository, layerBytes);
        var subjectBytes = Oci.Manifest(config, [layer]);
        var subject = OciDescriptor.Of(Oci.ImageManifest, subjectBytes);
        var artifact = await PushArtifactAsync(subject, SbomType, "early");

        var (before, listedBefore) = await ListAsync(subject.Digest);
        await _client.PushManifestAsync(_repository, "late-subject", Oci.ImageManifest, subjectBytes);
        var (after, listedAfter) = await ListAsync(subject.Digest);

        using (before)
        using (after)
        {
            Assert.Equal(artifact.Digest, Assert.Single(listedBefore).Digest);
            Assert.Equal(artifact.Digest, Assert.Single(listedAfter).Digest);
        }
    }

    [Fact]
    public async Task List_ReferrersInAnotherRepository_AreNotListed()
    {
        var subject = await _client.PushImageAsync(_repository, "v1");
        var other = Oci.UniqueRepository("referrers");
        await PushArtifactAsync(subject.Manifest, SbomType, "elsewhere", other);

        var (response, referrers) = await ListAsync(subject.Manifest.Digest);

        using (response)
        {
            Assert.Empty(referrers);
        }
    }

    [Fact]
    public async Task List_SubjectDeleted_ReferrersStillListed()
    {
        var subject = await _client.PushImageAsync(_repository, "v1");
        var artifact = await PushArtifactAsync(subject.Manifest, SbomType, "orphan");
        using (var delete = await _client.DeleteAsync($"/v2/{_repository}/manifests/{subject.Manifest.Digest}"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        var (response, referrers) = await ListAsync(subject.Manifest.Digest);

        using (response)
        {
            Assert.Equal(artifact.Digest, Assert.Single(referrers).Digest);
        }
    }

    [Theory]
    [InlineData("latest")]
    [InlineData("sha256:1234")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    public async Task List_InvalidDigest_Returns400DigestInvalid(string digest)
    {
        await _client.PushImageAsync(_repository, "v1");

        using var response = await _client.GetAsync($"/v2/{_repository}/referrers/{digest}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }
}
