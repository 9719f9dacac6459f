using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>artifactType values of the referrers a UI groups (signatures, SBOMs, attestations).</summary>
public static class ArtifactTypes
{
    public const string CosignSignature = "application/vnd.dev.cosign.artifact.sig.v1+json";
    public const string SigstoreBundle = "application/vnd.dev.sigstore.bundle.v0.3+json";
    public const string SpdxSbom = "application/spdx+json";
    public const string CycloneDxSbom = "application/vnd.cyclonedx+json";
    public const string InTotoAttestation = "application/vnd.in-toto+json";
    public const string EmptyConfig = "application/vnd.oci.empty.v1+json";
}

/// <summary>A multi-platform index pushed with <c>skopeo copy --all</c>: the index and its per-platform images.</summary>
public sealed record PushedIndex(string Repository, string Tag, OciDescriptor Index, IReadOnlyList<OciImage> Images);

/// <summary>An image pushed under a tag.</summary>
public sealed record PushedImage(string Repository, string Tag, OciImage Image)
{
    public string Digest => Image.Manifest.Digest;
}

/// <summary>An artifact manifest whose <c>subject</c> is another manifest; <see cref="Layer"/> is the artifact's content blob.</summary>
public sealed record PushedReferrer(string Repository, OciDescriptor Manifest, string ArtifactType, OciDescriptor Subject, OciDescriptor Layer);

/// <summary>What a bulk creation did and how long it took (the manifest PUTs only; the one image's blobs were pushed before).</summary>
public sealed record BulkPushResult(IReadOnlyList<string> Names, int Requests, TimeSpan Elapsed, int Concurrency)
{
    public double RequestsPerSecond => Requests / Math.Max(Elapsed.TotalSeconds, 1e-9);

    public override string ToString() =>
        $"{Names.Count:N0} in {Elapsed.TotalSeconds:F2} s ({Requests:N0} requests, {RequestsPerSecond:F0}/s, {Concurrency} at a time)";
}

/// <summary>
/// Puts data into a real registry for the web UI's tests: a multi-arch index (pushed by skopeo), images with referrers,
/// an image whose config holds hostile strings, thousands of tags or repositories (manifest PUTs over the HTTP API
/// reusing one image's blobs, a bounded number at a time). Every push goes through the registry's API and is checked
/// (201), so what a page shows afterwards is what a client stored.
/// </summary>
public sealed class RegistryTestData : IDisposable
{
    /// <summary>A label value that would run script if a page rendered it unescaped.</summary>
    public const string HostileScript = "<script>alert(1)</script>";

    /// <summary>A label value that would break out of an HTML attribute if a page put it there unescaped.</summary>
    public const string HostileAttribute = "\"><img src=x onerror=alert(1)>";

    private static readonly OciPlatform LinuxAmd64 = new("linux", "amd64");
    private static readonly OciPlatform LinuxArm64 = new("linux", "arm64", "v8");
    private static readonly DateTimeOffset BaseTime = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly ITestOutputHelper _log;
    private readonly NetworkCredential? _credentials;
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("uidata");

    /// <param name="registry">The registry to fill.</param>
    /// <param name="log">Where skopeo's command lines and the timings go.</param>
    /// <param name="credentials">Basic credentials of a user allowed to push (a registry with htpasswd), or none.</param>
    public RegistryTestData(RegistryProcess registry, ITestOutputHelper log, NetworkCredential? credentials = null)
    {
        Registry = registry;
        _log = log;
        _credentials = credentials;
        Api = new RegistryApiClient(registry, credentials);
    }

    public RegistryProcess Registry { get; }

    /// <summary>The API client the pushes go through (with the credentials), for the tests' own checks.</summary>
    public RegistryApiClient Api { get; }

    /// <summary>An image config with hostile strings in labels, env, entrypoint, history and a manifest annotation, besides ordinary ones.</summary>
    public static OciImageConfig HostileConfig { get; } = new()
    {
        Labels = new Dictionary<string, string>
        {
            ["org.opencontainers.image.title"] = HostileScript,
            ["org.example.attribute"] = HostileAttribute,
            ["org.opencontainers.image.description"] = "Line one\nline two & <b>not bold</b>",
            ["maintainer"] = "Berth tests <tests@example.org>",
            ["org.opencontainers.image.version"] = "1.2.3",
        },
        Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", $"GREETING={HostileScript}", "EMPTY="],
        Entrypoint = ["/bin/sh", "-c", $"echo '{HostileAttribute}'"],
        Cmd = ["--verbose"],
        WorkingDir = "/srv/app",
        User = "1000:1000",
        ExposedPorts = ["8080/tcp"],
        History =
        [
            new OciHistoryEntry("/bin/sh -c #(nop) ADD file:0123456789abcdef in / "),
            new OciHistoryEntry($"/bin/sh -c #(nop) LABEL org.opencontainers.image.title={HostileScript}", EmptyLayer: true),
            new OciHistoryEntry("/bin/sh -c #(nop) ENV GREETING=<script>", Comment: HostileAttribute, EmptyLayer: true),
            new OciHistoryEntry("COPY app /srv/app # buildkit", Comment: "buildkit.dockerfile.v0"),
            new OciHistoryEntry($"ENTRYPOINT [\"/bin/sh\" \"-c\" \"echo '{HostileAttribute}'\"]", EmptyLayer: true),
        ],
        Created = BaseTime,
        ManifestAnnotations = new Dictionary<string, string>
        {
            ["org.opencontainers.image.title"] = HostileScript,
            ["org.opencontainers.image.source"] = "https://example.org/berth/ui-tests",
        },
    };

