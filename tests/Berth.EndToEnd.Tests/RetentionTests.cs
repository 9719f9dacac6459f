using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Retention on a real Berth filled by skopeo: 200 tags across three repositories and three rules. Ages are set the way
/// a registry:2 volume carries them, as the modification times of the tags' <c>current/link</c> files (and of the
/// revision links), relative to an instant the test passes as <c>--now</c>. Last-pull times come from real pulls
/// through the server. The dry run is checked line by line; the real run happens while clients pull; afterwards every
/// kept image pulls bit-exact, every removed one is 404, and <c>berth garbage-collect</c> gives the space back.
/// </summary>
public sealed class RetentionTests(ITestOutputHelper log) : IDisposable
{
    private static readonly OciPlatform LinuxAmd64 = new("linux", "amd64");
    private const int LayerSize = 16 * 1024;

    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("retention");

    public void Dispose() => _temp.Dispose();

    private string Storage => _temp.Combine("storage");

    private string ConfigYaml(int port) => $"""
        version: 0.1
        log:
          level: info
        storage:
          filesystem:
            rootdirectory: {Storage}
          delete:
            enabled: true
        http:
          addr: 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}
          secret: berth-e2e-retention
        health:
          storagedriver:
            enabled: false
        retention:
          pulltimes:
            replica: e2e
            flushinterval: 200ms
          rules:
            - repositories: ["apps/web"]
              keep:
                latest: 5
                pushedwithin: 720h
                tags: ["v*", "release-*"]
              untagged: 168h
            - repositories: ["apps/*"]
              keep:
                latest: 10
                pulledwithin: 168h
            - repositories: ["prod/**"]
              keep:
                latest: 1
        immutabletags:
          - repositories: ["prod/**"]
            tags: ["v*"]

        """;

    /// <summary>One pushed tag: where it lives, how old the test makes it, and the image behind it.</summary>
    private sealed record Planned(string Repository, string Tag, int AgeDays, OciImage Image);

    private string RepositoryPath(string repository) => Path.Combine(Storage, "docker", "registry", "v2", "repositories", repository);

    private static string Hex(string digest) => digest["sha256:".Length..];

