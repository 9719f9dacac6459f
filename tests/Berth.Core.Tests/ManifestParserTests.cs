using System.Text;
using System.Text.Json;
using Berth.Core.Errors;
using Berth.Core.Manifests;

namespace Berth.Core.Tests;

public sealed class ManifestParserTests
{
    private const string OciConfig = "application/vnd.oci.image.config.v1+json";
    private const string OciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
    private const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    private const string DockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    private const string SignatureType = "application/vnd.example.signature.v1";

    private static readonly string ConfigDigest = D("config");
    private static readonly string Layer1Digest = D("layer1");
    private static readonly string Layer2Digest = D("layer2");
    private static readonly string ChildDigest = D("child");
    private static readonly string EmptyJsonDigest = Digest.Compute("{}"u8).ToString();

    private static string D(string seed) => Digest.Compute(Encoding.UTF8.GetBytes(seed)).ToString();

    private static string Desc(string mediaType, string digest, long size = 10, string extra = "") =>
        $$"""{"mediaType":"{{mediaType}}","digest":"{{digest}}","size":{{size}}{{extra}}}""";

    private static string ImageJson(string? mediaType, string configType = OciConfig, string? layers = null, string extra = "")
    {
        var mediaTypeField = mediaType is null ? "" : $"\"mediaType\":\"{mediaType}\",";
        layers ??= $"[{Desc(OciLayer, Layer1Digest, 100)},{Desc(OciLayer, Layer2Digest, 200)}]";
        return $$"""{"schemaVersion":2,{{mediaTypeField}}"config":{{Desc(configType, ConfigDigest, 30)}},"layers":{{layers}}{{extra}}}""";
    }

    private static string IndexJson(string? mediaType, string childType = MediaTypes.OciManifest, string extra = "")
    {
        var mediaTypeField = mediaType is null ? "" : $"\"mediaType\":\"{mediaType}\",";
        var platform = ""","platform":{"architecture":"amd64","os":"linux"}""";
        return $$"""{"schemaVersion":2,{{mediaTypeField}}"manifests":[{{Desc(childType, ChildDigest, 500, platform)}}]{{extra}}}""";
    }

    private static Manifest Parse(string json, string? contentType = null) => ManifestParser.Parse(Encoding.UTF8.GetBytes(json), contentType);

    private static void AssertInvalid(string json, string? contentType = null) =>
        RegistryAssert.Throws(ErrorCode.ManifestInvalid, () => Parse(json, contentType));

    [Fact]
    public void Parse_OciImageManifest_ReadsConfigLayersAndAnnotations()
    {
        var json = ImageJson(MediaTypes.OciManifest, extra: ""","annotations":{"org.opencontainers.image.created":"2024-01-01"}""");

        var manifest = Parse(json, MediaTypes.OciManifest);

        Assert.Equal(ManifestKind.OciImageManifest, manifest.Kind);
        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
        Assert.False(manifest.IsIndex);
        Assert.Equal(new Descriptor(OciConfig, Digest.Parse(ConfigDigest), 30), manifest.Config);
        Assert.Equal([Layer1Digest, Layer2Digest], manifest.Layers.Select(l => l.Digest.ToString()));
        Assert.Equal([100L, 200L], manifest.Layers.Select(l => l.Size));
        Assert.Empty(manifest.Manifests);
        Assert.Null(manifest.Subject);
        Assert.Null(manifest.ArtifactType);
        Assert.Equal("2024-01-01", manifest.Annotations!["org.opencontainers.image.created"]);
        Assert.Equal([ConfigDigest, Layer1Digest, Layer2Digest], manifest.RequiredBlobs.Select(d => d.Digest.ToString()));
    }

    [Fact]
    public void Parse_OciImageIndex_ReadsManifestsWithPlatform()
    {
        var manifest = Parse(IndexJson(MediaTypes.OciIndex), MediaTypes.OciIndex);

        Assert.Equal(ManifestKind.OciImageIndex, manifest.Kind);
        Assert.Equal(MediaTypes.OciIndex, manifest.MediaType);
        Assert.True(manifest.IsIndex);
        Assert.Null(manifest.Config);
        Assert.Empty(manifest.Layers);
        Assert.Empty(manifest.RequiredBlobs);
        var child = Assert.Single(manifest.Manifests);
        Assert.Equal(MediaTypes.OciManifest, child.MediaType);
        Assert.Equal(ChildDigest, child.Digest.ToString());
        Assert.Equal(500, child.Size);
        Assert.NotNull(child.Platform);
        Assert.Equal("amd64", child.Platform.Value.GetProperty("architecture").GetString());
    }

