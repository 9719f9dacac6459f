using System.Security.Cryptography;
using System.Text;
using Berth.Core;
using Berth.Storage.Caching;
using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Storage.Tests.Maintenance;

/// <summary>An image as pushed by <see cref="MaintenanceHarness.PushImageAsync"/>.</summary>
internal sealed record PushedImage(Digest Manifest, Digest Config, IReadOnlyList<Digest> Layers, byte[] Content)
{
    public IEnumerable<Digest> AllBlobs => [Manifest, Config, .. Layers];
}

/// <summary>
/// The stores wired over one driver whose modification times follow <see cref="Clock"/>, with
/// helpers that push images the way the API does (blobs, then the manifest through ManifestStore).
/// </summary>
internal sealed class MaintenanceHarness
{
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";

    /// <param name="inner">The driver under test.</param>
    /// <param name="realClock">
    /// Use the system clock and the driver's own modification times instead of <see cref="Clock"/>
    /// (for tests where other tasks write concurrently and time must really pass).
    /// </param>
    public MaintenanceHarness(IStorageDriver inner, bool realClock = false)
    {
        Clocked = ClockedDriver.Wrap(inner, Clock);
        Time = realClock ? TimeProvider.System : Clock;
        Driver = new ValidatingDriver(realClock ? inner : Clocked);
        // A real cache, so every collection test also proves the collector leaves no stale entry behind.
        Cache = new InMemoryBlobDescriptorCache(10_000, Time);
        Blobs = new BlobStore(Driver, Cache);
        Tags = new TagStore(Driver);
        Referrers = new ReferrerStore(Driver);
        Manifests = new ManifestStore(Driver, Blobs, Tags, Referrers);
        Uploads = new UploadStore(Driver, Blobs, Time);
    }

    public static CancellationToken Ct => CancellationToken.None;

