using System.Text.Json;
using Berth.Core;
using Berth.Core.Errors;
using static Berth.Storage.Tests.Stores.StoreHarness;

namespace Berth.Storage.Tests.Stores;

public sealed class ManifestStoreTests
{
    private const string OciConfig = "application/vnd.oci.image.config.v1+json";
    private const string OciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
    private static readonly RepositoryName Repo = Name("library/app");
    private readonly StoreHarness _h = new();

    private static string Desc(string mediaType, Digest digest, long size) =>
        $$"""{"mediaType":"{{mediaType}}","digest":"{{digest}}","size":{{size}}}""";

    private static byte[] ImageManifest(Digest config, Digest[] layers, string extra = "") =>
        Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{{Desc(OciConfig, config, 2)}},"layers":[{{string.Join(',', layers.Select(l => Desc(OciLayer, l, 5)))}}]{{extra}}}""");

    /// <summary>Pushes a config and a layer into <paramref name="name"/> and returns a manifest over them.</summary>
    private async Task<byte[]> ImageWithBlobsAsync(RepositoryName name, string seed, string extra = "")
    {
        var config = await _h.PutBlobAsync(name, Bytes("{\"seed\":\"" + seed + "\"}"));
        var layer = await _h.PutBlobAsync(name, Bytes("layer " + seed));
        return ImageManifest(config, [layer], extra);
    }

    [Fact]
    public async Task Put_ByTag_ThenGetByTagAndByDigest()
    {
        var content = await ImageWithBlobsAsync(Repo, "one");

        var (digest, manifest) = await _h.Manifests.PutAsync(Repo, Reference.Parse("v1"), content, MediaTypes.OciManifest, Ct);

        Assert.Equal(Digest.Compute(content), digest);
        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
        var byTag = await _h.Manifests.GetAsync(Repo, Reference.Parse("v1"), Ct);
        var byDigest = await _h.Manifests.GetAsync(Repo, Reference.Parse(digest.ToString()), Ct);
        Assert.NotNull(byTag);
        Assert.NotNull(byDigest);
        Assert.Equal(content, byTag.Content);
        Assert.Equal(digest, byTag.Digest);
        Assert.Equal(MediaTypes.OciManifest, byTag.MediaType);
        Assert.Equal(content, byDigest.Content);
        Assert.Equal(digest, await _h.Tags.ResolveAsync(Repo, "v1", Ct));
        Assert.True(await _h.Manifests.ExistsAsync(Repo, digest, Ct));
    }

    [Fact]
    public async Task Put_WritesDistributionLayout()
    {
        var content = await ImageWithBlobsAsync(Repo, "one");

        var (digest, _) = await _h.Manifests.PutAsync(Repo, Reference.Parse("latest"), content, null, Ct);

        var repo = "/docker/registry/v2/repositories/library/app";
        Assert.Equal(content, await _h.Driver.GetContentAsync(
            $"/docker/registry/v2/blobs/sha256/{digest.Encoded[..2]}/{digest.Encoded}/data", 1 << 20, Ct));
        Assert.Equal(Bytes(digest.ToString()), await _h.Driver.GetContentAsync(
            $"{repo}/_manifests/revisions/sha256/{digest.Encoded}/link", 1024, Ct));
        Assert.Equal(Bytes(digest.ToString()), await _h.Driver.GetContentAsync($"{repo}/_manifests/tags/latest/current/link", 1024, Ct));
        Assert.Equal(Bytes(digest.ToString()), await _h.Driver.GetContentAsync(
            $"{repo}/_manifests/tags/latest/index/sha256/{digest.Encoded}/link", 1024, Ct));
    }

    [Fact]
    public async Task Put_MissingLayer_ThrowsManifestBlobUnknownAndStoresNothing()
    {
        var config = await _h.PutBlobAsync(Repo, Bytes("{}"));
        var missing = Digest.Compute(Bytes("never pushed"));
        var content = ImageManifest(config, [missing]);

        var exception = await ThrowsAsync(ErrorCode.ManifestBlobUnknown,
            () => _h.Manifests.PutAsync(Repo, Reference.Parse("v1"), content, MediaTypes.OciManifest, Ct));

        Assert.Equal(missing.ToString(), JsonSerializer.SerializeToElement(exception.Detail).GetProperty("digest").GetString());
        Assert.Null(await _h.Manifests.GetAsync(Repo, Reference.Parse("v1"), Ct));
        Assert.Null(await _h.Manifests.GetAsync(Repo, Digest.Compute(content), Ct));
        Assert.Null(await _h.Tags.ResolveAsync(Repo, "v1", Ct));
    }

    [Fact]
    public async Task Put_MissingConfig_ThrowsManifestBlobUnknown()
    {
        var layer = await _h.PutBlobAsync(Repo, Bytes("layer"));
        var content = ImageManifest(Digest.Compute(Bytes("no config")), [layer]);

        await ThrowsAsync(ErrorCode.ManifestBlobUnknown, () => _h.Manifests.PutAsync(Repo, Reference.Parse("v1"), content, null, Ct));
    }

    [Fact]
    public async Task Put_LayerOnlyInAnotherRepository_ThrowsManifestBlobUnknown()
    {
        var config = await _h.PutBlobAsync(Repo, Bytes("{}"));
        var foreignRepoLayer = await _h.PutBlobAsync(Name("someone/else"), Bytes("their layer"));

        await ThrowsAsync(ErrorCode.ManifestBlobUnknown,
            () => _h.Manifests.PutAsync(Repo, Reference.Parse("v1"), ImageManifest(config, [foreignRepoLayer]), null, Ct));
    }

    [Fact]
    public async Task Put_ForeignLayerNotPushed_IsAccepted()
    {
        var config = await _h.PutBlobAsync(Repo, Bytes("{}"));
        var foreign = Digest.Compute(Bytes("windows base layer"));
        var content = Bytes($$"""
            {"schemaVersion":2,"mediaType":"{{MediaTypes.DockerManifest}}",
             "config":{{Desc("application/vnd.docker.container.image.v1+json", config, 2)}},
             "layers":[{"mediaType":"{{MediaTypes.DockerForeignLayer}}","digest":"{{foreign}}","size":100,"urls":["https://example.com/l"]}]}
            """);

        var (digest, _) = await _h.Manifests.PutAsync(Repo, Reference.Parse("win"), content, MediaTypes.DockerManifest, Ct);

        Assert.Equal(MediaTypes.DockerManifest, (await _h.Manifests.GetAsync(Repo, digest, Ct))!.MediaType);
    }

    [Fact]
    public async Task Put_DigestReferenceMismatch_ThrowsDigestInvalidAndStoresNothing()
    {
        var content = await ImageWithBlobsAsync(Repo, "one");
        var other = Digest.Compute(Bytes("other"));

        await ThrowsAsync(ErrorCode.DigestInvalid,
            () => _h.Manifests.PutAsync(Repo, Reference.Parse(other.ToString()), content, MediaTypes.OciManifest, Ct));

        Assert.Null(await _h.Manifests.GetAsync(Repo, Digest.Compute(content), Ct));
        Assert.Null(await _h.Manifests.GetAsync(Repo, other, Ct));
    }

    [Fact]
    public async Task Put_MatchingDigestReference_StoresWithoutTagging()
    {
        var content = await ImageWithBlobsAsync(Repo, "one");
        var digest = Digest.Compute(content);

        var (stored, _) = await _h.Manifests.PutAsync(Repo, Reference.Parse(digest.ToString()), content, MediaTypes.OciManifest, Ct);

        Assert.Equal(digest, stored);
        Assert.NotNull(await _h.Manifests.GetAsync(Repo, digest, Ct));
        Assert.Equal([], await _h.Tags.ListAsync(Repo, Ct));
    }

    [Fact]
    public async Task Put_Sha512DigestReference_StoresUnderSha512()
    {
        var content = await ImageWithBlobsAsync(Repo, "one");
        var digest = Digest.Compute(content, Digest.Sha512);

        var (stored, _) = await _h.Manifests.PutAsync(Repo, Reference.Parse(digest.ToString()), content, null, Ct);

        Assert.Equal(digest, stored);
        Assert.Equal(content, (await _h.Manifests.GetAsync(Repo, digest, Ct))!.Content);
    }

    [Fact]
    public async Task Put_InvalidBody_ThrowsManifestInvalid()
    {
        await ThrowsAsync(ErrorCode.ManifestInvalid, () => _h.Manifests.PutAsync(Repo, Reference.Parse("v1"), Bytes("{nope"), null, Ct));
    }

    [Fact]
    public async Task Put_IndexWithMissingChild_ThrowsManifestBlobUnknown()
    {
        var child = Digest.Compute(Bytes("not pushed"));
        var index = Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[{{Desc(MediaTypes.OciManifest, child, 10)}}]}""");

        await ThrowsAsync(ErrorCode.ManifestBlobUnknown, () => _h.Manifests.PutAsync(Repo, Reference.Parse("multi"), index, null, Ct));
    }

    [Fact]
    public async Task Put_IndexWithPushedChildren_IsStoredAndServedAsIndex()
    {
        var childContent = await ImageWithBlobsAsync(Repo, "amd64");
        var (child, _) = await _h.Manifests.PutAsync(Repo, Reference.Parse(Digest.Compute(childContent).ToString()), childContent, null, Ct);
        var index = Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[{{Desc(MediaTypes.OciManifest, child, childContent.Length)}}]}""");

        await _h.Manifests.PutAsync(Repo, Reference.Parse("multi"), index, MediaTypes.OciIndex, Ct);

        var stored = await _h.Manifests.GetAsync(Repo, Reference.Parse("multi"), Ct);
        Assert.Equal(MediaTypes.OciIndex, stored!.MediaType);
    }

    [Fact]
    public async Task Put_SameTagAgain_MovesTheTag()
    {
        var first = await ImageWithBlobsAsync(Repo, "one");
        var second = await ImageWithBlobsAsync(Repo, "two");
        var (firstDigest, _) = await _h.Manifests.PutAsync(Repo, Reference.Parse("latest"), first, null, Ct);

        var (secondDigest, _) = await _h.Manifests.PutAsync(Repo, Reference.Parse("latest"), second, null, Ct);

        Assert.Equal(secondDigest, (await _h.Manifests.GetAsync(Repo, Reference.Parse("latest"), Ct))!.Digest);
        Assert.NotNull(await _h.Manifests.GetAsync(Repo, firstDigest, Ct));
    }

    /// <summary>
    /// Whatever media type a push was accepted as must be the one a pull answers with. A Docker
    /// schema2 body without <c>mediaType</c>, pushed with the Docker Content-Type, is accepted as Docker
    /// but served as OCI (the digest then names a manifest whose type changed). Rejecting the push,
    /// as registry:2 does, also satisfies this test.
    /// </summary>
    [Fact]
    public async Task Put_DockerContentTypeWithoutBodyMediaType_IsServedAsTheTypeItWasAcceptedAs()
    {
        var config = await _h.PutBlobAsync(Repo, Bytes("{}"));
        var layer = await _h.PutBlobAsync(Repo, Bytes("layer"));
        var content = Bytes($$"""
            {"schemaVersion":2,"config":{{Desc("application/vnd.docker.container.image.v1+json", config, 2)}},
             "layers":[{{Desc("application/vnd.docker.image.rootfs.diff.tar.gzip", layer, 5)}}]}
            """);

        Digest digest;
        string acceptedAs;
        try
        {
            var (stored, manifest) = await _h.Manifests.PutAsync(Repo, Reference.Parse("v1"), content, MediaTypes.DockerManifest, Ct);
            (digest, acceptedAs) = (stored, manifest.MediaType);
        }
        catch (RegistryException ex) when (ex.Code == ErrorCode.ManifestInvalid)
        {
            return;
        }

        Assert.Equal(acceptedAs, (await _h.Manifests.GetAsync(Repo, digest, Ct))!.MediaType);
    }

    [Fact]
    public async Task Get_UnknownTagOrDigest_ReturnsNull()
    {
        Assert.Null(await _h.Manifests.GetAsync(Repo, Reference.Parse("nope"), Ct));
        Assert.Null(await _h.Manifests.GetAsync(Repo, Digest.Compute(Bytes("nope")), Ct));
    }

    [Fact]
    public async Task Get_ManifestOfAnotherRepository_ReturnsNull()
    {
        var content = await ImageWithBlobsAsync(Repo, "one");
        var (digest, _) = await _h.Manifests.PutAsync(Repo, Reference.Parse("v1"), content, null, Ct);

        Assert.Null(await _h.Manifests.GetAsync(Name("other/repo"), digest, Ct));
        Assert.Null(await _h.Manifests.GetAsync(Name("other/repo"), Reference.Parse("v1"), Ct));
    }

    [Fact]
    public async Task Delete_RemovesManifestItsTagsAndItsReferrerEntry()
    {
        var subjectContent = await ImageWithBlobsAsync(Repo, "subject");
        var (subject, _) = await _h.Manifests.PutAsync(Repo, Reference.Parse("v1"), subjectContent, null, Ct);
        await _h.Tags.SetAsync(Repo, "stable", subject, Ct);
        var otherContent = await ImageWithBlobsAsync(Repo, "other");
        var (other, _) = await _h.Manifests.PutAsync(Repo, Reference.Parse("other"), otherContent, null, Ct);
        var signatureContent = await ImageWithBlobsAsync(Repo, "sig",
            $",\"artifactType\":\"application/vnd.example.sig\",\"subject\":{Desc(MediaTypes.OciManifest, subject, subjectContent.Length)}");
        var (signature, _) = await _h.Manifests.PutAsync(Repo, Reference.Parse("sig"), signatureContent, null, Ct);
        Assert.Equal([signature], await _h.Referrers.ListAsync(Repo, subject, Ct));

        Assert.True(await _h.Manifests.DeleteAsync(Repo, signature, Ct));

        Assert.Empty(await _h.Referrers.ListAsync(Repo, subject, Ct));
        Assert.Null(await _h.Manifests.GetAsync(Repo, signature, Ct));
        Assert.Null(await _h.Tags.ResolveAsync(Repo, "sig", Ct));

        Assert.True(await _h.Manifests.DeleteAsync(Repo, subject, Ct));

        Assert.False(await _h.Manifests.ExistsAsync(Repo, subject, Ct));
        Assert.Null(await _h.Manifests.GetAsync(Repo, Reference.Parse("v1"), Ct));
        Assert.Equal(["other"], await _h.Tags.ListAsync(Repo, Ct));
        Assert.Equal(other, await _h.Tags.ResolveAsync(Repo, "other", Ct));
    }

    [Fact]
    public async Task Delete_UnknownManifest_ReturnsFalse()
    {
        Assert.False(await _h.Manifests.DeleteAsync(Repo, Digest.Compute(Bytes("nope")), Ct));
    }

    [Fact]
    public async Task Delete_KeepsContentForGarbageCollection()
    {
        var content = await ImageWithBlobsAsync(Repo, "one");
        var (digest, _) = await _h.Manifests.PutAsync(Repo, Reference.Parse("v1"), content, null, Ct);

        await _h.Manifests.DeleteAsync(Repo, digest, Ct);

        Assert.Equal(content.Length, await _h.Blobs.StatContentAsync(digest, Ct));
    }
}
