using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// <c>berth scrub</c> run as users run it, a separate process beside a serving Berth (with an in-memory blob
/// descriptor cache, so the serving process still believes in the blob the scrub moves away): a flipped byte and a
/// deleted data file in a registry filled by skopeo are reported with the images they break, the corrupt blob is
/// moved aside, skopeo's pull fails with a 404 instead of receiving bad bytes, and a skopeo re-push heals it.
/// </summary>
/// <remarks>
/// With <c>storage.cache.blobdescriptor: inmemory</c> nothing tells the serving process what a separate scrub did; these
/// tests pin down what it does instead: a GET that finds the data gone answers 404 and forgets the descriptor, and so
/// does a manifest push that finds a reference gone (the client pushes again).
/// </remarks>
public sealed class ScrubTests(ITestOutputHelper log) : IAsyncLifetime
{
    private static readonly OciPlatform LinuxAmd64 = new("linux", "amd64");
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("scrub");
    private readonly Skopeo _skopeo = new(log);
    private RegistryProcess? _registry;
    private string _root = "";
    private string _config = "";

    public async Task InitializeAsync()
    {
        _root = _temp.CreateSubdirectory("root");
        _registry = await RegistryProcess.StartAsync(RegistryKind.Berth, "berth", _root, port => $"""
            version: 0.1
            log:
              level: info
            storage:
              filesystem:
                rootdirectory: {_root}
              cache:
                blobdescriptor: inmemory
            http:
              addr: 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}
              secret: berth-end-to-end-scrub
            health:
              storagedriver:
                enabled: false

            """);
        // The scrub needs only the storage; the same file also works, but this is what a cron job would be given.
        _config = _temp.Combine("scrub.yml");
        await File.WriteAllTextAsync(_config, $"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {_root}\n");
    }

    public async Task DisposeAsync()
    {
        if (_registry is not null)
        {
            await _registry.DisposeAsync();
        }

        _temp.Dispose();
    }

    private RegistryProcess Registry => _registry!;

    private string Remote(string repository, string tag) => $"docker://{Registry.Host}/{repository}:{tag}";

    private string BlobFile(string digest) =>
        Path.Combine(_root, "docker", "registry", "v2", "blobs", "sha256", Digests.Hex(digest)[..2], Digests.Hex(digest), "data");

    private Task<CommandResult> ScrubAsync(params string[] arguments) =>
        ExternalCommand.RunAsync(BuildOutput.DotnetHost, [BuildOutput.ServerAssemblySnapshot, "scrub", .. arguments, _config], log);

