using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Berth.LoadClient;

/// <summary>
/// bench/curves.sh's data: writes registry:2's storage layout directly (on a directory or below an S3 key prefix)
/// instead of pushing through a registry, because 100,000 repositories or tags pushed one manifest at a time would
/// take longer than the measurements. Both Berth and Distribution read this layout (it is registry:2's, see
/// src/Berth.Storage/StoragePaths.cs), so the listings they answer are the ones a pushed registry would have.
/// <para>One small real image (a schema2 manifest, an image config and an empty gzipped tar layer, with their true
/// SHA-256 digests) is stored once under <c>blobs/</c>; every repository <c>PREFIX000000</c>.. and every tag
/// <c>t000000</c>.. of the tag repository get the link files a push leaves: the tag's <c>current</c> and
/// <c>index</c> links, the manifest revision link and both layer links. Ranges are half-open, so a run can grow the
/// layout from 1k to 10k to 100k by writing only what is new; names are zero-padded so their order is numeric.</para>
/// </summary>
internal static class LayoutFill
{
    private const string Root = "docker/registry/v2";

    public static async Task<int> RunAsync(CommandOptions options)
    {
        var reposFrom = options.GetInt("repos-from", 0);
        var reposTo = options.GetInt("repos-to", 0);
        var repoPrefix = options.Get("repo-prefix", "cat/r");
        var tagsFrom = options.GetInt("tags-from", 0);
        var tagsTo = options.GetInt("tags-to", 0);
        var tagRepository = options.Get("tag-repo", "bench/tags");
        var concurrency = options.GetInt("concurrency", 8);
        using var cts = new CancellationTokenSource(options.GetSeconds("timeout", 3000));

        await using var sink = LayoutSink.Open(options);
        var image = TinyImage.Create();
        var start = Stopwatch.GetTimestamp();
        var files = 0L;

        // Blobs first: a link is only ever written to content that exists, as a push does.
        if (options.Get("blobs", "true") == "true")
        {
            foreach (var (digestHex, content) in image.Blobs)
            {
                await sink.WriteAsync($"{Root}/blobs/sha256/{digestHex[..2]}/{digestHex}/data", content, cts.Token);
                files++;
            }
        }

        var work = Enumerable.Range(reposFrom, Math.Max(0, reposTo - reposFrom))
            .Select(i => RepositoryFiles($"{repoPrefix}{i:D6}", "latest", image, withRepositoryLinks: true))
            .Concat(Enumerable.Range(tagsFrom, Math.Max(0, tagsTo - tagsFrom))
                .Select(i => RepositoryFiles(tagRepository, $"t{i:D6}", image, withRepositoryLinks: i == 0)))
            .SelectMany(f => f);

        var written = 0L;
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cts.Token },
            async (file, token) =>
            {
                await sink.WriteAsync(file.Path, file.Content, token);
                Interlocked.Increment(ref written);
            });
        files += written;

        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Output.Line(("files", files), ("seconds", Output.F(seconds, 2)), ("files_per_s", Output.F(files / Math.Max(seconds, 1e-6), 0)),
            ("manifest_digest", "sha256:" + image.ManifestHex));
        return 0;
    }

    /// <summary>The link files one push of <paramref name="image"/> as <paramref name="repository"/>:<paramref name="tag"/>
    /// leaves; the repository-wide ones (revision and layer links) only where asked, so the tag repository has them once.</summary>
    private static IEnumerable<(string Path, byte[] Content)> RepositoryFiles(string repository, string tag, TinyImage image, bool withRepositoryLinks)
    {
        var repo = $"{Root}/repositories/{repository}";
        var manifestLink = Encoding.ASCII.GetBytes("sha256:" + image.ManifestHex);
        yield return ($"{repo}/_manifests/tags/{tag}/current/link", manifestLink);
        yield return ($"{repo}/_manifests/tags/{tag}/index/sha256/{image.ManifestHex}/link", manifestLink);
        if (withRepositoryLinks)
        {
            yield return ($"{repo}/_manifests/revisions/sha256/{image.ManifestHex}/link", manifestLink);
            yield return ($"{repo}/_layers/sha256/{image.ConfigHex}/link", Encoding.ASCII.GetBytes("sha256:" + image.ConfigHex));
            yield return ($"{repo}/_layers/sha256/{image.LayerHex}/link", Encoding.ASCII.GetBytes("sha256:" + image.LayerHex));
        }
    }

    /// <summary>A real, pullable image: an empty tar (two zero blocks) gzipped as its layer, a config naming that
    /// tar's diff ID, and a Docker schema2 manifest over both.</summary>
    private sealed record TinyImage(string ManifestHex, string ConfigHex, string LayerHex, IReadOnlyList<(string Hex, byte[] Content)> Blobs)
    {
        public static TinyImage Create()
        {
            var tar = new byte[1024];
            using var gzipped = new MemoryStream();
            using (var gzip = new GZipStream(gzipped, CompressionLevel.Optimal, leaveOpen: true))
            {
                gzip.Write(tar);
            }

            var layer = gzipped.ToArray();
            var config = Encoding.UTF8.GetBytes(
                $$$"""{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:{{{Hex(tar)}}}"]}}""");
            var manifest = Encoding.UTF8.GetBytes(
                $$$"""
                {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":{{{config.Length}}},"digest":"sha256:{{{Hex(config)}}}"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{{{layer.Length}}},"digest":"sha256:{{{Hex(layer)}}}"}]}
                """);
            return new TinyImage(Hex(manifest), Hex(config), Hex(layer), [(Hex(manifest), manifest), (Hex(config), config), (Hex(layer), layer)]);
        }

        private static string Hex(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));
    }
}