    [Fact]
    public void Parse_DockerSchema2_IsDockerManifest()
    {
        var layers = $"[{Desc(DockerLayer, Layer1Digest, 100)}]";
        var manifest = Parse(ImageJson(MediaTypes.DockerManifest, DockerConfig, layers), MediaTypes.DockerManifest);

        Assert.Equal(ManifestKind.DockerManifest, manifest.Kind);
        Assert.Equal(MediaTypes.DockerManifest, manifest.MediaType);
        Assert.Equal(DockerConfig, manifest.Config!.MediaType);
        Assert.Single(manifest.Layers);
        Assert.Equal(DockerConfig, manifest.EffectiveArtifactType);
    }

    [Fact]
    public void Parse_DockerManifestList_IsDockerManifestList()
    {
        var manifest = Parse(IndexJson(MediaTypes.DockerManifestList, MediaTypes.DockerManifest), MediaTypes.DockerManifestList);

        Assert.Equal(ManifestKind.DockerManifestList, manifest.Kind);
        Assert.Equal(MediaTypes.DockerManifestList, manifest.MediaType);
        Assert.True(manifest.IsIndex);
        Assert.Equal(MediaTypes.DockerManifest, Assert.Single(manifest.Manifests).MediaType);
    }

    [Fact]
    public void Parse_ArtifactWithSubjectAndEmptyConfig_ReadsArtifactTypeAndSubject()
    {
        var subjectDigest = D("subject");
        var json = $$"""
            {
              "schemaVersion": 2,
              "mediaType": "{{MediaTypes.OciManifest}}",
              "artifactType": "{{SignatureType}}",
              "config": {{Desc(MediaTypes.OciEmpty, EmptyJsonDigest, 2)}},
              "layers": [{{Desc("application/vnd.example.sig", Layer1Digest, 64)}}],
              "subject": {{Desc(MediaTypes.OciManifest, subjectDigest, 1234)}},
              "annotations": {"org.example.signed-by": "test"}
            }
            """;

        var manifest = Parse(json, MediaTypes.OciManifest);

        Assert.Equal(ManifestKind.OciImageManifest, manifest.Kind);
        Assert.Equal(SignatureType, manifest.ArtifactType);
        Assert.Equal(SignatureType, manifest.EffectiveArtifactType);
        Assert.Equal(MediaTypes.OciEmpty, manifest.Config!.MediaType);
        Assert.Equal(2, manifest.Config.Size);
        Assert.Equal(EmptyJsonDigest, manifest.Config.Digest.ToString());
        Assert.NotNull(manifest.Subject);
        Assert.Equal(subjectDigest, manifest.Subject.Digest.ToString());
        Assert.Equal(1234, manifest.Subject.Size);
        Assert.Equal("test", manifest.Annotations!["org.example.signed-by"]);
        Assert.Equal([EmptyJsonDigest, Layer1Digest], manifest.RequiredBlobs.Select(d => d.Digest.ToString()));
    }

    [Fact]
    public void Parse_ArtifactWithEmptyLayers_IsAccepted()
    {
        var json = ImageJson(MediaTypes.OciManifest, MediaTypes.OciEmpty, "[]", $",\"artifactType\":\"{SignatureType}\"");

        var manifest = Parse(json);

        Assert.Empty(manifest.Layers);
        Assert.Equal(SignatureType, manifest.EffectiveArtifactType);
    }

    [Fact]
    public void Parse_IndexWithSubjectAndArtifactType_ReadsThem()
    {
        var subjectDigest = D("subject");
        var extra = $",\"artifactType\":\"{SignatureType}\",\"subject\":{Desc(MediaTypes.OciManifest, subjectDigest, 7)}";

        var manifest = Parse(IndexJson(MediaTypes.OciIndex, extra: extra));

        Assert.Equal(SignatureType, manifest.EffectiveArtifactType);
        Assert.Equal(subjectDigest, manifest.Subject!.Digest.ToString());
    }

    [Fact]
    public void Parse_ImageWithoutMediaTypeOrContentType_InfersOciManifest()
    {
        var manifest = Parse(ImageJson(null), null);

        Assert.Equal(ManifestKind.OciImageManifest, manifest.Kind);
        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
    }

    [Fact]
    public void Parse_IndexWithoutMediaTypeOrContentType_InfersOciIndex()
    {
        var manifest = Parse(IndexJson(null), null);

        Assert.Equal(ManifestKind.OciImageIndex, manifest.Kind);
        Assert.Equal(MediaTypes.OciIndex, manifest.MediaType);
    }