    [Fact]
    public async Task Scrub_FlippedByteAndDeletedBlob_ReportsMovesAsidePullFailsCleanlyAndRePushHeals()
    {
        var layoutA = new OciLayoutWriter(_temp.CreateSubdirectory("layout-a"));
        var imageA = layoutA.AddImage(LinuxAmd64, 256 * 1024, 64 * 1024);
        layoutA.Tag("v1", imageA.Manifest);
        var layoutB = new OciLayoutWriter(_temp.CreateSubdirectory("layout-b"));
        var imageB = layoutB.AddImage(LinuxAmd64, 96 * 1024);
        layoutB.Tag("v1", imageB.Manifest);
        await _skopeo.CopyAsync(layoutA.Reference("v1"), Remote("scrub/a", "v1"));
        await _skopeo.CopyAsync(layoutB.Reference("v1"), Remote("scrub/b", "v1"));
        using var api = new RegistryApiClient(Registry);
        using var http = new HttpClient { BaseAddress = Registry.BaseAddress };
        var corrupt = imageA.Layers[0].Digest;
        var deleted = imageB.Layers[0].Digest;
        // Pulled once, so the serving process has the blob's descriptor cached when the scrub moves it away.
        await api.GetBlobAsync("scrub/a", corrupt);

        var bytes = await File.ReadAllBytesAsync(BlobFile(corrupt));
        bytes[bytes.Length / 2] ^= 0x20;
        await File.WriteAllBytesAsync(BlobFile(corrupt), bytes);
        File.Delete(BlobFile(deleted));

        var first = await ScrubAsync();

        Assert.True(first.ExitCode == 3, first.DescribeOutput());
        var lines = first.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith($"blob-corrupt blob {corrupt}: {bytes.Length} bytes hash to sha256:", StringComparison.Ordinal));
        Assert.Contains($"reference-corrupt scrub/a@{imageA.Manifest.Digest} (tags: v1): layer {corrupt} is corrupt", lines);
        Assert.Contains($"reference-missing scrub/b@{imageB.Manifest.Digest} (tags: v1): layer {deleted} has no data", lines);
        Assert.Contains($"moved-aside blob {corrupt}: to /docker/registry/v2/_berth_corrupt/sha256/{Digests.Hex(corrupt)}/data", lines);
        Assert.Contains(lines, l => l.Contains("3 problems, 1 corrupt blobs (1 moved aside)", StringComparison.Ordinal));
        Assert.False(File.Exists(BlobFile(corrupt)));
        var movedAside = Path.Combine(_root, "docker", "registry", "v2", "_berth_corrupt", "sha256", Digests.Hex(corrupt));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(movedAside, "data")));
        Assert.Contains(corrupt, await File.ReadAllTextAsync(Path.Combine(movedAside, "record.json")));

        // The serving process still had the descriptor cached: the GET finds the data gone and answers the OCI 404.
        using (var response = await http.GetAsync(new Uri($"v2/scrub/a/blobs/{corrupt}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["errors"]![0]!;
            Assert.Equal("BLOB_UNKNOWN", (string?)error["code"]);
        }

        using (var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, new Uri($"v2/scrub/a/blobs/{corrupt}", UriKind.Relative))))
        {
            Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        }

        var failedPull = await _skopeo.TryRunAsync(["copy", "--src-tls-verify=false", Remote("scrub/a", "v1"), $"oci:{_temp.Combine("pull-broken")}:v1"]);
        Assert.NotEqual(0, failedPull.ExitCode);
        Assert.Contains("404", failedPull.StandardError + failedPull.StandardOutput, StringComparison.Ordinal);

        // skopeo's HEAD finds the layer missing, uploads it again, and the commit stores it because the data is absent.
        await _skopeo.CopyAsync(layoutA.Reference("v1"), Remote("scrub/a", "v1"));
        var pulled = _temp.Combine("pulled-a");
        await _skopeo.CopyAsync(Remote("scrub/a", "v1"), $"oci:{pulled}:v1");
        ImageAssert.LayoutsHaveSameBlobs(layoutA.Directory, pulled);

        var second = await ScrubAsync("--json");

        Assert.True(second.ExitCode == 3, second.DescribeOutput());
        var report = JsonNode.Parse(second.StandardOutput)!;
        Assert.False((bool)report["clean"]!);
        var finding = Assert.Single(report["findings"]!.AsArray())!;
        Assert.Equal("reference-missing", (string?)finding["problem"]);
        Assert.Equal("scrub/b", (string?)finding["repository"]);
        Assert.Equal(deleted, (string?)finding["blob"]);
        Assert.Equal(0, (int)report["summary"]!["blobsCorrupt"]!);

        // The serving process still caches the deleted layer's descriptor (nothing it did removed the data), so skopeo's
        // HEAD says it exists and the push skips it. The manifest PUT confirms every reference in storage after linking,
        // refuses with MANIFEST_BLOB_UNKNOWN and drops the stale descriptor; the next push uploads the layer.
        var stale = await _skopeo.TryRunAsync(["copy", "--dest-tls-verify=false", layoutB.Reference("v1"), Remote("scrub/b", "v1")]);
        Assert.NotEqual(0, stale.ExitCode);
        Assert.Contains("manifest blob unknown", stale.StandardError, StringComparison.OrdinalIgnoreCase);
        await _skopeo.CopyAsync(layoutB.Reference("v1"), Remote("scrub/b", "v1"));
        var pulledB = _temp.Combine("pulled-b");
        await _skopeo.CopyAsync(Remote("scrub/b", "v1"), $"oci:{pulledB}:v1");
        ImageAssert.LayoutsHaveSameBlobs(layoutB.Directory, pulledB);
        var third = await ScrubAsync("--rate", "0");

        Assert.True(third.ExitCode == 0, third.DescribeOutput());
        Assert.Contains("0 problems, 0 corrupt blobs", third.StandardOutput, StringComparison.Ordinal);
    }
}
