using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Artifacts with a <c>subject</c>, pushed by a real client: <c>@sigstore/oci</c> (npm), the library GitHub's artifact
/// attestations use to attach Sigstore bundles to container images. It builds an OCI manifest with <c>subject</c>
/// and <c>artifactType</c> itself, reads the registry's <c>OCI-Subject</c> answer and probes the referrers API;
/// without one it would fall back to a <c>sha256-HEX</c> referrers tag. Berth only: Distribution 2.8.2 has no
/// referrers API.
/// </summary>
/// <remarks>
/// The client is installed with <c>npm ci</c> from <c>Clients/sigstore-oci</c> (versions pinned by its lock file) into
/// a temporary copy, so the run needs the npm registry and node ≥ 20.17; ORAS and crane are not packaged here.
/// </remarks>
public sealed class ReferrersSigstoreTests(BerthFixture fixture, ITestOutputHelper log) : IClassFixture<BerthFixture>, IDisposable
{
    private const string SigstoreBundleType = "application/vnd.dev.sigstore.bundle.v0.3+json";
    private const string SbomType = "application/spdx+json";
    private const string EmptyConfigType = "application/vnd.oci.empty.v1+json";
    private static readonly CommandOptions NpmOptions = new() { Timeout = TimeSpan.FromMinutes(4) };

    private readonly RegistryProcess _registry = fixture.Registry;
    private readonly RegistryApiClient _api = new(fixture.Registry);
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("sigstore-oci");

    [Fact]
    public async Task AttachArtifacts_TwoTypes_ReferrersListsBothFiltersByArtifactTypeAndNeedsNoFallbackTag()
    {
        var client = await InstallClientAsync();
        var layout = new OciLayoutWriter(_temp.CreateSubdirectory("layout"));
        var image = layout.AddImage(new OciPlatform("linux", "amd64"), 32 * 1024);
        layout.Tag("1", image.Manifest);
        var repository = $"referrers/sigstore-{Guid.NewGuid().ToString("N")[..10]}";
        await new Skopeo(log, _registry).CopyAsync(layout.Reference("1"), $"docker://{_registry.Host}/{repository}:1");

        var bundleContent = Encoding.UTF8.GetBytes("""{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","note":"berth e2e"}""");
        var sbomContent = Encoding.UTF8.GetBytes("""{"spdxVersion":"SPDX-2.3","name":"berth-e2e"}""");
        var bundle = await AttachAsync(client, repository, image.Manifest.Digest, SigstoreBundleType, bundleContent);
        var sbom = await AttachAsync(client, repository, image.Manifest.Digest, SbomType, sbomContent);

        // The client saw Berth's OCI-Subject header, so Berth processed the subject itself.
        Assert.Equal(image.Manifest.Digest, (string?)bundle["subjectDigest"]);
        Assert.Equal(image.Manifest.Digest, (string?)sbom["subjectDigest"]);

        // The manifests are the client's own: subject, artifactType, the empty config and the artifact as the only layer.
        foreach (var (descriptor, type, content) in new[] { (bundle, SigstoreBundleType, bundleContent), (sbom, SbomType, sbomContent) })
        {
            var manifest = await _api.GetManifestAsync(repository, (string)descriptor["digest"]!);
            var json = JsonNode.Parse(manifest.Content)!;
            Assert.Equal(MediaTypes.OciManifest, manifest.ContentType);
            Assert.Equal(type, (string?)json["artifactType"]);
            Assert.Equal(image.Manifest.Digest, (string?)json["subject"]?["digest"]);
            Assert.Equal(image.Manifest.Size, (long?)json["subject"]?["size"]);
            Assert.Equal(EmptyConfigType, manifest.Document.Config?.MediaType);
            Assert.Equal("{}", Encoding.UTF8.GetString(await _api.GetBlobAsync(repository, manifest.Document.Config!.Digest)));
            var layer = Assert.Single(manifest.Document.Layers);
            Assert.Equal(type, layer.MediaType);
            var servedArtifact = await _api.GetBlobAsync(repository, layer.Digest);
            Assert.True(content.AsSpan().SequenceEqual(servedArtifact), $"The {type} artifact differs.");
        }

        var all = await GetReferrersAsync(repository, image.Manifest.Digest, artifactType: null);
        Assert.Null(all.FiltersApplied);
        Assert.Equal(
            new[] { ((string)bundle["digest"]!, SigstoreBundleType), ((string)sbom["digest"]!, SbomType) }.Order(),
            all.Entries.Select(entry => ((string)entry["digest"]!, (string)entry["artifactType"]!)).Order());
        Assert.All(all.Entries, entry => Assert.Equal("attached", (string?)entry["annotations"]?["org.example.berth-e2e"]));

        var onlyBundles = await GetReferrersAsync(repository, image.Manifest.Digest, SigstoreBundleType);
        Assert.Equal("artifactType", onlyBundles.FiltersApplied);
        Assert.Equal((string)bundle["digest"]!, (string?)Assert.Single(onlyBundles.Entries)["digest"]);
        var none = await GetReferrersAsync(repository, image.Manifest.Digest, "application/vnd.example.absent");
        Assert.Empty(none.Entries);

        // With the referrers API answering, the client creates no fallback tag.
        Assert.Equal(["1"], await _api.ListTagsAsync(repository));

        // Deleting an artifact takes it off the subject's referrers list.
        using var delete = new HttpRequestMessage(HttpMethod.Delete, new Uri($"v2/{repository}/manifests/{(string)sbom["digest"]!}", UriKind.Relative));
        using var deleted = await _api.SendAsync(delete);
        await _api.EnsureStatusAsync(deleted, HttpStatusCode.Accepted);
        var afterDelete = await GetReferrersAsync(repository, image.Manifest.Digest, artifactType: null);
        Assert.Equal((string)bundle["digest"]!, (string?)Assert.Single(afterDelete.Entries)["digest"]);
    }

