using System.Collections.Concurrent;
using System.Diagnostics;
using Berth.Core;
using Berth.Core.Errors;
using Berth.Storage.Maintenance;
using Xunit.Abstractions;
using static Berth.Storage.Tests.Maintenance.MaintenanceHarness;

namespace Berth.Storage.Tests.Maintenance;

public abstract partial class GarbageCollectorSuite
{
    /// <summary>
    /// Pushers (uploads through UploadStore, HEAD-before-upload, shared base layers, deletes and
    /// abandoned blobs), pullers and back-to-back collections with no grace period and a settle
    /// delay far shorter than a loaded disk's manifest PUT, all at once on the real clock. Pushes
    /// and pulls perform the <see cref="CollectionHandshake"/>. Every pull must succeed; afterwards every
    /// accepted image must be intact, and one quiet collection must leave exactly the blobs the
    /// surviving images reference.
    /// </summary>
    [Fact]
    public async Task Run_RepeatedlyWhilePushingAndPulling_AcceptedImagesSurviveAndGarbageIsReclaimed()
    {
        var h = new MaintenanceHarness(CreateDriver(), realClock: true);
        var collector = h.NewCollector();
        var options = GarbageCollectionOptions.Online with { GracePeriod = TimeSpan.Zero, SettleDelay = TimeSpan.FromMilliseconds(20) };
        var live = new ConcurrentDictionary<string, (RepositoryName Repository, string Tag, PushedImage Image)>();
        var elapsed = Stopwatch.StartNew();
        const int MinimumRuns = 5;
        var stop = false;
        int pushes = 0, retries = 0, deletes = 0, abandoned = 0, pulls = 0, runs = 0, restored = 0;
        var pullFailures = new ConcurrentBag<string>();
        long reclaimed = 0;

        async Task PushAsync(int pusher)
        {
            var random = new Random(pusher);
            for (var i = 0; !Volatile.Read(ref stop); i++)
            {
                var repository = Name($"stress/r{random.Next(3)}");
                var tag = $"p{pusher}-{i}";
                var config = $"{{\"pusher\":{pusher},\"i\":{i}}}";
                string[] layers = [$"base layer {random.Next(4)}", $"unique layer {pusher}/{i}"];
                PushedImage? image = null;
                for (var attempt = 0; image is null && attempt < 20; attempt++)
                {
                    try
                    {
                        image = await PushThroughUploadsAsync(h, repository, tag, config, layers);
                    }
                    catch (Exception ex) when (ex is RegistryException { Code.Code: "MANIFEST_BLOB_UNKNOWN" or "BLOB_UNKNOWN" } or IOException)
                    {
                        // A layer uploaded before a run began is fair game with no grace period; push again.
                        Interlocked.Increment(ref retries);
                    }
                }

                if (image is null)
                {
                    Volatile.Write(ref stop, true);
                    Assert.Fail($"push of {repository}:{tag} failed 20 times");
                }

                Interlocked.Increment(ref pushes);
                if (random.Next(4) == 0)
                {
                    Assert.True(await h.Manifests.DeleteAsync(repository, image!.Manifest, Ct));
                    Interlocked.Increment(ref deletes);
                }
                else
                {
                    live[$"{repository}:{tag}"] = (repository, tag, image!);
                }

                if (random.Next(5) == 0)
                {
                    await UploadAsync(h, repository, $"abandoned {pusher}/{i}");
                    Interlocked.Increment(ref abandoned);
                }

                // Pace the pushers: the in-memory driver completes synchronously and lists by
                // scanning every key, so unpaced pushers would starve the collector's task.
                await Task.Delay(5, Ct);
            }
        }

        async Task PullAsync(int puller)
        {
            var random = new Random(1000 + puller);
            while (!Volatile.Read(ref stop))
            {
                await Task.Delay(1, Ct);
                var images = live.Values.ToArray();
                if (images.Length == 0)
                {
                    continue;
                }

                var (repository, tag, image) = images[random.Next(images.Length)];
                Interlocked.Increment(ref pulls);
                if (await WhatIsLostAsync(h, repository, tag, image, readRepair: true) is { } lost)
                {
                    pullFailures.Add($"{repository}:{tag} lost {lost}");
                }
            }
        }

        async Task CollectAsync()
        {
            try
            {
                while (runs < MinimumRuns || elapsed.Elapsed < TimeSpan.FromSeconds(2))
                {
                    var report = await collector.RunAsync(options, null, Ct);
                    runs++;
                    reclaimed += report.BytesFreed;
                    restored += report.BlobsRestored;
                }
            }
            finally
            {
                Volatile.Write(ref stop, true);
            }
        }

        await Task.WhenAll(
            Enumerable.Range(0, 4).Select(p => Task.Run(() => PushAsync(p)))
                .Concat(Enumerable.Range(0, 2).Select(p => Task.Run(() => PullAsync(p))))
                .Append(Task.Run(CollectAsync)));

        var final = await collector.RunAsync(GarbageCollectionOptions.Offline, null, Ct);
        reclaimed += final.BytesFreed;

        foreach (var (repository, tag, image) in live.Values)
        {
            var lost = await WhatIsLostAsync(h, repository, tag, image, readRepair: false);
            Assert.True(lost is null, $"{repository}:{tag} lost {lost}");
        }

        var expected = live.Values.SelectMany(l => l.Image.AllBlobs).ToHashSet();
        var stored = new HashSet<Digest>();
        await foreach (var prefix in LayoutWalker.BlobPrefixesAsync(h.Driver, Ct))
        {
            foreach (var digest in prefix)
            {
                if (await h.BlobExistsAsync(digest))
                {
                    stored.Add(digest);
                }
            }
        }

        Assert.Equal(expected.Select(d => d.ToString()).Order(StringComparer.Ordinal), stored.Select(d => d.ToString()).Order(StringComparer.Ordinal));
        Assert.Empty(pullFailures);
        Assert.Empty(await Quarantine.ListAsync(h.Driver, Ct));
        Assert.True(reclaimed > 0);
        Output.WriteLine($"{GetType().Name}: {pushes} pushes ({retries} retried, {deletes} deleted, {abandoned} abandoned blobs), " +
            $"{pulls} pulls, {runs} collections, {restored} blobs restored, {reclaimed} bytes reclaimed, " +
            $"{live.Count} images verified, {elapsed.Elapsed.TotalSeconds:F1} s");
    }

