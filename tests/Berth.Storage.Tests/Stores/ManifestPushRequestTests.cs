using System.Collections.Concurrent;
using Berth.Core;
using Berth.Storage.Drivers;
using Berth.Storage.Tests.Drivers;
using static Berth.Storage.Tests.Stores.StoreHarness;

namespace Berth.Storage.Tests.Stores;

/// <summary>
/// What a manifest push asks of storage. On an object store every call is a request and a read of something absent is
/// the dearest kind (the SDKs turn the 404 into exceptions), so a push should not ask what it can know, and should not
/// wait for one answer before asking the next when the questions are independent.
/// </summary>
public sealed class ManifestPushRequestTests
{
    private static readonly RepositoryName Repo = Name("library/app");

    [Fact]
    public async Task A_new_manifest_is_written_without_asking_first_whether_its_bytes_are_there()
    {
        var (driver, stores) = NewStores();
        var content = await ImageAsync(stores.Blobs, layers: 1);
        var data = StoragePaths.BlobData(Digest.Compute(content));

        await stores.Manifests.PutAsync(Repo, Reference.Parse("v1"), content, MediaTypes.OciManifest, Ct);

        var first = driver.Calls.First(call => call.Path == data);
        Assert.Equal("put", first.Operation);
    }

    [Fact]
    public async Task A_manifest_pushed_before_is_not_written_again_when_it_is_there()
    {
        var (driver, stores) = NewStores();
        var content = await ImageAsync(stores.Blobs, layers: 1);
        var data = StoragePaths.BlobData(Digest.Compute(content));
        await stores.Manifests.PutAsync(Repo, Reference.Parse("v1"), content, MediaTypes.OciManifest, Ct);
        driver.Calls.Clear();

        await stores.Manifests.PutAsync(Repo, Reference.Parse("v2"), content, MediaTypes.OciManifest, Ct);

        Assert.DoesNotContain(driver.Calls, call => call.Path == data && call.Operation == "put");
        Assert.Equal(Digest.Compute(content), await stores.Tags.ResolveAsync(Repo, "v2", Ct));
    }

    [Fact]
    public async Task After_linking_every_reference_is_confirmed_at_once()
    {
        var (driver, stores) = NewStores();
        var content = await ImageAsync(stores.Blobs, layers: 3);
        var revision = StoragePaths.ManifestRevisionLink(Repo, Digest.Compute(content));
        driver.StatDelay = TimeSpan.FromMilliseconds(30);
        driver.CountStatsAfterPutOf = revision;

        await stores.Manifests.PutAsync(Repo, Reference.Parse("v1"), content, MediaTypes.OciManifest, Ct);

        // The manifest itself, its config and three layers: five checks, which one after another had one in flight.
        Assert.True(driver.MaxStatsInFlightAfterPut >= 2, $"at most {driver.MaxStatsInFlightAfterPut} confirmation in flight");
    }

    private static (RecordingDriver Driver, (BlobStore Blobs, TagStore Tags, ManifestStore Manifests) Stores) NewStores()
    {
        var recording = new RecordingDriver(new InMemoryDriver());
        var driver = new ValidatingDriver(recording);
        var blobs = new BlobStore(driver);
        var tags = new TagStore(driver);
        return (recording, (blobs, tags, new ManifestStore(driver, blobs, tags, new ReferrerStore(driver))));
    }

    private static async Task<byte[]> ImageAsync(BlobStore blobs, int layers)
    {
        async Task<string> BlobAsync(string mediaType, string text)
        {
            var bytes = Bytes(text);
            var digest = Digest.Compute(bytes);
            await blobs.PutContentAsync(digest, bytes, Ct);
            await blobs.LinkAsync(Repo, digest, Ct);
            return $$"""{"mediaType":"{{mediaType}}","digest":"{{digest}}","size":{{bytes.Length}}}""";
        }

        var config = await BlobAsync("application/vnd.oci.image.config.v1+json", "{}");
        var layerDescriptors = new List<string>();
        for (var i = 0; i < layers; i++)
        {
            layerDescriptors.Add(await BlobAsync("application/vnd.oci.image.layer.v1.tar+gzip", $"layer {i}"));
        }

        return Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{{config}},"layers":[{{string.Join(',', layerDescriptors)}}]}""");
    }

    /// <summary>Records each content read, write and stat by path; optionally slows stats and counts those in flight.</summary>
    private sealed class RecordingDriver(IStorageDriver inner) : ForwardingDriver(inner)
    {
        private readonly InFlightCounter _statsInFlightAfterPut = new();
        private volatile bool _putSeen;

        public ConcurrentQueue<(string Operation, string Path)> Calls { get; } = new();

        public TimeSpan StatDelay { get; set; }

        /// <summary>Stats are counted only once this path has been written.</summary>
        public string? CountStatsAfterPutOf { get; set; }

        public int MaxStatsInFlightAfterPut => _statsInFlightAfterPut.Most;

        public override Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken)
        {
            Calls.Enqueue(("get", path));
            return base.GetContentAsync(path, maxBytes, cancellationToken);
        }

        public override async Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
        {
            Calls.Enqueue(("put", path));
            await base.PutContentAsync(path, content, cancellationToken);
            _putSeen |= path == CountStatsAfterPutOf;
        }

        public override async Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken)
        {
            Calls.Enqueue(("stat", path));
            using (_putSeen ? _statsInFlightAfterPut.Enter() : default(InFlightCounter.Scope?))
            {
                if (StatDelay > TimeSpan.Zero)
                {
                    await Task.Delay(StatDelay, cancellationToken);
                }

                return await base.StatAsync(path, cancellationToken);
            }
        }
    }
}
