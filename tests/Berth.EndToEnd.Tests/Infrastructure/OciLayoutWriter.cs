using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Berth.EndToEnd.Tests.Infrastructure;

public static class MediaTypes
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
}

/// <summary>A content descriptor: what a manifest says about a blob.</summary>
public sealed record OciDescriptor(string MediaType, string Digest, long Size);

public sealed record OciPlatform(string Os, string Architecture, string? Variant = null);

/// <summary>One image written into a layout: its manifest, config and gzipped layers, and the digests of the uncompressed layers.</summary>
public sealed record OciImage(
    OciDescriptor Manifest, OciDescriptor Config, IReadOnlyList<OciDescriptor> Layers, IReadOnlyList<string> DiffIds, OciPlatform Platform);

/// <summary>SHA-256 digests in the registry's "sha256:hex" form.</summary>
public static class Digests
{
    public static string Sha256(ReadOnlySpan<byte> content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    public static string Hex(string digest) =>
        digest.StartsWith("sha256:", StringComparison.Ordinal) ? digest["sha256:".Length..] : throw new ArgumentException($"Not a sha256 digest: {digest}", nameof(digest));

    public static byte[] Gunzip(byte[] compressed)
    {
        using var input = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>The entry names of a gzipped tar layer.</summary>
    public static IReadOnlyList<string> TarEntryNames(byte[] gzippedTar)
    {
        using var reader = new TarReader(new MemoryStream(Gunzip(gzippedTar)));
        var names = new List<string>();
        while (reader.GetNextEntry() is { } entry)
        {
            names.Add(entry.Name);
        }

        return names;
    }
}

/// <summary>
/// Writes an OCI image layout (oci-layout, index.json, blobs/sha256/...) by hand, with layers of random bytes,
/// so every test pushes content no registry has seen and nothing depends on an outside registry.
/// </summary>
public sealed class OciLayoutWriter
{
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private const UnixFileMode RegularFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private static readonly DateTimeOffset FixedTime = new(2024, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private readonly JsonArray _indexEntries = [];

    public OciLayoutWriter(string directory)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(BlobDirectory);
        File.WriteAllText(Path.Combine(directory, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        WriteIndex();
    }

    public string Directory { get; }

    private string BlobDirectory => Path.Combine(Directory, "blobs", "sha256");

    /// <summary>The skopeo/containers transport name of a tagged entry: oci:DIR:TAG.</summary>
    public string Reference(string tag) => $"oci:{Directory}:{tag}";

    public OciDescriptor WriteBlob(byte[] content, string mediaType)
    {
        var digest = Digests.Sha256(content);
        File.WriteAllBytes(Path.Combine(BlobDirectory, Digests.Hex(digest)), content);
        return new OciDescriptor(mediaType, digest, content.LongLength);
    }

    public byte[] ReadBlob(string digest) => File.ReadAllBytes(Path.Combine(BlobDirectory, Digests.Hex(digest)));

    /// <summary>Writes an image with one gzipped layer of random content per entry of <paramref name="layerSizes"/>.</summary>
    public OciImage AddImage(OciPlatform platform, params int[] layerSizes)
    {
        var layers = new List<OciDescriptor>();
        var diffIds = new List<string>();
        for (var i = 0; i < layerSizes.Length; i++)
        {
            var tar = RandomLayerTar(i, layerSizes[i]);
            diffIds.Add(Digests.Sha256(tar));
            layers.Add(WriteBlob(Gzip(tar), MediaTypes.OciLayerGzip));
        }

        var config = WriteBlob(Encoding.UTF8.GetBytes(ConfigJson(platform, diffIds).ToJsonString()), MediaTypes.OciConfig);
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = MediaTypes.OciManifest,
            ["config"] = DescriptorJson(config),
            ["layers"] = new JsonArray([.. layers.Select(l => (JsonNode)DescriptorJson(l))]),
            ["annotations"] = new JsonObject { ["org.opencontainers.image.title"] = "berth end-to-end test image" },
        };
        var manifestDescriptor = WriteBlob(Encoding.UTF8.GetBytes(manifest.ToJsonString()), MediaTypes.OciManifest);
        return new OciImage(manifestDescriptor, config, layers, diffIds, platform);
    }

    /// <summary>Writes an image index (a multi-platform image) over images already written.</summary>
    public OciDescriptor AddIndex(IReadOnlyList<OciImage> images)
    {
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = MediaTypes.OciIndex,
            ["manifests"] = new JsonArray([.. images.Select(image =>
            {
                var entry = DescriptorJson(image.Manifest);
                entry["platform"] = PlatformJson(image.Platform);
                return (JsonNode)entry;
            })]),
        };
        return WriteBlob(Encoding.UTF8.GetBytes(index.ToJsonString()), MediaTypes.OciIndex);
    }

    /// <summary>Names a manifest or index in index.json, as <c>oci:DIR:TAG</c> resolves it.</summary>
    public void Tag(string tag, OciDescriptor descriptor)
    {
        var entry = DescriptorJson(descriptor);
        entry["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag };
        _indexEntries.Add(entry);
        WriteIndex();
    }

    private void WriteIndex()
    {
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["manifests"] = _indexEntries.DeepClone(),
        };
        File.WriteAllText(Path.Combine(Directory, "index.json"), index.ToJsonString());
    }

    private static JsonObject DescriptorJson(OciDescriptor descriptor) => new()
    {
        ["mediaType"] = descriptor.MediaType,
        ["digest"] = descriptor.Digest,
        ["size"] = descriptor.Size,
    };

    private static JsonObject PlatformJson(OciPlatform platform)
    {
        var json = new JsonObject { ["architecture"] = platform.Architecture, ["os"] = platform.Os };
        if (platform.Variant is not null)
        {
            json["variant"] = platform.Variant;
        }

        return json;
    }

    private static JsonObject ConfigJson(OciPlatform platform, IReadOnlyList<string> diffIds)
    {
        var config = PlatformJson(platform);
        config["created"] = FixedTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        config["config"] = new JsonObject
        {
            ["Env"] = new JsonArray("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            ["Cmd"] = new JsonArray("/bin/true"),
        };
        config["rootfs"] = new JsonObject
        {
            ["type"] = "layers",
            ["diff_ids"] = new JsonArray([.. diffIds.Select(d => (JsonNode)JsonValue.Create(d))]),
        };
        config["history"] = new JsonArray([.. diffIds.Select((_, i) => (JsonNode)new JsonObject { ["created_by"] = $"berth e2e layer {i}" })]);
        return config;
    }

    /// <summary>A tar with a directory, a small text file and <paramref name="randomBytes"/> of random data.</summary>
    private static byte[] RandomLayerTar(int layerNumber, int randomBytes)
    {
        using var tarStream = new MemoryStream();
        using (var writer = new TarWriter(tarStream, TarEntryFormat.Ustar, leaveOpen: true))
        {
            var directory = $"layer{layerNumber}/";
            writer.WriteEntry(new UstarTarEntry(TarEntryType.Directory, directory) { Mode = DirectoryMode, ModificationTime = FixedTime });
            writer.WriteEntry(FileEntry(directory + "hello.txt", Encoding.UTF8.GetBytes($"layer {layerNumber}\n")));
            writer.WriteEntry(FileEntry(directory + "random.bin", RandomNumberGenerator.GetBytes(randomBytes)));
        }

        return tarStream.ToArray();
    }

    private static UstarTarEntry FileEntry(string name, byte[] content) => new(TarEntryType.RegularFile, name)
    {
        Mode = RegularFileMode,
        ModificationTime = FixedTime,
        DataStream = new MemoryStream(content),
    };

    private static byte[] Gzip(byte[] content)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(content);
        }

        return output.ToArray();
    }
}
