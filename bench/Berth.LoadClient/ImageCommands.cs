using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Berth.LoadClient;

/// <summary>
/// Tiny images (a 1 KiB layer, a config, an OCI manifest) pushed the way containerd and skopeo
/// push them: for each blob a HEAD (is it there?), a POST and a PUT with the body; then a PUT of
/// the manifest by tag. Also fills repositories with tags and the catalog with repositories.
/// </summary>
internal static class ImageCommands
{
    private const string OciManifest = "application/vnd.oci.image.manifest.v1+json";

    public static async Task<int> PushImagesAsync(CommandOptions options)
    {
        var registry = new Uri(options.Get("registry"));
        var repo = options.Get("repo");
        var count = options.GetInt("count", 500);
        var concurrency = options.GetInt("concurrency", 16);
        var salt = options.GetLong("salt", 0);
        var prefix = options.Get("tag-prefix", "t");

        using var handler = Output.Handler(concurrency);
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
        var seconds = await RunConcurrentAsync(count, concurrency, options.GetSeconds("timeout", 600),
            (i, ct) => PushImageAsync(client, registry, repo, $"{prefix}{i}", TinyImage.Create(salt, i), ct));
        Output.Line(("images", count), ("seconds", Output.F(seconds, 3)), ("ips", Output.F(count / seconds)));
        return 0;
    }

    /// <summary>Pushes one image, then tags its manifest <c>t00000</c>... (<c>--count</c> tags in all, plus <c>latest</c>).</summary>
    public static async Task<int> PopulateTagsAsync(CommandOptions options)
    {
        var registry = new Uri(options.Get("registry"));
        var repo = options.Get("repo");
        var count = options.GetInt("count", 5000);
        var concurrency = options.GetInt("concurrency", 16);

        using var handler = Output.Handler(concurrency);
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
        var image = TinyImage.Create(salt: -1, index: 0);
        await PushImageAsync(client, registry, repo, "latest", image, CancellationToken.None);
        var seconds = await RunConcurrentAsync(count, concurrency, options.GetSeconds("timeout", 600),
            (i, ct) => PutManifestAsync(client, registry, repo, $"t{i:D5}", image.Manifest, ct));
        Output.Line(("tags", count), ("seconds", Output.F(seconds, 3)), ("manifest", image.ManifestDigest), ("layer", image.LayerDigest));
        return 0;
    }

    /// <summary>Creates <c>--count</c> repositories <c>PREFIX0000</c>... by mounting one image's blobs from <c>--from</c>.</summary>
    public static async Task<int> PopulateReposAsync(CommandOptions options)
    {
        var registry = new Uri(options.Get("registry"));
        var prefix = options.Get("prefix");
        var from = options.Get("from");
        var count = options.GetInt("count", 1000);
        var concurrency = options.GetInt("concurrency", 16);

        using var handler = Output.Handler(concurrency);
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
        var image = TinyImage.Create(salt: -1, index: 0);
        await PushImageAsync(client, registry, from, "latest", image, CancellationToken.None);
        var seconds = await RunConcurrentAsync(count, concurrency, options.GetSeconds("timeout", 600), async (i, ct) =>
        {
            var repo = $"{prefix}{i:D4}";
            await MountOrPushAsync(client, registry, repo, from, image.Layer, image.LayerDigest, ct);
            await MountOrPushAsync(client, registry, repo, from, image.Config, image.ConfigDigest, ct);
            await PutManifestAsync(client, registry, repo, "latest", image.Manifest, ct);
        });
        Output.Line(("repos", count), ("seconds", Output.F(seconds, 3)));
        return 0;
    }