    public void Dispose()
    {
        _api.Dispose();
        _temp.Dispose();
    }

    /// <summary>Copies the client's package into the temp directory and installs its locked dependencies.</summary>
    private async Task<string> InstallClientAsync()
    {
        var source = Path.Combine(BuildOutput.RepositoryRoot, "tests", "Berth.EndToEnd.Tests", "Clients", "sigstore-oci");
        var client = _temp.CreateSubdirectory("client");
        foreach (var name in new[] { "package.json", "package-lock.json", "attach.mjs" })
        {
            File.Copy(Path.Combine(source, name), Path.Combine(client, name));
        }

        await ExternalCommand.RunCheckedAsync("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], log,
            NpmOptions with { WorkingDirectory = client });
        return client;
    }

    private async Task<JsonNode> AttachAsync(string client, string repository, string subjectDigest, string artifactType, byte[] content)
    {
        var file = Path.Combine(client, $"artifact-{Guid.NewGuid():N}.json");
        await File.WriteAllBytesAsync(file, content);
        var result = await ExternalCommand.WithRegistryLogAsync(_registry, () => ExternalCommand.RunCheckedAsync(
            "node", ["attach.mjs", $"{_registry.Host}/{repository}", subjectDigest, artifactType, file], log, NpmOptions with { WorkingDirectory = client }));
        return JsonNode.Parse(result.StandardOutput.Trim().Split('\n')[^1])
            ?? throw new FormatException($"attach.mjs printed no descriptor: {result.StandardOutput}");
    }

    private async Task<(IReadOnlyList<JsonNode> Entries, string? FiltersApplied)> GetReferrersAsync(string repository, string digest, string? artifactType)
    {
        var query = artifactType is null ? "" : $"?artifactType={Uri.EscapeDataString(artifactType)}";
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"v2/{repository}/referrers/{digest}{query}", UriKind.Relative));
        using var response = await _api.SendAsync(request);
        await _api.EnsureStatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(MediaTypes.OciIndex, response.Content.Headers.ContentType?.MediaType);
        var index = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var filters = response.Headers.TryGetValues("OCI-Filters-Applied", out var values) ? string.Join(",", values) : null;
        return ([.. (index["manifests"] as JsonArray ?? []).Select(entry => entry!)], filters);
    }
}