    [Fact]
    public void Parse_WithoutMediaType_UsesOciContentType()
    {
        var manifest = Parse(IndexJson(null), MediaTypes.OciIndex);

        Assert.Equal(ManifestKind.OciImageIndex, manifest.Kind);
        Assert.Equal(MediaTypes.OciIndex, manifest.MediaType);
    }

    /// <summary>
    /// Docker schema2 manifests and manifest lists must carry <c>mediaType</c> in the body; registry:2
    /// refuses them otherwise ("mediaType in manifest should be ..."). Berth accepts the body as Docker
    /// because of the Content-Type, stores it, and later serves it as OCI: <see cref="ManifestParser.DetectMediaType"/>
    /// finds no mediaType and answers <see cref="MediaTypes.OciManifest"/> / <see cref="MediaTypes.OciIndex"/>.
    /// </summary>
    [Fact]
    public void Parse_DockerManifestContentTypeWithoutBodyMediaType_ThrowsManifestInvalid()
    {
        var layers = $"[{Desc(DockerLayer, Layer1Digest)}]";

        AssertInvalid(ImageJson(null, DockerConfig, layers), MediaTypes.DockerManifest);
    }

    /// <summary>See <see cref="Parse_DockerManifestContentTypeWithoutBodyMediaType_ThrowsManifestInvalid"/>.</summary>
    [Fact]
    public void Parse_DockerManifestListContentTypeWithoutBodyMediaType_ThrowsManifestInvalid()
    {
        AssertInvalid(IndexJson(null, MediaTypes.DockerManifest), MediaTypes.DockerManifestList);
    }

    [Fact]
    public void Parse_WithoutMediaType_IgnoresNonManifestContentType()
    {
        var manifest = Parse(ImageJson(null), "application/json");

        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
    }

    [Fact]
    public void Parse_WithoutMediaType_ContentTypeIndexButBodyImage_ThrowsManifestInvalid()
    {
        AssertInvalid(ImageJson(null), MediaTypes.OciIndex);
    }

    [Fact]
    public void Parse_WithoutMediaType_ContentTypeImageButBodyIndex_ThrowsManifestInvalid()
    {
        AssertInvalid(IndexJson(null), MediaTypes.OciManifest);
    }

    [Theory]
    [InlineData(MediaTypes.OciManifest, MediaTypes.DockerManifest)]
    [InlineData(MediaTypes.DockerManifest, MediaTypes.OciManifest)]
    [InlineData(MediaTypes.OciManifest, MediaTypes.OciIndex)]
    public void Parse_ContentTypeDiffersFromBodyMediaType_ThrowsManifestInvalid(string bodyType, string contentType)
    {
        var exception = RegistryAssert.Throws(ErrorCode.ManifestInvalid, () => Parse(ImageJson(bodyType), contentType));

        Assert.Contains("does not match", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("application/vnd.oci.image.manifest.v1+json; charset=utf-8")]
    [InlineData("Application/VND.OCI.Image.Manifest.v1+JSON")]
    [InlineData("  application/vnd.oci.image.manifest.v1+json  ")]
    [InlineData("application/json")]
    [InlineData("application/octet-stream")]
    [InlineData("")]
    public void Parse_ContentTypeCompatibleWithBody_IsAccepted(string contentType)
    {
        var manifest = Parse(ImageJson(MediaTypes.OciManifest), contentType);

        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
    }

    [Fact]
    public void Parse_Schema1_ThrowsManifestInvalid()
    {
        var json = """
            {
              "schemaVersion": 1,
              "name": "library/ubuntu",
              "tag": "latest",
              "architecture": "amd64",
              "fsLayers": [{"blobSum": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}],
              "history": [{"v1Compatibility": "{}"}],
              "signatures": [{"header": {}, "signature": "x", "protected": "y"}]
            }
            """;

        var exception = RegistryAssert.Throws(ErrorCode.ManifestInvalid, () => Parse(json, MediaTypes.DockerSchema1Signed));

        Assert.Contains("schema1", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}""")]
    [InlineData("""{"schemaVersion":3,"config":{},"layers":[]}""")]
    [InlineData("""{"schemaVersion":"2","config":{},"layers":[]}""")]
    public void Parse_MissingOrWrongSchemaVersion_ThrowsManifestInvalid(string json)
    {
        AssertInvalid(json);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("not json")]
    [InlineData("{\"schemaVersion\":2,}")]
    [InlineData("[]")]
    [InlineData("\"manifest\"")]
    [InlineData("null")]
    public void Parse_NotAJsonObject_ThrowsManifestInvalid(string json)
    {
        AssertInvalid(json);
    }

    [Fact]
    public void Parse_UnsupportedBodyMediaType_ThrowsManifestInvalid()
    {
        AssertInvalid(ImageJson("application/vnd.example.unknown+json"));
    }

    [Fact]
    public void Parse_NoMediaTypeNoConfigNoManifests_ThrowsManifestInvalid()
    {
        AssertInvalid("""{"schemaVersion":2,"layers":[]}""");
    }

    [Fact]
    public void Parse_ImageWithoutConfig_ThrowsManifestInvalid()
    {
        AssertInvalid($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","layers":[]}""");
    }