/// <summary>Where <see cref="LayoutFill"/> writes: a directory (<c>--dir</c>) or an S3 bucket below a key prefix
/// (<c>--s3-endpoint --bucket --prefix</c>, keys from S3_ACCESS_KEY / S3_SECRET_KEY as for s3-delete-prefix).</summary>
internal abstract class LayoutSink : IAsyncDisposable
{
    public static LayoutSink Open(CommandOptions options)
    {
        if (options.GetAll("dir").Count > 0)
        {
            return new DirectorySink(options.Get("dir"));
        }

        return new S3Sink(options.Get("s3-endpoint"), options.Get("bucket"), options.Get("prefix").Trim('/'), options.Get("region", "us-east-1"));
    }

    public abstract Task WriteAsync(string relativePath, byte[] content, CancellationToken cancellationToken);

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed class DirectorySink(string root) : LayoutSink
    {
        public override async Task WriteAsync(string relativePath, byte[] content, CancellationToken cancellationToken)
        {
            var path = Path.Combine(root, relativePath);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllBytesAsync(path, content, cancellationToken);
        }
    }

    private sealed class S3Sink : LayoutSink
    {
        private readonly AmazonS3Client _client;
        private readonly string _bucket;
        private readonly string _prefix;

        public S3Sink(string endpoint, string bucket, string prefix, string region)
        {
            if (prefix.Length == 0)
            {
                throw new ArgumentException("--prefix must not be empty (the layout goes below its own prefix)");
            }

            var access = Environment.GetEnvironmentVariable("S3_ACCESS_KEY") ?? throw new ArgumentException("S3_ACCESS_KEY is not set");
            var secret = Environment.GetEnvironmentVariable("S3_SECRET_KEY") ?? throw new ArgumentException("S3_SECRET_KEY is not set");
            _client = new AmazonS3Client(new BasicAWSCredentials(access, secret), new AmazonS3Config
            {
                ServiceURL = endpoint,
                AuthenticationRegion = region,
                ForcePathStyle = true,
                RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
                ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
                Timeout = TimeSpan.FromSeconds(60),
                // Parallel.ForEachAsync's degree is the limit that matters; the SDK's own pool must not be narrower.
                MaxConnectionsPerServer = 256,
            });
            _bucket = bucket;
            _prefix = prefix;
        }

        public override async Task WriteAsync(string relativePath, byte[] content, CancellationToken cancellationToken)
        {
            using var body = new MemoryStream(content, writable: false);
            await _client.PutObjectAsync(new PutObjectRequest
            {
                BucketName = _bucket,
                Key = $"{_prefix}/{relativePath}",
                InputStream = body,
                AutoCloseStream = false,
            }, cancellationToken);
        }

        public override ValueTask DisposeAsync()
        {
            _client.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