    /// <summary>The image reference clients use for a tag or digest of this registry.</summary>
    public string Reference(string repository, string tagOrDigest) =>
        tagOrDigest.StartsWith("sha256:", StringComparison.Ordinal) ? $"{Registry.Host}/{repository}@{tagOrDigest}" : $"{Registry.Host}/{repository}:{tagOrDigest}";

    /// <summary>Writes a linux/amd64 + linux/arm64 (v8) OCI index as a layout and pushes it with <c>skopeo copy --all</c>.</summary>
    public async Task<PushedIndex> PushMultiArchIndexAsync(string repository, string tag = "multi")
    {
        var layout = NewLayout();
        var amd64 = layout.AddImage(LinuxAmd64, 16 * 1024, 48 * 1024);
        var arm64 = layout.AddImage(LinuxArm64, 16 * 1024, 24 * 1024);
        var index = layout.AddIndex([amd64, arm64]);
        layout.Tag(tag, index);
        var options = new List<string> { "--all" };
        if (_credentials is not null)
        {
            options.AddRange(["--dest-creds", $"{_credentials.UserName}:{_credentials.Password}"]);
        }

        await new Skopeo(_log, Registry).CopyAsync(layout.Reference(tag), $"docker://{Reference(repository, tag)}", [.. options]);
        return new PushedIndex(repository, tag, index, [amd64, arm64]);
    }

    /// <summary>Pushes a small linux/amd64 image (over the HTTP API), optionally with a config of <paramref name="config"/>.</summary>
    public async Task<PushedImage> PushImageAsync(string repository, string tag, OciImageConfig? config = null, params int[] layerSizes)
    {
        var layout = NewLayout();
        var image = layout.AddImage(LinuxAmd64, config, layerSizes.Length == 0 ? [8 * 1024] : layerSizes);
        await Api.PushLayoutImageAsync(repository, tag, layout, image);
        return new PushedImage(repository, tag, image);
    }

    /// <summary>Pushes an image whose config and manifest hold <see cref="HostileConfig"/> (two layers, as its history says).</summary>
    public Task<PushedImage> PushHostileImageAsync(string repository, string tag = "hostile") =>
        PushImageAsync(repository, tag, HostileConfig, 4 * 1024, 2 * 1024);

    /// <summary>Pushes an image and attaches one referrer of <paramref name="artifactType"/> to it (a cosign signature by default).</summary>
    public async Task<(PushedImage Image, PushedReferrer Referrer)> PushImageWithReferrerAsync(
        string repository, string tag = "signed", string artifactType = ArtifactTypes.CosignSignature)
    {
        var image = await PushImageAsync(repository, tag);
        var referrer = await AttachReferrerAsync(repository, image.Image.Manifest, artifactType);
        return (image, referrer);
    }