    private static async Task<double> RunConcurrentAsync(int count, int concurrency, TimeSpan timeout, Func<int, CancellationToken, Task> action)
    {
        using var cts = new CancellationTokenSource(timeout);
        var next = -1;
        var start = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                await action(i, cts.Token);
            }
        }));
        await Task.WhenAll(workers);
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static async Task PushImageAsync(HttpClient client, Uri registry, string repo, string tag, TinyImage image, CancellationToken ct)
    {
        await PushSmallBlobAsync(client, registry, repo, image.Layer, image.LayerDigest, ct);
        await PushSmallBlobAsync(client, registry, repo, image.Config, image.ConfigDigest, ct);
        await PutManifestAsync(client, registry, repo, tag, image.Manifest, ct);
    }

    private static async Task PushSmallBlobAsync(HttpClient client, Uri registry, string repo, byte[] content, string digest, CancellationToken ct)
    {
        using (var request = new HttpRequestMessage(HttpMethod.Head, new Uri(registry, $"/v2/{repo}/blobs/{digest}")))
        using (var head = await client.SendAsync(request, ct))
        {
            if (head.StatusCode == HttpStatusCode.OK)
            {
                return;
            }

            await PushCommands.ExpectAsync(head, HttpStatusCode.NotFound, "HEAD blob");
        }

        using var post = await client.PostAsync(new Uri(registry, $"/v2/{repo}/blobs/uploads/"), content: null, ct);
        await PushCommands.ExpectAsync(post, HttpStatusCode.Accepted, "POST upload");
        await PutBlobAsync(client, PushCommands.NextLocation(registry, post), content, digest, ct);
    }

    private static async Task MountOrPushAsync(HttpClient client, Uri registry, string repo, string from, byte[] content, string digest, CancellationToken ct)
    {
        var url = new Uri(registry, $"/v2/{repo}/blobs/uploads/?mount={Uri.EscapeDataString(digest)}&from={Uri.EscapeDataString(from)}");
        using var post = await client.PostAsync(url, content: null, ct);
        if (post.StatusCode == HttpStatusCode.Created)
        {
            return;
        }

        await PushCommands.ExpectAsync(post, HttpStatusCode.Accepted, "POST mount");
        await PutBlobAsync(client, PushCommands.NextLocation(registry, post), content, digest, ct);
    }

    private static async Task PutBlobAsync(HttpClient client, Uri location, byte[] content, string digest, CancellationToken ct)
    {
        var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var put = await client.PutAsync(PushCommands.WithDigest(location, digest), body, ct);
        await PushCommands.ExpectAsync(put, HttpStatusCode.Created, "PUT blob");
    }

    private static async Task PutManifestAsync(HttpClient client, Uri registry, string repo, string tag, byte[] manifest, CancellationToken ct)
    {
        var body = new ByteArrayContent(manifest);
        body.Headers.ContentType = new MediaTypeHeaderValue(OciManifest);
        using var put = await client.PutAsync(new Uri(registry, $"/v2/{repo}/manifests/{tag}"), body, ct);
        await PushCommands.ExpectAsync(put, HttpStatusCode.Created, "PUT manifest");
    }

    private sealed record TinyImage(byte[] Layer, string LayerDigest, byte[] Config, string ConfigDigest, byte[] Manifest, string ManifestDigest)
    {
        /// <summary>A distinct image per (salt, index): the layer starts with both, the rest is random.</summary>
        public static TinyImage Create(long salt, int index)
        {
            var layer = new byte[1024];
            RandomNumberGenerator.Fill(layer);
            BitConverter.TryWriteBytes(layer.AsSpan(0, 8), salt);
            BitConverter.TryWriteBytes(layer.AsSpan(8, 4), index);
            if (salt < 0)
            {
                // The fixed image of the populate verbs: the same bytes every time, so reruns mount and dedupe.
                new Random(index).NextBytes(layer.AsSpan(12));
            }

            var layerDigest = Digest(layer);
            var config = Encoding.UTF8.GetBytes(
                $$"""{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["{{layerDigest}}"]},"history":[{"created_by":"berth bench {{salt}} {{index}}"}]}""");
            var configDigest = Digest(config);
            var manifest = Encoding.UTF8.GetBytes(
                $$"""{"schemaVersion":2,"mediaType":"{{OciManifest}}","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{configDigest}}","size":{{config.Length}}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{layerDigest}}","size":{{layer.Length}}}]}""");
            return new TinyImage(layer, layerDigest, config, configDigest, manifest, Digest(manifest));
        }

        private static string Digest(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
    }
}
