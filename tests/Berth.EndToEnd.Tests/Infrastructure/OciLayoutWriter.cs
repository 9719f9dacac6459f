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

/// <summary>One entry of an image config's history (<c>created_by</c> is the Dockerfile instruction a UI shows).</summary>
/// <param name="EmptyLayer">True for an instruction that made no layer (LABEL, ENV, ENTRYPOINT...).</param>
public sealed record OciHistoryEntry(string CreatedBy, string? Comment = null, bool EmptyLayer = false);

/// <summary>
/// What an image's config says beyond its layers, for images a UI displays. Null members keep the defaults
/// (<c>PATH</c> in Env, <c>Cmd /bin/true</c>, one history entry per layer).
/// </summary>
public sealed record OciImageConfig
{
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    public IReadOnlyList<string>? Env { get; init; }

    public IReadOnlyList<string>? Entrypoint { get; init; }

    public IReadOnlyList<string>? Cmd { get; init; }

    public string? WorkingDir { get; init; }

    public string? User { get; init; }

    public IReadOnlyList<string>? ExposedPorts { get; init; }

    /// <summary>The history; its entries without <see cref="OciHistoryEntry.EmptyLayer"/> must be as many as the layers.</summary>
    public IReadOnlyList<OciHistoryEntry>? History { get; init; }

    /// <summary>The config's <c>created</c> time; a fixed 2024 date by default.</summary>
    public DateTimeOffset? Created { get; init; }

    /// <summary>Annotations of the manifest (not the config); the default is an <c>org.opencontainers.image.title</c>.</summary>
    public IReadOnlyDictionary<string, string>? ManifestAnnotations { get; init; }
}

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
    public OciImage AddImage(OciPlatform platform, params int[] layerSizes) => AddImage(platform, null, layerSizes);

    /// <summary>Writes an image whose config carries <paramref name="imageConfig"/> (labels, env, entrypoint, history...).</summary>
    public OciImage AddImage(OciPlatform platform, OciImageConfig? imageConfig, params int[] layerSizes)
    {
        var layers = new List<OciDescriptor>();
        var diffIds = new List<string>();
        for (var i = 0; i < layerSizes.Length; i++)
        {
            var tar = RandomLayerTar(i, layerSizes[i]);
            diffIds.Add(Digests.Sha256(tar));
            layers.Add(WriteBlob(Gzip(tar), MediaTypes.OciLayerGzip));
        }

        var config = WriteBlob(Encoding.UTF8.GetBytes(ConfigJson(platform, diffIds, imageConfig).ToJsonString()), MediaTypes.OciConfig);
        var annotations = imageConfig?.ManifestAnnotations ?? new Dictionary<string, string> { ["org.opencontainers.image.title"] = "berth end-to-end test image" };
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = MediaTypes.OciManifest,
            ["config"] = DescriptorJson(config),
            ["layers"] = new JsonArray([.. layers.Select(l => (JsonNode)DescriptorJson(l))]),
            ["annotations"] = StringMap(annotations),
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

    private static JsonObject ConfigJson(OciPlatform platform, IReadOnlyList<string> diffIds, OciImageConfig? imageConfig)
    {
        var config = PlatformJson(platform);
        var created = (imageConfig?.Created ?? FixedTime).ToUniversalTime();
        config["created"] = created.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        var runtime = new JsonObject
        {
            ["Env"] = Strings(imageConfig?.Env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]),
            ["Cmd"] = Strings(imageConfig?.Cmd ?? ["/bin/true"]),
        };
        if (imageConfig?.Entrypoint is { } entrypoint)
        {
            runtime["Entrypoint"] = Strings(entrypoint);
        }

        if (imageConfig?.Labels is { } labels)
        {
            runtime["Labels"] = StringMap(labels);
        }

        if (imageConfig?.WorkingDir is { } workingDir)
        {
            runtime["WorkingDir"] = workingDir;
        }

        if (imageConfig?.User is { } user)
        {
            runtime["User"] = user;
        }

        if (imageConfig?.ExposedPorts is { } ports)
        {
            runtime["ExposedPorts"] = new JsonObject(ports.Select(port => KeyValuePair.Create(port, (JsonNode?)new JsonObject())));
        }

        config["config"] = runtime;
        config["rootfs"] = new JsonObject
        {
            ["type"] = "layers",
            ["diff_ids"] = Strings(diffIds),
        };
        var history = imageConfig?.History ?? [.. diffIds.Select((_, i) => new OciHistoryEntry($"berth e2e layer {i}"))];
        var layerEntries = history.Count(entry => !entry.EmptyLayer);
        if (layerEntries != diffIds.Count)
        {
            throw new ArgumentException($"The history has {layerEntries} entries with a layer for {diffIds.Count} layers.", nameof(imageConfig));
        }

        config["history"] = new JsonArray([.. history.Select(entry =>
        {
            // The default history stays as it always was (created_by only); a given one is dated like the config.
            var json = imageConfig?.History is null
                ? new JsonObject { ["created_by"] = entry.CreatedBy }
                : new JsonObject { ["created"] = config["created"]!.DeepClone(), ["created_by"] = entry.CreatedBy };
            if (entry.Comment is not null)
            {
                json["comment"] = entry.Comment;
            }

            if (entry.EmptyLayer)
            {
                json["empty_layer"] = true;
            }

            return (JsonNode)json;
        })]);
        return config;
    }

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(value => (JsonNode)JsonValue.Create(value))]);

    private static JsonObject StringMap(IReadOnlyDictionary<string, string> values) =>
        new(values.Select(pair => KeyValuePair.Create(pair.Key, (JsonNode?)JsonValue.Create(pair.Value))));

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