    [Fact]
    public async Task Retention_200TagsWithRulesAndPulls_DryRunReportsAndRealRunDeletesWhileClientsPull()
    {
        var layout = new OciLayoutWriter(_temp.CreateSubdirectory("layout"));
        var planned = new List<Planned>();
        void Plan(string repository, string tag, int ageDays)
        {
            var image = layout.AddImage(LinuxAmd64, LayerSize);
            layout.Tag($"{repository.Replace('/', '-')}-{tag}", image.Manifest);
            planned.Add(new Planned(repository, tag, ageDays, image));
        }

        for (var i = 0; i < 10; i++)
        {
            Plan("apps/web", $"v1.0.{i}", 300);
            Plan("apps/web", $"release-{i + 1}", 200);
        }

        for (var i = 1; i <= 100; i++)
        {
            Plan("apps/web", $"build-{i}", i);
        }

        for (var i = 1; i <= 60; i++)
        {
            Plan("apps/api", $"build-{i}", i);
        }

        for (var i = 1; i <= 20; i++)
        {
            Plan("prod/db", $"v{i}", i);
        }

        Assert.Equal(200, planned.Count);
        var scratch = layout.AddImage(LinuxAmd64, LayerSize);
        layout.Tag("scratch", scratch.Manifest);

        await using var registry = await RegistryProcess.StartAsync(RegistryKind.Berth, "retention", Storage, ConfigYaml);
        var configPath = _temp.Combine("config.yml");
        await File.WriteAllTextAsync(configPath, ConfigYaml(registry.Port));
        using var api = new RegistryApiClient(registry);
        var skopeo = new Skopeo(log, registry);

        // Filled by skopeo, four copies at a time (two cores).
        var fill = Stopwatch.StartNew();
        await Parallel.ForEachAsync(planned, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (tag, _) =>
            await skopeo.CopyAsync(layout.Reference($"{tag.Repository.Replace('/', '-')}-{tag.Tag}"), $"docker://{registry.Host}/{tag.Repository}:{tag.Tag}"));
        await skopeo.CopyAsync(layout.Reference("scratch"), $"docker://{registry.Host}/apps/web:scratch");
        log.WriteLine($"skopeo pushed 201 tags in {fill.Elapsed.TotalSeconds:0.0} s");

        // The untagged manifest: the scratch tag deleted through the API leaves its manifest behind.
        using (var deleteTag = await api.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"/v2/apps/web/manifests/scratch")))
        {
            await api.EnsureStatusAsync(deleteTag, HttpStatusCode.Accepted);
        }

        // Ages, as a registry:2 volume records them: the tag's current link and the manifest's revision link.
        var now = DateTimeOffset.UtcNow;
        now = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero);
        foreach (var tag in planned)
        {
            var pushedAt = (now - TimeSpan.FromDays(tag.AgeDays) - TimeSpan.FromHours(1)).UtcDateTime;
            File.SetLastWriteTimeUtc(Path.Combine(RepositoryPath(tag.Repository), "_manifests", "tags", tag.Tag, "current", "link"), pushedAt);
            File.SetLastWriteTimeUtc(Path.Combine(RepositoryPath(tag.Repository), "_manifests", "revisions", "sha256", Hex(tag.Image.Manifest.Digest), "link"), pushedAt);
        }

        File.SetLastWriteTimeUtc(Path.Combine(RepositoryPath("apps/web"), "_manifests", "revisions", "sha256", Hex(scratch.Manifest.Digest), "link"),
            (now - TimeSpan.FromDays(10)).UtcDateTime);

        // Real pulls through the server: two old apps/api tags become "pulled within 7d"; the flush writes them.
        await api.GetManifestAsync("apps/api", "build-40");
        await api.GetManifestAsync("apps/api", "build-50");
        var pullTimes = Path.Combine(Storage, "docker", "registry", "v2", "_berth_pulltimes", "e2e.json");
        var deadline = Stopwatch.StartNew();
        while (!(File.Exists(pullTimes) && (await File.ReadAllTextAsync(pullTimes)).Contains(planned.Single(p => p is { Repository: "apps/api", Tag: "build-50" }).Image.Manifest.Digest, StringComparison.Ordinal))
            && deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(100);
        }

        Assert.True(File.Exists(pullTimes), $"no pull times were written\n{registry.Log}");

        bool Kept(Planned tag) => tag switch
        {
            { Repository: "apps/web" } => !tag.Tag.StartsWith("build-", StringComparison.Ordinal) || tag.AgeDays < 30,
            { Repository: "apps/api" } => tag.AgeDays <= 10 || tag.Tag is "build-40" or "build-50",
            _ => true,
        };
        var kept = planned.Where(Kept).ToList();
        var removed = planned.Where(tag => !Kept(tag)).ToList();
        Assert.Equal((81, 119), (kept.Count, removed.Count));

        // The dry run: one line per tag, one per manifest to delete, a summary; nothing changes.
        var nowText = now.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var dryRun = await BerthCliAsync("retention", "--dry-run", "--now", nowText, configPath);
        log.WriteLine(dryRun.StandardOutput);
        var lines = dryRun.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(200 + 120 + 1, lines.Length);
        Assert.Equal($"retention (dry run) at {nowText}: 3 repositories, 200 tags (81 kept, 119 to delete), 120 manifests to delete, 0 skipped", lines[^1]);
        Assert.Contains("keep rule=1 apps/web:v1.0.3 age=300d kept: tag pattern v*", lines);
        Assert.Contains("keep rule=1 apps/web:build-3 age=3d kept: latest 5 (#3)", lines);
        Assert.Contains("keep rule=1 apps/web:build-29 age=29d kept: pushed within 30d", lines);
        Assert.Contains("delete rule=1 apps/web:build-30 age=30d not kept: #30 of latest 5; pushed 30d ago, not within 30d; matches none of v*, release-*", lines);
        Assert.Contains(lines, line => line.StartsWith("keep rule=2 apps/api:build-50 age=50d kept: pulled within 7d", StringComparison.Ordinal));
        Assert.Contains("delete rule=2 apps/api:build-11 age=11d not kept: #11 of latest 10; never pulled", lines);
        Assert.Contains("keep rule=3 prod/db:v20 age=20d kept: immutable (immutabletags[1])", lines);
        Assert.Contains($"delete rule=1 apps/web@{scratch.Manifest.Digest} age=10d untagged, older than 7d", lines);
        Assert.Contains($"delete rule=2 apps/api@{planned.Single(p => p is { Repository: "apps/api", Tag: "build-60" }).Image.Manifest.Digest} age=60d last tag removed (build-60)", lines);
        // Stable order: repositories by name, then tags by name, then manifests by digest.
        Assert.StartsWith("keep rule=2 apps/api:build-1 ", lines[0], StringComparison.Ordinal);
        Assert.Equal(lines.Length, (await BerthCliAsync("retention", "--dry-run", "--now", nowText, configPath)).StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Zip(lines).Count(pair => pair.First == pair.Second));
        Assert.Equal(60, (await api.ListTagsAsync("apps/api")).Count);

        // The real run, while clients pull kept images (bounded: at most 5,000 pulls or 60 s).
        var blobsBefore = DirectorySize(Path.Combine(Storage, "docker", "registry", "v2", "blobs"));
        using var stopPulling = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var pullFailures = new List<string>();
        var pulls = 0;
        var pulling = Task.Run(async () =>
        {
            for (var i = 0; i < 5000 && !stopPulling.IsCancellationRequested; i++)
            {
                var tag = kept[i % kept.Count];
                var status = await api.GetManifestStatusAsync(tag.Repository, tag.Tag);
                var layer = await api.GetBlobAsync(tag.Repository, tag.Image.Layers[0].Digest);
                if (status != HttpStatusCode.OK || layer.Length == 0)
                {
                    lock (pullFailures)
                    {
                        pullFailures.Add($"{tag.Repository}:{tag.Tag} answered {status}");
                    }
                }

                Interlocked.Increment(ref pulls);
            }
        });
        var run = await BerthCliAsync("retention", "--now", nowText, configPath);
        await stopPulling.CancelAsync();
        await pulling;
        log.WriteLine($"{pulls} pulls of kept images during the real run; last line: {run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]}");
        Assert.Empty(pullFailures);
        Assert.True(pulls > 0, "no pull ran during the real run");
        Assert.EndsWith("3 repositories, 200 tags (81 kept, 119 deleted), 120 manifests deleted, 0 skipped", run.StandardOutput.Trim(), StringComparison.Ordinal);

        // Every kept image pulls bit-exact (over HTTP; three of them with skopeo too); every removed one is 404.
        foreach (var tag in kept)
        {
            await ImageAssert.RegistryServesLayoutImageAsync(api, tag.Repository, tag.Tag, layout, tag.Image);
        }

        foreach (var tag in kept.Where(t => t.Tag is "v1.0.0" or "build-50" or "v7"))
        {
            var copy = _temp.CreateSubdirectory($"pulled-{tag.Repository.Replace('/', '-')}-{tag.Tag}");
            await skopeo.CopyAsync($"docker://{registry.Host}/{tag.Repository}:{tag.Tag}", $"oci:{copy}:pulled");
            var pulledLayer = await File.ReadAllBytesAsync(Path.Combine(copy, "blobs", "sha256", Hex(tag.Image.Layers[0].Digest)));
            Assert.True(pulledLayer.AsSpan().SequenceEqual(layout.ReadBlob(tag.Image.Layers[0].Digest)), $"skopeo pulled another layer for {tag.Repository}:{tag.Tag}");
        }

        foreach (var tag in removed)
        {
            Assert.Equal(HttpStatusCode.NotFound, await api.GetManifestStatusAsync(tag.Repository, tag.Tag));
            Assert.Equal(HttpStatusCode.NotFound, await api.GetManifestStatusAsync(tag.Repository, tag.Image.Manifest.Digest));
        }

        Assert.Equal(HttpStatusCode.NotFound, await api.GetManifestStatusAsync("apps/web", scratch.Manifest.Digest));
        Assert.Equal(kept.Where(t => t.Repository == "apps/web").Select(t => t.Tag).Order(StringComparer.Ordinal),
            (await api.ListTagsAsync("apps/web")).Order(StringComparer.Ordinal));

        // Garbage collection gives the space back: the removed images' layers are gone, the kept ones stay.
        var collect = await BerthCliAsync("garbage-collect", "--quiet", configPath);
        log.WriteLine(collect.StandardOutput.Trim());
        var blobsAfter = DirectorySize(Path.Combine(Storage, "docker", "registry", "v2", "blobs"));
        log.WriteLine($"blobs: {blobsBefore} bytes before retention, {blobsAfter} after garbage collection ({blobsBefore - blobsAfter} freed)");
        foreach (var tag in removed)
        {
            Assert.False(File.Exists(BlobPath(tag.Image.Layers[0].Digest)), $"the layer of {tag.Repository}:{tag.Tag} is still stored");
        }

        Assert.All(kept, tag => Assert.True(File.Exists(BlobPath(tag.Image.Layers[0].Digest)), $"the layer of kept {tag.Repository}:{tag.Tag} is gone"));
        Assert.True(blobsBefore - blobsAfter >= removed.Count * LayerSize, $"only {blobsBefore - blobsAfter} bytes were freed");
    }

    private string BlobPath(string digest) => Path.Combine(Storage, "docker", "registry", "v2", "blobs", "sha256", Hex(digest)[..2], Hex(digest), "data");

    private static long DirectorySize(string path) =>
        new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories).Sum(file => file.Length);

    private Task<CommandResult> BerthCliAsync(params string[] arguments) =>
        ExternalCommand.RunCheckedAsync(BuildOutput.DotnetHost, [BuildOutput.ServerAssemblySnapshot, .. arguments], log);
}
