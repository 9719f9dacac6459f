using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Berth.LoadClient;

/// <summary>
/// bench/gc.sh's verbs. <c>gc-fill</c> writes registry:2's storage layout directly (files, or S3 objects through the AWS
/// SDK): a fixed, seed-free set of tiny images, half of them still tagged and half "deleted" (their revision and tag
/// links gone, their blobs and <c>_layers</c> links left behind, as a manifest DELETE leaves them). Both registries read
/// that same layout, so filling it without the HTTP API is honest and is what makes a million blobs affordable.
/// <c>gc-count</c> checks what a collection left: every kept blob present, every orphan gone. <c>gc-pull</c> pulls kept
/// images while a collection runs and counts failures.
/// </summary>
internal static class GcCommands
{
    private const string ManifestMediaType = "application/vnd.docker.distribution.manifest.v2+json";
    private const string ConfigMediaType = "application/vnd.docker.container.image.v1+json";
    private const string LayerMediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    private const int LayersPerImage = 3;

    /// <summary>Blobs per image: the manifest, its config and its layers.</summary>
    private const int BlobsPerImage = LayersPerImage + 2;

    public static async Task<int> FillAsync(CommandOptions options)
    {
        var set = ImageSet.From(options);
        using var store = LayoutStore.From(options);
        var concurrency = options.GetInt("concurrency", 32);
        using var cts = new CancellationTokenSource(options.GetSeconds("timeout", 3000));
        var start = Stopwatch.GetTimestamp();
        var written = 0L;
        await Parallel.ForAsync(0, set.Images, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cts.Token },
            async (index, token) =>
            {
                var image = set.Build(index);
                foreach (var blob in image.Blobs)
                {
                    await store.PutAsync(BlobDataPath(blob.Digest), blob.Content, token);
                }

                // Config and layers are linked into the repository whether the image is kept or not: a manifest DELETE
                // removes only the revision link (and the tag), so a deleted image's layers stay linked until collected.
                foreach (var blob in image.Blobs.Skip(1))
                {
                    await store.PutAsync(RepositoryPath(image.Repository, $"_layers/sha256/{Hex(blob.Digest)}/link"), Encoding.ASCII.GetBytes(blob.Digest), token);
                }

                if (image.Kept)
                {
                    var manifestLink = Encoding.ASCII.GetBytes(image.Manifest.Digest);
                    var manifestHex = Hex(image.Manifest.Digest);
                    await store.PutAsync(RepositoryPath(image.Repository, $"_manifests/revisions/sha256/{manifestHex}/link"), manifestLink, token);
                    await store.PutAsync(RepositoryPath(image.Repository, $"_manifests/tags/{image.Tag}/current/link"), manifestLink, token);
                    await store.PutAsync(RepositoryPath(image.Repository, $"_manifests/tags/{image.Tag}/index/sha256/{manifestHex}/link"), manifestLink, token);
                }

                Interlocked.Add(ref written, image.Blobs.Length * 2 - 1 + (image.Kept ? 3 : 0));
            });

        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (options.Get("pull-list", "") is { Length: > 0 } pullList)
        {
            // The pull loop's images: kept ones spread over the whole set, so its reads touch many repositories.
            var kept = Enumerable.Range(0, set.Images).Where(ImageSet.IsKept).ToList();
            var wanted = Math.Min(kept.Count, options.GetInt("pull-images", 200));
            var lines = Enumerable.Range(0, wanted).Select(i => set.Build(kept[(int)((long)i * kept.Count / wanted)])).Select(i => $"{i.Repository} {i.Tag}");
            await File.WriteAllLinesAsync(pullList, lines, cts.Token);
        }