    /// <summary>
    /// Attaches an artifact to <paramref name="subject"/> over the HTTP API: the empty config <c>{}</c>, one layer of
    /// <paramref name="content"/> (a small JSON document by default), and a manifest with <c>artifactType</c> and
    /// <c>subject</c> PUT by digest, as ORAS and cosign's OCI 1.1 mode do.
    /// </summary>
    public async Task<PushedReferrer> AttachReferrerAsync(string repository, OciDescriptor subject, string artifactType,
        byte[]? content = null, string? layerMediaType = null, IReadOnlyDictionary<string, string>? annotations = null)
    {
        content ??= Encoding.UTF8.GetBytes($$"""{"artifactType":"{{artifactType}}","subject":"{{subject.Digest}}","note":"berth ui test"}""");
        var config = await Api.PushBlobAsync(repository, "{}"u8.ToArray(), ArtifactTypes.EmptyConfig);
        var layer = await Api.PushBlobAsync(repository, content, layerMediaType ?? artifactType);
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = MediaTypes.OciManifest,
            ["artifactType"] = artifactType,
            ["config"] = Descriptor(config),
            ["layers"] = new JsonArray(Descriptor(layer)),
            ["subject"] = Descriptor(subject),
            ["annotations"] = new JsonObject(
                (annotations ?? new Dictionary<string, string> { ["org.opencontainers.image.created"] = Rfc3339(BaseTime) })
                .Select(pair => KeyValuePair.Create(pair.Key, (JsonNode?)JsonValue.Create(pair.Value)))),
        };
        var bytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        var digest = Digests.Sha256(bytes);
        await Api.PutManifestAsync(repository, digest, bytes, MediaTypes.OciManifest);
        return new PushedReferrer(repository, new OciDescriptor(MediaTypes.OciManifest, digest, bytes.LongLength), artifactType, subject, layer);
    }

    /// <summary>
    /// Creates <paramref name="count"/> tags in one repository: one small image's blobs are pushed once, then one manifest
    /// PUT per tag, <paramref name="concurrency"/> at a time. With <paramref name="distinctManifests"/> each tag's manifest
    /// differs by its annotations (version = the tag, created = a minute later than the previous tag), so every tag has its
    /// own digest and date as in a real CI-fed repository; without, all tags name one manifest. Tags are
    /// <c>build-00000</c>... unless <paramref name="tagName"/> names them. The time reported is the PUTs' only.
    /// </summary>
    public async Task<BulkPushResult> CreateTagsAsync(string repository, int count, int concurrency = 16, bool distinctManifests = true,
        Func<int, string>? tagName = null)
    {
        tagName ??= i => $"build-{i.ToString("D5", CultureInfo.InvariantCulture)}";
        var layout = NewLayout();
        var image = layout.AddImage(LinuxAmd64, 8 * 1024);
        foreach (var blob in image.Layers.Append(image.Config))
        {
            await Api.PushBlobAsync(repository, layout.ReadBlob(blob.Digest), blob.MediaType);
        }

        var template = JsonNode.Parse(layout.ReadBlob(image.Manifest.Digest))!.AsObject();
        var shared = layout.ReadBlob(image.Manifest.Digest);
        var names = Enumerable.Range(0, count).Select(tagName).ToArray();
        var result = await TimedAsync(names, concurrency, async (i, name, cancellationToken) =>
        {
            var bytes = distinctManifests ? ManifestVariant(template, name, BaseTime.AddMinutes(i)) : shared;
            await Api.PutManifestAsync(repository, name, bytes, MediaTypes.OciManifest, cancellationToken);
            return 1;
        });
        _log.WriteLine($"{repository}: {result.Names.Count} tags created: {result}");
        return result;
    }

    /// <summary>
    /// Creates <paramref name="count"/> repositories <c>PREFIX/00000</c>... each holding one small image under
    /// <paramref name="tag"/>: the blobs are pushed into the first, mounted into the others (POST ?mount=&amp;from=), then
    /// the manifest is PUT; <paramref name="concurrency"/> repositories at a time. The time reported covers every
    /// repository but the first.
    /// </summary>
    public async Task<BulkPushResult> CreateRepositoriesAsync(string prefix, int count, string tag = "latest", int concurrency = 16,
        Func<int, string>? repositoryName = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        repositoryName ??= i => $"{prefix}/{i.ToString("D5", CultureInfo.InvariantCulture)}";
        var names = Enumerable.Range(0, count).Select(repositoryName).ToArray();
        var layout = NewLayout();
        var image = layout.AddImage(LinuxAmd64, 8 * 1024);
        await Api.PushLayoutImageAsync(names[0], tag, layout, image);
        var manifest = layout.ReadBlob(image.Manifest.Digest);
        var blobs = image.Layers.Append(image.Config).ToArray();

        var result = await TimedAsync(names[1..], concurrency, async (_, name, cancellationToken) =>
        {
            foreach (var blob in blobs)
            {
                await Api.MountBlobAsync(name, names[0], blob.Digest, cancellationToken);
            }

            await Api.PutManifestAsync(name, tag, manifest, MediaTypes.OciManifest, cancellationToken);
            return blobs.Length + 1;
        });
        result = result with { Names = names };
        _log.WriteLine($"{prefix}: {names.Length} repositories created: {result}");
        return result;
    }

    public void Dispose()
    {
        Api.Dispose();
        _temp.Dispose();
    }

    private static async Task<BulkPushResult> TimedAsync(IReadOnlyList<string> names, int concurrency,
        Func<int, string, CancellationToken, Task<int>> push)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        var requests = 0;
        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, names.Count), new ParallelOptions { MaxDegreeOfParallelism = concurrency },
            async (i, cancellationToken) => Interlocked.Add(ref requests, await push(i, names[i], cancellationToken)));
        stopwatch.Stop();
        return new BulkPushResult(names, requests, stopwatch.Elapsed, concurrency);
    }

    private static byte[] ManifestVariant(JsonObject template, string tag, DateTimeOffset created)
    {
        var manifest = template.DeepClone().AsObject();
        manifest["annotations"] = new JsonObject
        {
            ["org.opencontainers.image.version"] = tag,
            ["org.opencontainers.image.created"] = Rfc3339(created),
        };
        return Encoding.UTF8.GetBytes(manifest.ToJsonString());
    }

    private static JsonObject Descriptor(OciDescriptor descriptor) => new()
    {
        ["mediaType"] = descriptor.MediaType,
        ["digest"] = descriptor.Digest,
        ["size"] = descriptor.Size,
    };

    private static string Rfc3339(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    private OciLayoutWriter NewLayout() => new(_temp.CreateSubdirectory($"layout-{Guid.NewGuid().ToString("N")[..8]}"));
}
