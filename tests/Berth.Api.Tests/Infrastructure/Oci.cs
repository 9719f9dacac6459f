using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Berth.Api.Tests.Infrastructure;

/// <summary>Media types, digests and content builders for the tests.</summary>
public static class Oci
{
    public const string ImageManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string ImageIndex = "application/vnd.oci.image.index.v1+json";
    public const string ImageConfig = "application/vnd.oci.image.config.v1+json";
    public const string ImageLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string Empty = "application/vnd.oci.empty.v1+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public const string OctetStream = "application/octet-stream";

    /// <summary>The OCI empty descriptor's content, <c>{}</c>, and its well-known digest.</summary>
    public static readonly byte[] EmptyJson = "{}"u8.ToArray();
    public const string EmptyJsonDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    public static OciDescriptor EmptyDescriptor => new(Empty, EmptyJsonDigest, 2);

    public static string DigestOf(ReadOnlySpan<byte> content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    public static string Sha512Of(ReadOnlySpan<byte> content) => "sha512:" + Convert.ToHexStringLower(SHA512.HashData(content));

    public static byte[] RandomBytes(int length) => RandomNumberGenerator.GetBytes(length);

    /// <summary>A repository name no other test uses: <c>&lt;area&gt;/r&lt;32 hex&gt;</c>.</summary>
    public static string UniqueRepository(string area) => $"{area}/r{Guid.NewGuid():N}";

    /// <summary>A digest of random content: valid syntax, certainly absent.</summary>
    public static string AbsentDigest() => DigestOf(RandomBytes(32));

    /// <summary>A small, unique image config.</summary>
    public static byte[] ConfigJson() =>
        Encoding.UTF8.GetBytes(new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray() },
            ["config"] = new JsonObject { ["Labels"] = new JsonObject { ["test"] = Guid.NewGuid().ToString("N") } },
        }.ToJsonString());

    /// <summary>An image manifest (OCI by default; pass <see cref="DockerManifest"/> for schema2, null to omit mediaType).</summary>
    public static byte[] Manifest(OciDescriptor config, IEnumerable<OciDescriptor> layers, string? mediaType = ImageManifest,
        string? artifactType = null, OciDescriptor? subject = null, IReadOnlyDictionary<string, string>? annotations = null)
    {
        var root = new JsonObject { ["schemaVersion"] = 2 };
        if (mediaType is not null)
        {
            root["mediaType"] = mediaType;
        }

        if (artifactType is not null)
        {
            root["artifactType"] = artifactType;
        }

        root["config"] = config.ToJson();
        root["layers"] = new JsonArray([.. layers.Select(l => (JsonNode)l.ToJson())]);
        if (subject is not null)
        {
            root["subject"] = subject.ToJson();
        }

        AddAnnotations(root, annotations);
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    /// <summary>An index (OCI by default; pass <see cref="DockerManifestList"/> for a manifest list, null to omit mediaType).</summary>
    public static byte[] Index(IEnumerable<OciDescriptor> manifests, string? mediaType = ImageIndex, string? artifactType = null,
        OciDescriptor? subject = null, IReadOnlyDictionary<string, string>? annotations = null)
    {
        var root = new JsonObject { ["schemaVersion"] = 2 };
        if (mediaType is not null)
        {
            root["mediaType"] = mediaType;
        }

        if (artifactType is not null)
        {
            root["artifactType"] = artifactType;
        }

        root["manifests"] = new JsonArray([.. manifests.Select(m => (JsonNode)m.ToJson())]);
        if (subject is not null)
        {
            root["subject"] = subject.ToJson();
        }

        AddAnnotations(root, annotations);
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    private static void AddAnnotations(JsonObject root, IReadOnlyDictionary<string, string>? annotations)
    {
        if (annotations is null)
        {
            return;
        }

        var node = new JsonObject();
        foreach (var (key, value) in annotations)
        {
            node[key] = value;
        }

        root["annotations"] = node;
    }
}

/// <summary>An OCI descriptor as the tests write it into manifests.</summary>
public sealed record OciDescriptor(string MediaType, string Digest, long Size)
{
    public string? ArtifactType { get; init; }

    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    /// <summary>(os, architecture) for index entries.</summary>
    public (string Os, string Architecture)? Platform { get; init; }

    public static OciDescriptor Of(string mediaType, byte[] content) => new(mediaType, Oci.DigestOf(content), content.Length);

    public JsonObject ToJson()
    {
        var node = new JsonObject
        {
            ["mediaType"] = MediaType,
            ["digest"] = Digest,
            ["size"] = Size,
        };
        if (ArtifactType is not null)
        {
            node["artifactType"] = ArtifactType;
        }

        if (Platform is { } platform)
        {
            node["platform"] = new JsonObject { ["architecture"] = platform.Architecture, ["os"] = platform.Os };
        }

        if (Annotations is not null)
        {
            var annotations = new JsonObject();
            foreach (var (key, value) in Annotations)
            {
                annotations[key] = value;
            }

            node["annotations"] = annotations;
        }

        return node;
    }
}

/// <summary>An image pushed by <see cref="RegistryClient.PushImageAsync"/>.</summary>
public sealed record PushedImage(string Repository, string? Tag, OciDescriptor Manifest, byte[] ManifestBytes,
    OciDescriptor Config, byte[] ConfigBytes, OciDescriptor Layer, byte[] LayerBytes);