    private static async Task<PushedImage> PushThroughUploadsAsync(MaintenanceHarness h, RepositoryName repository, string tag, string config,
        string[] layers)
    {
        var configDigest = await UploadIfMissingAsync(h, repository, config);
        var layerDigests = new List<Digest>();
        foreach (var layer in layers)
        {
            layerDigests.Add(await UploadIfMissingAsync(h, repository, layer));
        }

        var layersJson = string.Join(',', layerDigests.Select((d, i) => Descriptor(OciLayer, d, Bytes(layers[i]).Length)));
        var content = Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{{Descriptor(OciConfig, configDigest, Bytes(config).Length)}},"layers":[{{layersJson}}]}""");
        var digest = await h.PutManifestAsync(repository, tag, content, MediaTypes.OciManifest);

        // The handshake ManifestStore.PutAsync performs after writing the revision link: if a
        // running collection quarantined a blob after the reference check, take it back.
        foreach (var blob in layerDigests.Append(configDigest).Prepend(digest))
        {
            if (!await CollectionHandshake.EnsureContentAsync(h.Driver, blob, Ct))
            {
                await h.Manifests.DeleteAsync(repository, digest, Ct);
                throw ErrorCode.ManifestBlobUnknown.With(new { digest = blob.ToString() });
            }
        }

        return new PushedImage(digest, configDigest, layerDigests, content);
    }

    /// <summary>What a client does: HEAD the blob in the repository, upload it when missing.</summary>
    private static async Task<Digest> UploadIfMissingAsync(MaintenanceHarness h, RepositoryName repository, string text)
    {
        var digest = Digest.Compute(Bytes(text));
        if (await h.Blobs.StatAsync(repository, digest, Ct) is null)
        {
            await UploadAsync(h, repository, text);
        }

        return digest;
    }

    private static async Task UploadAsync(MaintenanceHarness h, RepositoryName repository, string text)
    {
        var upload = h.Uploads.Start();
        await h.Uploads.CommitAsync(repository, upload.Id, new UploadVoucher(upload.StartedAt, 0), Digest.Compute(Bytes(text)), new MemoryStream(Bytes(text)), null, null, Ct);
    }

    /// <summary>
    /// Null when the image pulls whole and bit-exact, else what is missing. With
    /// <paramref name="readRepair"/> a blob whose data is missing is first looked for in the
    /// collector's quarantine, as BlobStore does on its read paths.
    /// </summary>
    private static async Task<string?> WhatIsLostAsync(MaintenanceHarness h, RepositoryName repository, string tag, PushedImage image,
        bool readRepair)
    {
        if (readRepair)
        {
            foreach (var blob in image.AllBlobs)
            {
                await CollectionHandshake.EnsureContentAsync(h.Driver, blob, Ct);
            }
        }

        var manifest = await h.Manifests.GetAsync(repository, Reference.Parse(tag), Ct);
        if (manifest is null)
        {
            var resolved = await h.Tags.ResolveAsync(repository, tag, Ct);
            return $"manifest {image.Manifest} (tag resolves to {resolved?.ToString() ?? "nothing"}, revision link: "
                + $"{await h.ExistsAsync(StoragePaths.ManifestRevisionLink(repository, image.Manifest))}, blob: {await h.BlobExistsAsync(image.Manifest)})";
        }

        if (!manifest.Content.AsSpan().SequenceEqual(image.Content))
        {
            return "manifest content differs";
        }

        foreach (var blob in image.Layers.Append(image.Config))
        {
            if (await h.Blobs.StatAsync(repository, blob, Ct) is null)
            {
                return $"blob {blob} (link: {await h.LayerLinkExistsAsync(repository, blob)}, data: {await h.BlobExistsAsync(blob)}, "
                    + $"quarantined: {await h.InQuarantineAsync(blob)})";
            }

            try
            {
                await using var stream = await h.Blobs.OpenReadAsync(blob, 0, Ct);
                using var buffer = new MemoryStream();
                await stream.CopyToAsync(buffer, Ct);
                if (Digest.Compute(buffer.ToArray()) != blob)
                {
                    return $"blob {blob} content differs";
                }
            }
            catch (RegistryException)
            {
                return $"blob {blob} vanished while reading";
            }
        }

        return null;
    }
}
