using System.Diagnostics;
using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// <c>retention.enabled</c> inside <c>berth serve</c>: each online collection starts with a retention run, so the tags
/// a rule does not keep disappear and their layers are collected in the same cycles; other repositories are untouched.
/// </summary>
public sealed class ScheduledRetentionTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    private static async Task<IReadOnlyList<string>> TagsAsync(HttpClient client, string repository)
    {
        using var response = await client.GetAsync($"/v2/{repository}/tags/list");
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        using var document = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return [.. document.RootElement.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).Order(StringComparer.Ordinal)];
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        var stopwatch = Stopwatch.StartNew();
        while (stopwatch.Elapsed < Deadline)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(200);
        }

        return false;
    }

    [Fact]
    public async Task Serve_RetentionEnabled_RemovesUnkeptTagsBeforeEachCollectionAndTheirLayersAreCollected()
    {
        await using var server = await BerthServer.StartAsync(new BerthServerOptions
        {
            LogLevel = "info",
            MaintenanceYaml =
            [
                "garbagecollection:",
                "  enabled: true",
                "  interval: 1s",
                // Long enough that a layer uploaded before its manifest is never collected in between.
                "  graceperiod: 2s",
                "uploadpurging:",
                "  enabled: false",
            ],
            ExtraYaml = """
                retention:
                  enabled: true
                  graceperiod: 0s
                  rules:
                    - repositories: ["sched/**"]
                      keep:
                        latest: 1
                """,
        });
        var client = server.Client;
        var other = await client.PushImageAsync("other/app", "a");
        await client.PushImageAsync("other/app", "b");
        var first = await client.PushImageAsync("sched/app", "a");
        await Task.Delay(20);
        await client.PushImageAsync("sched/app", "b");
        await Task.Delay(20);
        var newest = await client.PushImageAsync("sched/app", "c");

        Assert.True(await EventuallyAsync(async () => (await TagsAsync(client, "sched/app")).SequenceEqual(["c"])),
            $"tags left: {string.Join(", ", await TagsAsync(client, "sched/app"))}\n{string.Join("\n", server.Logs.Entries.Select(e => e.Message))}");
        // Watched on disk: a GET of a blob the collector has quarantined (its link still there) takes it back, by design.
        var layerHex = first.Layer.Digest["sha256:".Length..];
        var layerData = Path.Combine(server.StorageRoot, "docker", "registry", "v2", "blobs", "sha256", layerHex[..2], layerHex, "data");
        var quarantined = Path.Combine(server.StorageRoot, "docker", "registry", "v2", "_berth_quarantine", "sha256", layerHex);
        Assert.True(await EventuallyAsync(() => Task.FromResult(!File.Exists(layerData) && !File.Exists(quarantined))),
            $"the layer of the removed tag was not collected\n{string.Join("\n", server.Logs.Entries.Select(e => e.Message))}");
        using (var gone = await client.GetAsync($"/v2/sched/app/blobs/{first.Layer.Digest}"))
        {
            await OciAssert.StatusAsync(gone, HttpStatusCode.NotFound);
        }

        using (var kept = await client.GetAsync($"/v2/sched/app/blobs/{newest.Layer.Digest}"))
        {
            await OciAssert.StatusAsync(kept, HttpStatusCode.OK);
        }

        Assert.Equal(["a", "b"], await TagsAsync(client, "other/app"));
        using var untouched = await client.GetAsync($"/v2/other/app/blobs/{other.Layer.Digest}");
        await OciAssert.StatusAsync(untouched, HttpStatusCode.OK);
        Assert.Contains(server.Logs.Entries, entry => entry.Message.StartsWith("retention at", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Serve_RetentionDryRun_LogsWhatItWouldDeleteAndDeletesNothing()
    {
        await using var server = await BerthServer.StartAsync(new BerthServerOptions
        {
            LogLevel = "info",
            MaintenanceYaml = ["garbagecollection:", "  enabled: true", "  interval: 500ms", "uploadpurging:", "  enabled: false"],
            ExtraYaml = """
                retention:
                  enabled: true
                  dryrun: true
                  graceperiod: 0s
                  rules:
                    - repositories: ["dry/**"]
                      keep:
                        tags: ["keep-*"]
                """,
        });
        var client = server.Client;
        await client.PushImageAsync("dry/app", "keep-1");
        await client.PushImageAsync("dry/app", "scratch");

        Assert.True(await EventuallyAsync(() => Task.FromResult(server.Logs.Entries.Any(e =>
            e.Message.StartsWith("Retention dry run: delete rule=1 dry/app:scratch ", StringComparison.Ordinal)))),
            string.Join("\n", server.Logs.Entries.Select(e => e.Message)));

        Assert.Equal(["keep-1", "scratch"], await TagsAsync(client, "dry/app"));
        Assert.DoesNotContain(server.Logs.Entries, e => e.Message.Contains("dry/app:keep-1", StringComparison.Ordinal)
            && e.Message.StartsWith("Retention dry run", StringComparison.Ordinal));
    }
}
