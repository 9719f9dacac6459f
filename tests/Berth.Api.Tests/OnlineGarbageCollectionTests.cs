using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Berth.Api.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Berth.Api.Tests;

/// <summary>
/// The server's scheduled collector runs again and again while several clients push and pull:
/// every acknowledged image must stay whole, and unreferenced content must be reclaimed.
/// </summary>
public sealed class OnlineGarbageCollectionTests(ITestOutputHelper output)
{
    private const int Pushers = 3;
    private const int Pullers = 2;
    private const int CollectionsDuringLoad = 10;

    // The load runs for at least the first and until CollectionsDuringLoad collections overlapped it, at most the second:
    // how many collections fit in a fixed time depends on how busy the machine is.
    private static readonly TimeSpan MinimumLoad = TimeSpan.FromSeconds(12);
    private static readonly TimeSpan MaximumLoad = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task Collection_while_pushing_and_pulling_keeps_every_image_and_reclaims_garbage()
    {
        await using var server = await BerthServer.StartAsync(new BerthServerOptions
        {
            LogLevel = "info",
            MaintenanceYaml =
            [
                "garbagecollection:",
                "  enabled: true",
                "  interval: 500ms",
                $"  graceperiod: {(int)GracePeriod.TotalSeconds}s",
                "uploadpurging:",
                "  enabled: false",
            ],
        });
        var http = server.Client;

        // Garbage: blobs nobody references, and an image whose manifest is deleted.
        var orphans = new List<OciDescriptor>();
        for (var i = 0; i < 10; i++)
        {
            orphans.Add(await http.PushBlobAsync("gc/orphans", Oci.RandomBytes(64 * 1024)));
        }

        var dropped = await http.PushImageAsync("gc/dropped", "v1", layerSize: 128 * 1024);
        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"/v2/gc/dropped/manifests/{dropped.Manifest.Digest}")).StatusCode);

        var pushed = new ConcurrentBag<PushedImage>();
        var pulls = 0;
        var stopwatch = Stopwatch.StartNew();
        var runsAtStart = CollectionRuns(server);
        bool Loading() => stopwatch.Elapsed < MinimumLoad
            || (CollectionRuns(server) - runsAtStart < CollectionsDuringLoad && stopwatch.Elapsed < MaximumLoad);
        var pushers = Enumerable.Range(0, Pushers).Select(p => Task.Run(async () =>
        {
            for (var i = 0; Loading() && i < 2000; i++)
            {
                pushed.Add(await http.PushImageAsync($"gc/live{p}", $"t{i}", layerSize: 4096 + i));
            }
        }));
        var pullers = Enumerable.Range(0, Pullers).Select(_ => Task.Run(async () =>
        {
            var random = new Random();
            while (Loading())
            {
                var images = pushed.ToArray();
                if (images.Length == 0)
                {
                    await Task.Delay(20);
                    continue;
                }

                await AssertWholeAsync(http, images[random.Next(images.Length)]);
                Interlocked.Increment(ref pulls);
            }
        }));
        await Task.WhenAll(pushers.Concat(pullers));
        var runsDuringLoad = CollectionRuns(server) - runsAtStart;
        var loadTime = stopwatch.Elapsed;

        // Let the garbage age past the grace period and a few more collections run.
        var runsBefore = CollectionRuns(server);
        Assert.True(await Eventually.TrueAsync(() => CollectionRuns(server) >= runsBefore + 3, TimeSpan.FromSeconds(30)),
            "the scheduled collector stopped running");

        foreach (var image in pushed)
        {
            await AssertWholeAsync(http, image);
        }

        foreach (var orphan in orphans.Append(dropped.Layer).Append(dropped.Config))
        {
            var data = Path.Combine(server.StorageRoot, "docker", "registry", "v2", "blobs", "sha256", orphan.Digest[7..9], orphan.Digest[7..], "data");
            Assert.True(await Eventually.TrueAsync(() => !File.Exists(data), TimeSpan.FromSeconds(15)), $"{orphan.Digest} was not reclaimed");
        }

        var reclaimed = server.Logs.Entries.Where(e => e.EventId.Id == 6002).Sum(e => Convert.ToInt64(e.Value("Bytes"), System.Globalization.CultureInfo.InvariantCulture));
        output.WriteLine($"pushed {pushed.Count} images, verified {pulls} pulls during collection, {CollectionRuns(server)} collections, {reclaimed} bytes reclaimed");
        Assert.True(runsDuringLoad >= CollectionsDuringLoad, $"only {runsDuringLoad} collections ran during {loadTime.TotalSeconds:F0} s of load");
        Assert.True(reclaimed >= 10 * 64 * 1024, $"only {reclaimed} bytes reclaimed");
        Assert.DoesNotContain(server.Logs.Entries, e => e.Level >= LogLevel.Error);
    }

    private static int CollectionRuns(BerthServer server) => server.Logs.Entries.Count(e => e.EventId.Id == 6002);

    private static async Task AssertWholeAsync(HttpClient http, PushedImage image)
    {
        var manifest = await http.GetByteArrayAsync($"/v2/{image.Repository}/manifests/{image.Tag}");
        Assert.Equal(image.ManifestBytes, manifest);
        Assert.Equal(image.LayerBytes, await http.GetByteArrayAsync($"/v2/{image.Repository}/blobs/{image.Layer.Digest}"));
        Assert.Equal(image.ConfigBytes, await http.GetByteArrayAsync($"/v2/{image.Repository}/blobs/{image.Config.Digest}"));
    }
}