    [Fact]
    public void Parse_ImageWithoutLayers_ThrowsManifestInvalid()
    {
        AssertInvalid($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{{Desc(OciConfig, ConfigDigest)}}}""");
    }

    [Fact]
    public void Parse_ImageWithManifestsField_ThrowsManifestInvalid()
    {
        AssertInvalid(ImageJson(MediaTypes.OciManifest, extra: ""","manifests":[]"""));
    }

    [Fact]
    public void Parse_IndexWithLayersField_ThrowsManifestInvalid()
    {
        AssertInvalid(IndexJson(MediaTypes.OciIndex, extra: ""","layers":[]"""));
    }

    [Fact]
    public void Parse_IndexWithoutManifests_ThrowsManifestInvalid()
    {
        AssertInvalid($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}"}""");
    }

    [Fact]
    public void Parse_LayersNotAnArray_ThrowsManifestInvalid()
    {
        AssertInvalid(ImageJson(MediaTypes.OciManifest, layers: Desc(OciLayer, Layer1Digest)));
    }

    [Theory]
    [InlineData("sha256:xyz")]
    [InlineData("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("")]
    public void Parse_LayerWithBadDigest_ThrowsManifestInvalid(string digest)
    {
        AssertInvalid(ImageJson(MediaTypes.OciManifest, layers: $"[{Desc(OciLayer, digest)}]"));
    }

    [Fact]
    public void Parse_ConfigWithBadDigest_ThrowsManifestInvalid()
    {
        var json = $$"""{"schemaVersion":2,"config":{{Desc(OciConfig, "sha256:abc")}},"layers":[]}""";

        var exception = RegistryAssert.Throws(ErrorCode.ManifestInvalid, () => Parse(json));

        Assert.Contains("config.digest", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SubjectWithBadDigest_ThrowsManifestInvalid()
    {
        AssertInvalid(ImageJson(MediaTypes.OciManifest, extra: $",\"subject\":{Desc(MediaTypes.OciManifest, "sha256:nothex")}"));
    }

    [Fact]
    public void Parse_IndexChildWithBadDigest_ThrowsManifestInvalid()
    {
        AssertInvalid($$"""{"schemaVersion":2,"manifests":[{{Desc(MediaTypes.OciManifest, "sha256:0")}}]}""");
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("\"10\"")]
    [InlineData("null")]
    [InlineData("1e400")]
    [InlineData("99999999999999999999")]
    public void Parse_DescriptorWithBadSize_ThrowsManifestInvalid(string size)
    {
        var layer = $$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1Digest}}","size":{{size}}}""";

        AssertInvalid(ImageJson(MediaTypes.OciManifest, layers: $"[{layer}]"));
    }

    [Fact]
    public void Parse_DescriptorWithoutSize_ThrowsManifestInvalid()
    {
        var layer = $$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1Digest}}"}""";

        AssertInvalid(ImageJson(MediaTypes.OciManifest, layers: $"[{layer}]"));
    }

    [Fact]
    public void Parse_DescriptorWithZeroSize_IsAccepted()
    {
        var manifest = Parse(ImageJson(MediaTypes.OciManifest, layers: $"[{Desc(OciLayer, Layer1Digest, 0)}]"));

        Assert.Equal(0, Assert.Single(manifest.Layers).Size);
    }

    [Theory]
    [InlineData("""{"digest":"DIGEST","size":1}""")]
    [InlineData("""{"mediaType":5,"digest":"DIGEST","size":1}""")]
    [InlineData("""{"mediaType":"a/b","size":1}""")]
    [InlineData("""{"mediaType":"a/b","digest":"DIGEST","size":1,"urls":"http://x"}""")]
    [InlineData("""{"mediaType":"a/b","digest":"DIGEST","size":1,"urls":[1]}""")]
    [InlineData("""{"mediaType":"a/b","digest":"DIGEST","size":1,"annotations":{"k":1}}""")]
    [InlineData("""{"mediaType":"a/b","digest":"DIGEST","size":1,"annotations":[]}""")]
    [InlineData("""{"mediaType":"a/b","digest":"DIGEST","size":1,"platform":"linux"}""")]
    [InlineData("\"a string\"")]
    public void Parse_MalformedLayerDescriptor_ThrowsManifestInvalid(string layer)
    {
        AssertInvalid(ImageJson(MediaTypes.OciManifest, layers: $"[{layer.Replace("DIGEST", Layer1Digest, StringComparison.Ordinal)}]"));
    }

    [Fact]
    public void Parse_ForeignLayers_AreExcludedFromRequiredBlobs()
    {
        var urls = ""","urls":["https://example.com/layer.tar.gz"]""";
        var foreign = Desc(MediaTypes.DockerForeignLayer, D("foreign"), 1000, urls);
        var nondistributable = Desc(MediaTypes.OciNondistributablePrefix + "v1.tar+gzip", D("nondist"), 2000, urls);
        var regular = Desc(DockerLayer, Layer1Digest, 100);
        var layers = $"[{foreign},{regular},{nondistributable}]";

        var manifest = Parse(ImageJson(MediaTypes.DockerManifest, DockerConfig, layers));

        Assert.Equal(3, manifest.Layers.Count);
        Assert.Equal(["https://example.com/layer.tar.gz"], manifest.Layers[0].Urls!);
        Assert.Equal([ConfigDigest, Layer1Digest], manifest.RequiredBlobs.Select(d => d.Digest.ToString()));
    }

    [Fact]
    public void EffectiveArtifactType_ImageWithoutArtifactType_IsConfigMediaType()
    {
        Assert.Equal(OciConfig, Parse(ImageJson(MediaTypes.OciManifest)).EffectiveArtifactType);
    }

    [Fact]
    public void EffectiveArtifactType_ImageWithArtifactType_IsArtifactType()
    {
        var manifest = Parse(ImageJson(MediaTypes.OciManifest, extra: $",\"artifactType\":\"{SignatureType}\""));

        Assert.Equal(SignatureType, manifest.EffectiveArtifactType);
    }

    [Fact]
    public void EffectiveArtifactType_IndexWithoutArtifactType_IsNull()
    {
        Assert.Null(Parse(IndexJson(MediaTypes.OciIndex)).EffectiveArtifactType);
    }

    [Fact]
    public void Parse_DescriptorAnnotationsAndArtifactType_ArePreserved()
    {
        var extra = ""","artifactType":"application/x-child","annotations":{"a":"1","b":"2"}""";
        var json = $$"""{"schemaVersion":2,"manifests":[{{Desc(MediaTypes.OciManifest, ChildDigest, 5, extra)}}]}""";

        var child = Assert.Single(Parse(json).Manifests);

        Assert.Equal("application/x-child", child.ArtifactType);
        Assert.Equal("1", child.Annotations!["a"]);
        Assert.Equal("2", child.Annotations["b"]);
    }

    [Fact]
    public void Parse_NullAnnotations_AreTreatedAsAbsent()
    {
        var manifest = Parse(ImageJson(MediaTypes.OciManifest, extra: ""","annotations":null"""));

        Assert.Null(manifest.Annotations);
    }

    [Fact]
    public void Parse_NonStringTopLevelAnnotation_ThrowsManifestInvalid()
    {
        AssertInvalid(ImageJson(MediaTypes.OciManifest, extra: ""","annotations":{"a":true}"""));
    }

    [Fact]
    public void Parse_NonStringArtifactType_ThrowsManifestInvalid()
    {
        AssertInvalid(ImageJson(MediaTypes.OciManifest, extra: ""","artifactType":7"""));
    }

    [Fact]
    public void Parse_NonStringMediaType_ThrowsManifestInvalid()
    {
        AssertInvalid("""{"schemaVersion":2,"mediaType":1,"config":{},"layers":[]}""");
    }

    [Fact]
    public void Parse_DeeplyNestedJson_ThrowsManifestInvalid()
    {
        var nested = new string('[', 100) + new string(']', 100);

        AssertInvalid(ImageJson(MediaTypes.OciManifest, extra: $",\"x\":{nested}"));
    }

    [Fact]
    public void Parse_UnknownFields_AreIgnored()
    {
        var manifest = Parse(ImageJson(MediaTypes.OciManifest, extra: ""","x-custom":{"nested":[1,2,3]}"""));

        Assert.Equal(ManifestKind.OciImageManifest, manifest.Kind);
    }

    [Theory]
    [InlineData(MediaTypes.OciManifest)]
    [InlineData(MediaTypes.DockerManifest)]
    [InlineData("application/vnd.example.whatever")]
    public void DetectMediaType_BodyWithMediaType_ReturnsIt(string mediaType)
    {
        var body = Encoding.UTF8.GetBytes(ImageJson(mediaType));

        Assert.Equal(mediaType, ManifestParser.DetectMediaType(body));
    }

    [Fact]
    public void DetectMediaType_MediaTypeAfterOtherFields_ReturnsIt()
    {
        var body = Encoding.UTF8.GetBytes(
            $$"""{"schemaVersion":2,"manifests":[{{Desc(MediaTypes.DockerManifest, ChildDigest)}}],"mediaType":"{{MediaTypes.DockerManifestList}}"}""");

        Assert.Equal(MediaTypes.DockerManifestList, ManifestParser.DetectMediaType(body));
    }

    [Fact]
    public void DetectMediaType_ImageWithoutMediaType_ReturnsOciManifestNotTheConfigType()
    {
        var body = Encoding.UTF8.GetBytes(ImageJson(null));

        Assert.Equal(MediaTypes.OciManifest, ManifestParser.DetectMediaType(body));
    }

    [Fact]
    public void DetectMediaType_IndexWithoutMediaType_ReturnsOciIndex()
    {
        var body = Encoding.UTF8.GetBytes(IndexJson(null));

        Assert.Equal(MediaTypes.OciIndex, ManifestParser.DetectMediaType(body));
    }

    [Fact]
    public void DetectMediaType_SignedSchema1_ReturnsPrettyJws()
    {
        var body = """{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[],"signatures":[{"signature":"x"}]}"""u8;

        Assert.Equal(MediaTypes.DockerSchema1Signed, ManifestParser.DetectMediaType(body));
    }

    [Fact]
    public void DetectMediaType_UnsignedSchema1_ReturnsSchema1()
    {
        var body = """{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]}"""u8;

        Assert.Equal(MediaTypes.DockerSchema1, ManifestParser.DetectMediaType(body));
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("[1,2]")]
    [InlineData("{\"schemaVersion\":2")]
    [InlineData("{\"schemaVersion\":2,\"layers\":[]}")]
    public void DetectMediaType_UnrecognisableBody_ReturnsOctetStream(string body)
    {
        Assert.Equal(MediaTypes.OctetStream, ManifestParser.DetectMediaType(Encoding.UTF8.GetBytes(body)));
    }

    [Fact]
    public void DetectMediaType_AgreesWithParse_ForEveryKind()
    {
        var bodies = new[]
        {
            ImageJson(MediaTypes.OciManifest),
            ImageJson(MediaTypes.DockerManifest, DockerConfig),
            IndexJson(MediaTypes.OciIndex),
            IndexJson(MediaTypes.DockerManifestList, MediaTypes.DockerManifest),
            ImageJson(null),
            IndexJson(null),
        };

        foreach (var json in bodies)
        {
            var bytes = Encoding.UTF8.GetBytes(json);
            Assert.Equal(ManifestParser.Parse(bytes, null).MediaType, ManifestParser.DetectMediaType(bytes));
        }
    }

    [Theory]
    [InlineData(MediaTypes.OciManifest, true)]
    [InlineData(MediaTypes.OciIndex, true)]
    [InlineData(MediaTypes.DockerManifest, true)]
    [InlineData(MediaTypes.DockerManifestList, true)]
    [InlineData(MediaTypes.DockerSchema1, false)]
    [InlineData("application/json", false)]
    [InlineData(null, false)]
    public void IsManifestType_OnlySchema2AndOciTypes(string? mediaType, bool expected)
    {
        Assert.Equal(expected, ManifestParser.IsManifestType(mediaType));
    }

    [Fact]
    public void Parse_InvalidManifest_ExceptionCarriesReasonDetail()
    {
        var exception = RegistryAssert.Throws(ErrorCode.ManifestInvalid, () => Parse("[]"));

        var detail = JsonSerializer.SerializeToElement(exception.Detail);
        Assert.False(string.IsNullOrEmpty(detail.GetProperty("reason").GetString()));
    }
}
