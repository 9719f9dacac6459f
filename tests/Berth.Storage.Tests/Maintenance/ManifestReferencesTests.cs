using Berth.Core;
using Berth.Storage.Maintenance;
using static Berth.Storage.Tests.Maintenance.MaintenanceHarness;

namespace Berth.Storage.Tests.Maintenance;

public sealed class ManifestReferencesTests
{
    private static readonly Digest A = Digest.Compute(Bytes("a"));
    private static readonly Digest B = Digest.Compute(Bytes("b"));
    private static readonly Digest C = Digest.Compute(Bytes("c"));

    [Fact]
    public void Extract_ImageManifest_ConfigAndLayersWithoutForeignOnes()
    {
        var content = Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{{Descriptor(OciConfig, A, 1)}},"layers":[{{Descriptor(OciLayer, B, 1)}},{{Descriptor("application/vnd.oci.image.layer.nondistributable.v1.tar", C, 1)}}],"subject":{{Descriptor(MediaTypes.OciManifest, C, 1)}}}""");

        var references = ManifestReferences.Extract(content);

        Assert.True(references.Understood);
        Assert.Equal([A, B], references.Blobs);
        Assert.Empty(references.Manifests);
        Assert.Equal(C, references.Subject);
    }

    [Fact]
    public void Extract_Index_ChildrenAreManifests()
    {
        var content = Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[{{Descriptor(MediaTypes.OciManifest, A, 1)}},{{Descriptor(MediaTypes.OciManifest, B, 1)}}]}""");

        var references = ManifestReferences.Extract(content);

        Assert.True(references.Understood);
        Assert.Empty(references.Blobs);
        Assert.Equal([A, B], references.Manifests);
        Assert.Null(references.Subject);
    }

    [Fact]
    public void Extract_Schema1_FallsBackToBlobSums()
    {
        var content = Bytes($$$"""{"schemaVersion":1,"fsLayers":[{"blobSum":"{{{A}}}"},{"blobSum":"{{{B}}}"},{"blobSum":"{{{A}}}"}],"signatures":[{"header":{}}]}""");

        var references = ManifestReferences.Extract(content);

        Assert.False(references.Understood);
        Assert.Equal([A, B], references.Blobs);
        Assert.Equal([A, B], references.Manifests);
    }

    [Fact]
    public void Extract_UnknownFormat_KeepsEveryDigestItNames()
    {
        var content = Bytes($$$"""{"schemaVersion":3,"things":[{"digest":"{{{A}}}"},{"nested":{"digest":"{{{B}}}"}}],"subject":{"digest":"{{{C}}}"},"digest":"sha1:nope"}""");

        var references = ManifestReferences.Extract(content);

        Assert.False(references.Understood);
        Assert.Equal([A, B, C], references.Blobs);
        Assert.Equal(C, references.Subject);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[1,2")]
    public void Extract_NotJson_IsOpaque(string text)
    {
        var references = ManifestReferences.Extract(Bytes(text));

        Assert.Same(ManifestReferences.Opaque, references);
    }
}
