using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// What a push acknowledges must survive a power loss, not only a killed process. Berth publishes every file by a
/// rename out of its staging directory, and a rename is durable only once the directory that received the name is
/// synced: these tests watch a real server's system calls (strace) while clients push, and require each publishing
/// rename to be followed by an fsync of that directory, on the same thread, before the thread renames anything else.
/// </summary>
public sealed class DurabilityTests(ITestOutputHelper log) : IDisposable
{
    private const string Repository = "durable/app";
    private static readonly string[] TracedCalls = ["rename", "renameat", "renameat2", "fsync", "fdatasync"];

    private readonly TemporaryDirectory _root = TemporaryDirectory.Create("durable");

    [Fact]
    public async Task EveryPublishingRename_IsFollowedBySyncOfTheReceivingDirectory()
    {
        await using var registry = await RegistryProcess.StartAsync(RegistryKind.Berth, _root.Path);
        using var http = new HttpClient { BaseAddress = registry.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var root = new DirectoryInfo(_root.Path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? _root.Path;

        await using var trace = await SyscallTrace.AttachAsync(registry.ProcessId, TracedCalls);
        // Every way content is committed: POST+PUT, one-request POST, chunked PATCH+PUT, manifests by tag (a new tag,
        // then the same tag moved) and by digest.
        var layer = await PushBlobAsync(http, Encoding.UTF8.GetBytes("layer one"), Upload.PostThenPut);
        var second = await PushBlobAsync(http, Encoding.UTF8.GetBytes("layer two, pushed in one request"), Upload.SingleRequest);
        var config = await PushBlobAsync(http, Encoding.UTF8.GetBytes("""{"architecture":"amd64","os":"linux"}"""), Upload.Chunked);
        await PutManifestAsync(http, "v1", config, [layer]);
        await PutManifestAsync(http, "v1", config, [layer, second]);
        var byDigest = ManifestJson(config, [second]);
        await PutManifestAsync(http, Digests.Sha256(byDigest), byDigest);
        var threads = await trace.StopAsync();

        var staging = Path.Combine(root, ".berth-staging") + Path.DirectorySeparatorChar;
        var published = 0;
        var unsynced = new List<string>();
        foreach (var calls in threads)
        {
            for (var i = 0; i < calls.Count; i++)
            {
                var call = calls[i];
                if (!call.Name.StartsWith("rename", StringComparison.Ordinal) || !call.Succeeded)
                {
                    continue;
                }

                var paths = call.Arguments.Where(a => a.StartsWith('"')).Select(SyscallTrace.PathOf).ToList();
                var destination = paths[^1];
                if (!destination.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || destination.StartsWith(staging, StringComparison.Ordinal))
                {
                    continue; // staging-internal moves (building a chain, deleting) publish nothing
                }

                published++;
                var receiving = Path.GetDirectoryName(destination)!;
                var nextSync = calls.Skip(i + 1).TakeWhile(c => !c.Name.StartsWith("rename", StringComparison.Ordinal))
                    .FirstOrDefault(c => c.Name is "fsync" or "fdatasync");
                if (nextSync is null || !nextSync.Succeeded || SyscallTrace.PathOf(nextSync.Arguments[0]) != receiving)
                {
                    unsynced.Add($"{destination} (next sync on the thread: {(nextSync is null ? "none" : SyscallTrace.PathOf(nextSync.Arguments[0]))})");
                }
            }
        }

        log.WriteLine($"publishing renames: {published}, threads traced: {threads.Count}");
        // Three blobs with their links, three manifests with revision links, a tag's current link and index entries.
        Assert.True(published >= 12, $"only {published} publishing renames were traced; strace missed the pushes");
        Assert.True(unsynced.Count == 0, $"{unsynced.Count} rename(s) were not followed by a sync of the receiving directory:\n  {string.Join("\n  ", unsynced)}");
    }

    public void Dispose() => _root.Dispose();

    private enum Upload
    {
        PostThenPut,
        SingleRequest,
        Chunked,
    }

    private static async Task<(string Digest, int Size)> PushBlobAsync(HttpClient http, byte[] content, Upload upload)
    {
        var digest = Digests.Sha256(content);
        if (upload == Upload.SingleRequest)
        {
            using var single = await http.PostAsync($"/v2/{Repository}/blobs/uploads/?digest={digest}", Octets(content));
            Assert.Equal(HttpStatusCode.Created, single.StatusCode);
            return (digest, content.Length);
        }

        using var start = await http.PostAsync($"/v2/{Repository}/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var location = start.Headers.Location!.ToString();
        if (upload == Upload.Chunked)
        {
            using var patch = new HttpRequestMessage(HttpMethod.Patch, location) { Content = Octets(content) };
            patch.Content.Headers.TryAddWithoutValidation("Content-Range", $"0-{content.Length - 1}");
            using var patched = await http.SendAsync(patch);
            Assert.Equal(HttpStatusCode.Accepted, patched.StatusCode);
            location = patched.Headers.Location!.ToString();
        }

        var body = upload == Upload.Chunked ? [] : content;
        using var put = await http.PutAsync($"{location}&digest={digest}", Octets(body));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        return (digest, content.Length);
    }

    private static Task PutManifestAsync(HttpClient http, string reference, (string Digest, int Size) config, IReadOnlyList<(string Digest, int Size)> layers) =>
        PutManifestAsync(http, reference, ManifestJson(config, layers));

    private static async Task PutManifestAsync(HttpClient http, string reference, byte[] manifest)
    {
        var content = new ByteArrayContent(manifest);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
        using var response = await http.PutAsync($"/v2/{Repository}/manifests/{reference}", content);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private static byte[] ManifestJson((string Digest, int Size) config, IReadOnlyList<(string Digest, int Size)> layers) =>
        Encoding.UTF8.GetBytes($$"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
             "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{config.Digest}}","size":{{config.Size}}},
             "layers":[{{string.Join(",", layers.Select(l => $$"""{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{l.Digest}}","size":{{l.Size}}}"""))}}]}
            """);

    private static ByteArrayContent Octets(byte[] content)
    {
        var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return body;
    }
}