    /// <summary>Starts at a fixed instant; whatever is written is stamped with the clock's time.</summary>
    public ManualClock Clock { get; } = new(new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero));

    public ClockedDriver Clocked { get; }

    /// <summary>The clock the stores and the maintenance jobs use: <see cref="Clock"/>, or the system clock.</summary>
    public TimeProvider Time { get; }

    public IStorageDriver Driver { get; }

    public InMemoryBlobDescriptorCache Cache { get; }

    public BlobStore Blobs { get; }

    public TagStore Tags { get; }

    public ReferrerStore Referrers { get; }

    public ManifestStore Manifests { get; }

    public UploadStore Uploads { get; }

    /// <summary>Offline semantics (no grace, no settle delay): exact, as registry:2.</summary>
    public static GarbageCollectionOptions Offline => GarbageCollectionOptions.Offline;

    public GarbageCollector NewCollector() => new(Driver, Tags, Referrers, Cache, Time, NullLogger<GarbageCollector>.Instance);

    public UploadPurger NewPurger() => new(Driver, Time, NullLogger<UploadPurger>.Instance);

    public Task<GarbageCollectionReport> CollectAsync(GarbageCollectionOptions options, List<string>? lines = null) =>
        NewCollector().RunAsync(options, lines is null ? null : new ListProgress(lines), Ct);

    /// <summary>Makes everything written so far look two hours old.</summary>
    public void AgeEverything() => Clock.Advance(TimeSpan.FromHours(2));

    public static RepositoryName Name(string value) => RepositoryName.Parse(value);

    public static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Stores content and links it into <paramref name="repository"/>, as a finished upload does.</summary>
    public async Task<Digest> PutBlobAsync(RepositoryName repository, string text)
    {
        var content = Bytes(text);
        var digest = Digest.Compute(content);
        await Blobs.PutContentAsync(digest, content, Ct);
        await Blobs.LinkAsync(repository, digest, Ct);
        return digest;
    }

    /// <summary>Pushes a config and layers, then an OCI image manifest over them, by tag or (tag null) by digest.</summary>
    public async Task<PushedImage> PushImageAsync(RepositoryName repository, string? tag, string seed, string[]? layers = null,
        Digest? subject = null, string? subjectMediaType = null)
    {
        var configText = $"{{\"seed\":\"{seed}\"}}";
        var config = await PutBlobAsync(repository, configText);
        var layerTexts = layers ?? [$"layer of {seed}"];
        var layerDigests = new List<Digest>();
        foreach (var text in layerTexts)
        {
            layerDigests.Add(await PutBlobAsync(repository, text));
        }

        var subjectJson = subject is null
            ? ""
            : $$""","artifactType":"application/vnd.example.signature","subject":{{Descriptor(subjectMediaType ?? MediaTypes.OciManifest, subject.Value, 1)}}""";
        var layersJson = string.Join(',', layerDigests.Select((d, i) => Descriptor(OciLayer, d, Bytes(layerTexts[i]).Length)));
        var content = Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{{Descriptor(OciConfig, config, Bytes(configText).Length)}},"layers":[{{layersJson}}]{{subjectJson}}}""");
        var digest = await PutManifestAsync(repository, tag, content, MediaTypes.OciManifest);
        return new PushedImage(digest, config, layerDigests, content);
    }

    /// <summary>Pushes an OCI index over manifests already in the repository.</summary>
    public async Task<Digest> PushIndexAsync(RepositoryName repository, string? tag, params PushedImage[] children)
    {
        var manifests = string.Join(',', children.Select(c => Descriptor(MediaTypes.OciManifest, c.Manifest, c.Content.Length)));
        var content = Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[{{manifests}}]}""");
        return await PutManifestAsync(repository, tag, content, MediaTypes.OciIndex);
    }

    public async Task<Digest> PutManifestAsync(RepositoryName repository, string? tag, byte[] content, string mediaType)
    {
        var digest = Digest.Compute(content);
        await Manifests.PutAsync(repository, Reference.Parse(tag ?? digest.ToString()), content, mediaType, Ct);
        return digest;
    }

    /// <summary>
    /// Writes a manifest's bytes and revision link (and tag) without validation: what a push that
    /// passed its checks just before the collector acted leaves behind, or what another registry stored.
    /// </summary>
    public async Task<Digest> WriteManifestUncheckedAsync(RepositoryName repository, string? tag, byte[] content)
    {
        var digest = Digest.Compute(content);
        await Blobs.PutContentAsync(digest, content, Ct);
        await Driver.PutContentAsync(StoragePaths.ManifestRevisionLink(repository, digest), Bytes(digest.ToString()), Ct);
        if (tag is not null)
        {
            await Tags.SetAsync(repository, tag, digest, Ct);
        }

        return digest;
    }

    public static string Descriptor(string mediaType, Digest digest, long size) =>
        $$"""{"mediaType":"{{mediaType}}","digest":"{{digest}}","size":{{size}}}""";

    public Task<bool> BlobExistsAsync(Digest digest) => ExistsAsync(StoragePaths.BlobData(digest));

    public Task<bool> InQuarantineAsync(Digest digest) => ExistsAsync(Quarantine.PathOf(digest));

    public Task<bool> LayerLinkExistsAsync(RepositoryName repository, Digest digest) => ExistsAsync(StoragePaths.LayerLink(repository, digest));

    public async Task<bool> ExistsAsync(string path)
    {
        try
        {
            var info = await Driver.StatAsync(path, Ct);
            return !info.IsDirectory;
        }
        catch (StoragePathNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Every file below the root with the hash of its content and its modification time.</summary>
    public async Task<SortedDictionary<string, string>> SnapshotAsync()
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var pending = new Stack<string>();
        pending.Push("/");
        while (pending.Count > 0)
        {
            foreach (var child in await Driver.ListAsync(pending.Pop(), Ct))
            {
                var info = await Driver.StatAsync(child, Ct);
                if (info.IsDirectory)
                {
                    pending.Push(child);
                }
                else
                {
                    var content = await Driver.GetContentAsync(child, 64 * 1024 * 1024, Ct);
                    result[child] = Convert.ToHexString(SHA256.HashData(content)) + " " + info.ModifiedAt.ToString("O");
                }
            }
        }

        return result;
    }

    private sealed class ListProgress(List<string> lines) : IProgress<string>
    {
        public void Report(string value) => lines.Add(value);
    }
}