        Output.Line(("blobs", set.Images * BlobsPerImage), ("images", set.Images), ("kept_blobs", set.KeptImages * BlobsPerImage),
            ("repositories", set.Repositories), ("objects", written), ("seconds", Output.F(seconds, 1)),
            ("objects_per_s", Output.F(written / seconds, 0)));
        return 0;
    }

    public static async Task<int> CountAsync(CommandOptions options)
    {
        var set = ImageSet.From(options);
        using var store = LayoutStore.From(options);
        using var cts = new CancellationTokenSource(options.GetSeconds("timeout", 1200));
        var present = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var key in store.ListAsync("docker/registry/v2/blobs/sha256/", cts.Token))
        {
            // .../blobs/sha256/ab/<hex>/data; anything else (a collector's own bookkeeping) is not a blob.
            var parts = key.Split('/');
            if (parts.Length >= 3 && parts[^1] == "data" && parts[^2].Length == 64)
            {
                present.Add("sha256:" + parts[^2]);
            }
        }

        var expected = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < set.Images; i++)
        {
            if (ImageSet.IsKept(i))
            {
                foreach (var blob in set.Build(i).Blobs)
                {
                    expected.Add(blob.Digest);
                }
            }
        }

        var missing = expected.Count(d => !present.Contains(d));
        var extra = present.Count(d => !expected.Contains(d));
        Output.Line(("left", present.Count), ("expected", expected.Count), ("missing", missing), ("extra", extra));
        return 0;
    }

    public static async Task<int> PullAsync(CommandOptions options)
    {
        var registry = options.Get("registry").TrimEnd('/');
        var images = (await File.ReadAllLinesAsync(options.Get("list"))).Where(l => l.Length > 0).Select(l => l.Split(' ')).ToArray();
        if (images.Length == 0)
        {
            throw new ArgumentException("--list names no images");
        }

        var stopFile = options.Get("stop-file");
        var maxSeconds = options.GetDouble("max-seconds", 3600);
        var maxPulls = options.GetLong("max-pulls", 10_000_000);
        var concurrency = options.GetInt("concurrency", 2);
        // Paced so the loop is a steady background of clients, not a second benchmark fighting the collector for the CPU.
        var ratePerSecond = options.GetDouble("rate", 50);
        using var http = new HttpClient(Output.Handler(concurrency)) { Timeout = TimeSpan.FromSeconds(30) };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(maxSeconds));
        var start = Stopwatch.GetTimestamp();
        var next = -1L;
        var pulls = 0L;
        var failures = 0L;
        var errors = new ConcurrentQueue<string>();
        var latencies = new ConcurrentBag<double>();

        async Task WorkerAsync()
        {
            while (!cts.IsCancellationRequested && !File.Exists(stopFile))
            {
                var n = Interlocked.Increment(ref next);
                if (n >= maxPulls)
                {
                    return;
                }

                if (ratePerSecond > 0)
                {
                    var due = TimeSpan.FromSeconds(n / ratePerSecond) - Stopwatch.GetElapsedTime(start);
                    if (due > TimeSpan.Zero)
                    {
                        try
                        {
                            await Task.Delay(due, cts.Token);
                        }
                        catch (OperationCanceledException)
                        {
                            return;
                        }
                    }
                }

                var image = images[n % images.Length];
                var began = Stopwatch.GetTimestamp();
                try
                {
                    await PullImageAsync(http, registry, image[0], image[1], cts.Token);
                    latencies.Add(Stopwatch.GetElapsedTime(began).TotalMilliseconds);
                    Interlocked.Increment(ref pulls);
                }
                catch (OperationCanceledException) when (cts.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is HttpRequestException or BenchmarkException or IOException or JsonException or TaskCanceledException)
                {
                    Interlocked.Increment(ref failures);
                    if (errors.Count < 3)
                    {
                        errors.Enqueue($"{image[0]}:{image[1]}: {ex.Message}");
                    }
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(WorkerAsync)));
        var sorted = latencies.ToArray();
        Array.Sort(sorted);
        Output.Line(("pulls", pulls), ("failures", failures), ("seconds", Output.F(Stopwatch.GetElapsedTime(start).TotalSeconds, 1)),
            ("p50_ms", Output.F(Output.Quantile(sorted, 0.5), 1)), ("p99_ms", Output.F(Output.Quantile(sorted, 0.99), 1)),
            ("first_error", errors.TryPeek(out var first) ? first.Replace(' ', '_') : "none"));
        return failures == 0 ? 0 : 1;
    }

    /// <summary>A whole pull: the manifest by tag, then every blob it names, each checked against its digest.</summary>
    private static async Task PullImageAsync(HttpClient http, string registry, string repository, string tag, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{registry}/v2/{repository}/manifests/{tag}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(ManifestMediaType));
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new BenchmarkException($"manifest GET answered {(int)response.StatusCode}");
        }

        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        using var manifest = JsonDocument.Parse(body);
        var digests = new List<string> { manifest.RootElement.GetProperty("config").GetProperty("digest").GetString()! };
        digests.AddRange(manifest.RootElement.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("digest").GetString()!));
        foreach (var digest in digests)
        {
            var blob = await http.GetByteArrayAsync($"{registry}/v2/{repository}/blobs/{digest}", cancellationToken);
            if (Digest(blob) != digest)
            {
                throw new BenchmarkException($"blob {digest} came back with other content");
            }
        }
    }

    private static string BlobDataPath(string digest) => $"docker/registry/v2/blobs/sha256/{Hex(digest)[..2]}/{Hex(digest)}/data";

    private static string RepositoryPath(string repository, string rest) => $"docker/registry/v2/repositories/{repository}/{rest}";

    private static string Hex(string digest) => digest["sha256:".Length..];

    private static string Digest(ReadOnlySpan<byte> content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    private sealed record Blob(string Digest, byte[] Content)
    {
        public static Blob Of(byte[] content) => new(GcCommands.Digest(content), content);
    }

    private sealed record Image(string Repository, string Tag, bool Kept, Blob Manifest, Blob[] Blobs);

    /// <summary>
    /// The images behind <c>--blobs N</c>: N / 5 images of a manifest, a config and three layers, every blob unique, in
    /// repositories of <c>--images-per-repo</c>. Even-numbered images are kept, odd ones deleted, so half the blobs are
    /// garbage. Contents depend only on the index, so a second fill (the other registry's) holds the same digests.
    /// </summary>
    private sealed record ImageSet(int Images, int ImagesPerRepository)
    {
        public int KeptImages => (Images + 1) / 2;

        public int Repositories => (Images + ImagesPerRepository - 1) / ImagesPerRepository;

        public static ImageSet From(CommandOptions options)
        {
            var blobs = options.GetLong("blobs", 10_000);
            if (blobs < BlobsPerImage || blobs % BlobsPerImage != 0)
            {
                throw new ArgumentException($"--blobs must be a positive multiple of {BlobsPerImage} (a manifest, a config and {LayersPerImage} layers per image)");
            }

            return new ImageSet(checked((int)(blobs / BlobsPerImage)), options.GetInt("images-per-repo", 100));
        }

        public static bool IsKept(int index) => index % 2 == 0;

        public Image Build(int index)
        {
            var layers = Enumerable.Range(0, LayersPerImage)
                .Select(j => Blob.Of(Encoding.ASCII.GetBytes($"berth gc bench: layer {j} of image {index}\n")))
                .ToArray();
            var config = Blob.Of(Encoding.ASCII.GetBytes(
                $$$"""{"architecture":"amd64","os":"linux","config":{"Labels":{"bench.image":"{{{index}}}"}},"rootfs":{"type":"layers","diff_ids":[]}}"""));
            var manifest = Blob.Of(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                $$"""{"schemaVersion":2,"mediaType":"{{ManifestMediaType}}","config":{{Descriptor(ConfigMediaType, config)}},"layers":[{{string.Join(',', layers.Select(l => Descriptor(LayerMediaType, l)))}}]}""")));
            var repository = string.Create(CultureInfo.InvariantCulture, $"gc/repo-{index / ImagesPerRepository:D5}");
            return new Image(repository, string.Create(CultureInfo.InvariantCulture, $"t{index}"), IsKept(index), manifest, [manifest, config, .. layers]);
        }

        private static string Descriptor(string mediaType, Blob blob) =>
            string.Create(CultureInfo.InvariantCulture, $$"""{"mediaType":"{{mediaType}}","size":{{blob.Content.Length}},"digest":"{{blob.Digest}}"}""");
    }

    /// <summary>Where the layout goes: a filesystem root (<c>--root</c>) or an S3 key prefix (<c>--endpoint --bucket --prefix</c>).</summary>
    private abstract class LayoutStore : IDisposable
    {
        public virtual void Dispose()
        {
        }

        public abstract Task PutAsync(string path, byte[] content, CancellationToken cancellationToken);

        public abstract IAsyncEnumerable<string> ListAsync(string prefix, CancellationToken cancellationToken);

        public static LayoutStore From(CommandOptions options) =>
            options.Get("root", "") is { Length: > 0 } root ? new FileLayoutStore(root) : new S3LayoutStore(options);
    }

    private sealed class FileLayoutStore(string root) : LayoutStore
    {
        public override async Task PutAsync(string path, byte[] content, CancellationToken cancellationToken)
        {
            var full = Path.Combine(root, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            // No fsync: the registries are started after the fill, and the page cache serves both alike.
            await File.WriteAllBytesAsync(full, content, cancellationToken);
        }

        public override async IAsyncEnumerable<string> ListAsync(string prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            var directory = Path.Combine(root, prefix);
            if (!Directory.Exists(directory))
            {
                yield break;
            }

            foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return Path.GetRelativePath(root, file).Replace(Path.DirectorySeparatorChar, '/');
            }

            await Task.CompletedTask;
        }
    }

    private sealed class S3LayoutStore : LayoutStore
    {
        private readonly AmazonS3Client _client;
        private readonly string _bucket;
        private readonly string _prefix;

        public S3LayoutStore(CommandOptions options)
        {
            _bucket = options.Get("bucket");
            _prefix = options.Get("prefix").Trim('/') + "/";
            var access = Environment.GetEnvironmentVariable("S3_ACCESS_KEY") ?? throw new ArgumentException("S3_ACCESS_KEY is not set");
            var secret = Environment.GetEnvironmentVariable("S3_SECRET_KEY") ?? throw new ArgumentException("S3_SECRET_KEY is not set");
            _client = new AmazonS3Client(new BasicAWSCredentials(access, secret), new AmazonS3Config
            {
                ServiceURL = options.Get("endpoint"),
                AuthenticationRegion = options.Get("region", "us-east-1"),
                ForcePathStyle = true,
                RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
                ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
                Timeout = TimeSpan.FromSeconds(60),
                MaxConnectionsPerServer = options.GetInt("concurrency", 32),
            });
        }

        public override void Dispose() => _client.Dispose();

        public override async Task PutAsync(string path, byte[] content, CancellationToken cancellationToken)
        {
            using var body = new MemoryStream(content, writable: false);
            await _client.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = _prefix + path, InputStream = body, AutoCloseStream = false },
                cancellationToken);
        }

        public override async IAsyncEnumerable<string> ListAsync(string prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = _prefix + prefix, MaxKeys = 1000 };
            do
            {
                var page = await _client.ListObjectsV2Async(request, cancellationToken);
                foreach (var item in page.S3Objects ?? [])
                {
                    yield return item.Key[_prefix.Length..];
                }

                request.ContinuationToken = page.NextContinuationToken;
            }
            while (request.ContinuationToken is not null);
        }
    }
}
