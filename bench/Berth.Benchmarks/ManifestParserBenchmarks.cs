using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using Berth.Core;
using Berth.Core.Manifests;

namespace Berth.Benchmarks;

/// <summary>
/// <see cref="ManifestParser.Parse"/> (every manifest PUT, and reads that need the structure) and
/// the digest of the body computed alongside it.
/// </summary>
[MemoryDiagnoser]
public class ManifestParserBenchmarks
{
    private byte[] _body = [];
    private string _contentType = "";

    public static IEnumerable<string> Cases => ["oci-manifest-8-layers", "oci-index-6-platforms", "docker-schema2-3-layers"];

    [ParamsSource(nameof(Cases))]
    public string Case { get; set; } = "";

    [GlobalSetup]
    public void Setup() => (_contentType, _body) = Case switch
    {
        "oci-manifest-8-layers" => (MediaTypes.OciManifest, ImageManifest(MediaTypes.OciManifest,
            "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip", 8, annotations: true)),
        "oci-index-6-platforms" => (MediaTypes.OciIndex, Index(6)),
        "docker-schema2-3-layers" => (MediaTypes.DockerManifest, ImageManifest(MediaTypes.DockerManifest,
            "application/vnd.docker.container.image.v1+json", "application/vnd.docker.image.rootfs.diff.tar.gzip", 3, annotations: false)),
        _ => throw new ArgumentException(Case),
    };

    [Benchmark(Baseline = true)]
    public Manifest Parse() => ManifestParser.Parse(_body, _contentType);

    [Benchmark]
    public Digest Sha256OfBody() => Digest.Compute(_body);

    [Benchmark]
    public string DetectMediaType() => ManifestParser.DetectMediaType(_body);

    private static byte[] ImageManifest(string mediaType, string configType, string layerType, int layers, bool annotations)
    {
        var sb = new StringBuilder();
        sb.Append($$"""{"schemaVersion":2,"mediaType":"{{mediaType}}","config":{{Descriptor(configType, 1469, "config")}},"layers":[""");
        for (var i = 0; i < layers; i++)
        {
            sb.Append(i == 0 ? "" : ",").Append(Descriptor(layerType, 31_000_000 + i, $"layer{i}"));
        }

        sb.Append(']');
        if (annotations)
        {
            sb.Append(""","annotations":{"org.opencontainers.image.created":"2025-01-01T00:00:00Z","org.opencontainers.image.source":"https://example.com/app","org.opencontainers.image.revision":"0123456789abcdef"}""");
        }

        return Encoding.UTF8.GetBytes(sb.Append('}').ToString());
    }

    private static byte[] Index(int platforms)
    {
        var arches = new[] { "amd64", "arm64", "arm", "ppc64le", "s390x", "386" };
        var sb = new StringBuilder($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[""");
        for (var i = 0; i < platforms; i++)
        {
            var d = Descriptor(MediaTypes.OciManifest, 1_000 + i, $"m{i}")[..^1];
            sb.Append(i == 0 ? "" : ",").Append(d).Append($$$""","platform":{"architecture":"{{{arches[i % arches.Length]}}}","os":"linux"}}""");
        }

        return Encoding.UTF8.GetBytes(sb.Append("]}").ToString());
    }

    private static string Descriptor(string mediaType, long size, string seed) =>
        $$"""{"mediaType":"{{mediaType}}","digest":"sha256:{{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(seed)))}}","size":{{size}}}""";
}
