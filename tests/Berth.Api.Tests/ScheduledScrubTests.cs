using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// <c>storage.maintenance.scrub</c> inside the serving process: a scheduled scrub finds a flipped byte, moves the blob
/// aside and drops this process's cached descriptor, so even a HEAD (answered from the cache when it knows) says 404;
/// pushing the blob again heals it.
/// </summary>
public sealed class ScheduledScrubTests
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ScheduledScrub_FlippedByte_IsMovedAsideAndForgottenByTheCacheAndARePushHeals()
    {
        await using var server = await BerthServer.StartAsync(new BerthServerOptions
        {
            LogLevel = "info",
            StorageYaml = ["cache:", "  blobdescriptor: inmemory"],
            MaintenanceYaml = ["scrub:", "  enabled: true", "  interval: 300ms", "  ratelimit: 0", "uploadpurging:", "  enabled: false"],
        });
        var http = server.Client;
        var image = await http.PushImageAsync("scrub/scheduled", "v1", layerSize: 32 * 1024);
        var layerUrl = $"/v2/scrub/scheduled/blobs/{image.Layer.Digest}";
        Assert.Equal(image.LayerBytes, await http.GetByteArrayAsync(layerUrl));
        var hex = image.Layer.Digest["sha256:".Length..];
        var data = Path.Combine(server.StorageRoot, "docker", "registry", "v2", "blobs", "sha256", hex[..2], hex, "data");
        var bytes = await File.ReadAllBytesAsync(data);
        bytes[0] ^= 0x01;
        await File.WriteAllBytesAsync(data, bytes);

        // Bounded in time and count: the schedule runs every 300 ms.
        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < 300 && stopwatch.Elapsed < WaitLimit && !server.Logs.Entries.Any(e => e.EventId.Id == 2162); i++)
        {
            await Task.Delay(100);
        }

        Assert.Contains(server.Logs.Entries, e => e.EventId.Id == 2162 && e.Message.Contains(image.Layer.Digest, StringComparison.Ordinal));
        Assert.Contains(server.Logs.Entries, e => e.EventId.Id == 2161 && e.Message.Contains("reference-corrupt scrub/scheduled@", StringComparison.Ordinal));
        Assert.False(File.Exists(data));
        var movedAside = Path.Combine(server.StorageRoot, "docker", "registry", "v2", "_berth_corrupt", "sha256", hex, "data");
        Assert.Equal(bytes, await File.ReadAllBytesAsync(movedAside));

        using (var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, layerUrl)))
        {
            Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        }

        using (var get = await http.GetAsync(layerUrl))
        {
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
            Assert.Equal("BLOB_UNKNOWN", (string?)JsonNode.Parse(await get.Content.ReadAsStringAsync())!["errors"]![0]!["code"]);
        }

        await http.PushBlobAsync("scrub/scheduled", image.LayerBytes);
        Assert.Equal(image.LayerBytes, await http.GetByteArrayAsync(layerUrl));
    }
    [Fact]
    public async Task Get_DataRemovedBehindACachedDescriptor_AnswersBlobUnknownAndForgetsIt()
    {
        // What another process's scrub (or collection) leaves a serving process with: a cached size, no data.
        await using var server = await BerthServer.StartAsync(new BerthServerOptions { StorageYaml = ["cache:", "  blobdescriptor: inmemory"] });
        var http = server.Client;
        var image = await http.PushImageAsync("scrub/vanished", "v1", layerSize: 8 * 1024);
        var layerUrl = $"/v2/scrub/vanished/blobs/{image.Layer.Digest}";
        Assert.Equal(image.LayerBytes, await http.GetByteArrayAsync(layerUrl));
        var hex = image.Layer.Digest["sha256:".Length..];
        Directory.Delete(Path.Combine(server.StorageRoot, "docker", "registry", "v2", "blobs", "sha256", hex[..2], hex), recursive: true);

        using (var cachedHead = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, layerUrl)))
        {
            // Answered from the cache: this process has no way to know yet.
            Assert.Equal(HttpStatusCode.OK, cachedHead.StatusCode);
        }

        using (var get = await http.GetAsync(layerUrl))
        {
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
            Assert.Equal("BLOB_UNKNOWN", (string?)JsonNode.Parse(await get.Content.ReadAsStringAsync())!["errors"]![0]!["code"]);
        }

        using (var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, layerUrl)))
        {
            Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        }

        Assert.DoesNotContain(server.Logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }
}
