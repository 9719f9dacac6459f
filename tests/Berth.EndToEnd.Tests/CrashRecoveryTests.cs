using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Kills Berth with SIGKILL at random moments while several clients push, restarts it on the same
/// directory each time, and then checks that everything the server acknowledged is intact, that
/// nothing partial is visible through the API or in the content store, and that interrupted
/// uploads either resume or fail cleanly.
/// </summary>
public sealed class CrashRecoveryTests(ITestOutputHelper output)
{
    private const int Kills = 50;
    private const int Pushers = 4;
    private static readonly TimeSpan TimeBudget = TimeSpan.FromMinutes(6);

    [Fact]
    public async Task Acknowledged_content_survives_repeated_SIGKILL_during_concurrent_pushes()
    {
        using var root = TemporaryDirectory.Create("crash-root");
        var ledger = new Ledger();
        var interrupted = new ConcurrentQueue<InterruptedUpload>();
        var random = new Random(20261127);
        var deadline = DateTime.UtcNow + TimeBudget;
        var kills = 0;
        var resumed = 0;
        var failedCleanly = 0;

        while (kills < Kills && DateTime.UtcNow < deadline)
        {
            await using var registry = await RegistryProcess.StartAsync(RegistryKind.Berth, root.Path);
            using var http = new HttpClient { BaseAddress = registry.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

            // Uploads cut off by the previous kill must resume from what storage holds, or be unknown.
            while (interrupted.TryDequeue(out var upload))
            {
                if (await TryResumeAsync(http, upload, ledger))
                {
                    resumed++;
                }
                else
                {
                    failedCleanly++;
                }
            }

            using var stop = new CancellationTokenSource();
            var pushers = Enumerable.Range(0, Pushers)
                .Select(i => PushUntilStoppedAsync(http, $"crash/p{i}", new Random(random.Next()), ledger, interrupted, stop.Token))
                .ToArray();

            await Task.Delay(random.Next(30, 400));
            await registry.StopAsync();
            kills++;
            await stop.CancelAsync();
            await Task.WhenAll(pushers);
        }

        output.WriteLine($"kills: {kills}, acknowledged blobs: {ledger.Blobs.Count}, acknowledged manifests: {ledger.Manifests.Count}, " +
                         $"interrupted uploads resumed: {resumed}, failed cleanly: {failedCleanly}");
        Assert.True(kills >= Kills, $"only {kills} kills fit in the time budget");
        Assert.NotEmpty(ledger.Manifests);

        await using var final = await RegistryProcess.StartAsync(RegistryKind.Berth, root.Path);
        using var client = new HttpClient { BaseAddress = final.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        await VerifyAcknowledgedAsync(client, ledger);
        await VerifyEverythingVisibleIsWholeAsync(client);
        VerifyContentStoreOnDisk(root.Path);
    }

    private static async Task PushUntilStoppedAsync(HttpClient http, string repository, Random random, Ledger ledger,
        ConcurrentQueue<InterruptedUpload> interrupted, CancellationToken stop)
    {
        var serial = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var layers = new List<(string Digest, int Size)>();
                for (var i = 0; i < 2; i++)
                {
                    var content = RandomBytes(random, random.Next(1, 3) == 1 ? random.Next(1, 4096) : random.Next(64 * 1024, 3 * 1024 * 1024));
                    var digest = await PushBlobAsync(http, repository, content, random, ledger, interrupted);
                    layers.Add((digest, content.Length));
                }

                var config = Encoding.UTF8.GetBytes($$"""{"architecture":"amd64","os":"linux","created":"{{DateTime.UtcNow:O}}","serial":{{serial}}}""");
                var configDigest = await PushBlobAsync(http, repository, config, random, ledger, interrupted);
                var manifest = Encoding.UTF8.GetBytes(ManifestJson(configDigest, config.Length, layers));
                var tag = $"t{serial++}-{random.Next():x}";
                using var request = new HttpRequestMessage(HttpMethod.Put, $"/v2/{repository}/manifests/{tag}")
                {
                    Content = new ByteArrayContent(manifest),
                };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
                using var response = await http.SendAsync(request, CancellationToken.None);
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    ledger.Manifests.Add(new AcknowledgedManifest(repository, tag, Sha256(manifest), manifest));
                }
            }
            catch (Exception ex) when (IsServerGone(ex))
            {
                // The server was killed under us; the next round starts a new one.
                return;
            }
        }
    }

    /// <summary>
    /// What a client sees when the server is killed under it. A kill between accept and the first
    /// read can surface as a bare <see cref="SocketException"/> (ENOTCONN from the connect path's
    /// RemoteEndPoint lookup) rather than wrapped in an HttpRequestException.
    /// </summary>
    private static bool IsServerGone(Exception ex) =>
        ex is HttpRequestException or TaskCanceledException or IOException or SocketException;

    /// <summary>Pushes a blob either monolithically or in chunks; returns its digest once the server acknowledged it.</summary>
    private static async Task<string> PushBlobAsync(HttpClient http, string repository, byte[] content, Random random, Ledger ledger,
        ConcurrentQueue<InterruptedUpload> interrupted)
    {
        var digest = Sha256(content);
        using var start = await http.PostAsync($"/v2/{repository}/blobs/uploads/", null);
        if (start.StatusCode != HttpStatusCode.Accepted)
        {
            throw new HttpRequestException($"upload start answered {start.StatusCode}");
        }

        var location = start.Headers.Location!.ToString();
        var offset = 0;
        if (random.Next(2) == 0)
        {
            // Chunked: a few PATCHes with Content-Range, then a PUT without a body.
            var chunk = Math.Max(1, content.Length / 3);
            while (offset < content.Length)
            {
                var length = Math.Min(chunk, content.Length - offset);
                using var patch = new HttpRequestMessage(HttpMethod.Patch, location)
                {
                    Content = new ByteArrayContent(content, offset, length),
                };
                patch.Content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + length - 1}");
                patch.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                try
                {
                    using var patched = await http.SendAsync(patch);
                    if (patched.StatusCode != HttpStatusCode.Accepted)
                    {
                        throw new HttpRequestException($"PATCH answered {patched.StatusCode}");
                    }

                    location = patched.Headers.Location!.ToString();
                }
                catch (Exception ex) when (IsServerGone(ex))
                {
                    interrupted.Enqueue(new InterruptedUpload(repository, location, content, digest));
                    throw;
                }

                offset += length;
            }
        }

        var separator = location.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        using var put = new HttpRequestMessage(HttpMethod.Put, $"{location}{separator}digest={digest}")
        {
            Content = offset == content.Length ? new ByteArrayContent([]) : new ByteArrayContent(content),
        };
        put.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var finished = await http.SendAsync(put);
        if (finished.StatusCode != HttpStatusCode.Created)
        {
            throw new HttpRequestException($"PUT answered {finished.StatusCode}");
        }

        ledger.Blobs.Add(new AcknowledgedBlob(repository, digest, content));
        return digest;
    }

    /// <summary>
    /// Continues an upload that a kill interrupted: its status must be either unknown (404) or a
    /// range that is a prefix of what was sent; in the second case the rest is sent and the blob
    /// must then verify.
    /// </summary>
    private static async Task<bool> TryResumeAsync(HttpClient http, InterruptedUpload upload, Ledger ledger)
    {
        var path = new Uri(upload.Location, UriKind.RelativeOrAbsolute).IsAbsoluteUri
            ? new Uri(upload.Location).PathAndQuery
            : upload.Location;
        using var status = await http.GetAsync(path);
        if (status.StatusCode == HttpStatusCode.NotFound)
        {
            await AssertOciErrorAsync(status, "BLOB_UPLOAD_UNKNOWN");
            return false;
        }

        Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
        var range = status.Headers.GetValues("Range").Single();
        var end = long.Parse(range[(range.IndexOf('-', StringComparison.Ordinal) + 1)..], CultureInfo.InvariantCulture);
        Assert.InRange(end, 0, upload.Content.Length - 1);
        var location = new Uri(http.BaseAddress!, status.Headers.Location!).PathAndQuery;
        var separator = location.Contains('?', StringComparison.Ordinal) ? '&' : '?';

        // registry:2's "0-0" means zero bytes or one; a chunk that starts at the wrong offset gets 416.
        long[] candidates = range == "0-0" ? [0, 1] : [end + 1];
        foreach (var stored in candidates)
        {
            using var put = new HttpRequestMessage(HttpMethod.Put, $"{location}{separator}digest={upload.Digest}")
            {
                Content = new ByteArrayContent(upload.Content, (int)stored, upload.Content.Length - (int)stored),
            };
            if (stored < upload.Content.Length)
            {
                put.Content.Headers.TryAddWithoutValidation("Content-Range", $"{stored}-{upload.Content.Length - 1}");
            }

            put.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var finished = await http.SendAsync(put);
            if (finished.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && stored != candidates[^1])
            {
                continue;
            }

            Assert.True(finished.StatusCode == HttpStatusCode.Created,
                $"resuming {upload.Location} from {stored}: {finished.StatusCode} {await finished.Content.ReadAsStringAsync()}");
            ledger.Blobs.Add(new AcknowledgedBlob(upload.Repository, upload.Digest, upload.Content));
            return true;
        }

        return false;
    }

    private static async Task VerifyAcknowledgedAsync(HttpClient http, Ledger ledger)
    {
        foreach (var blob in ledger.Blobs)
        {
            var content = await http.GetByteArrayAsync($"/v2/{blob.Repository}/blobs/{blob.Digest}");
            Assert.True(content.AsSpan().SequenceEqual(blob.Content), $"blob {blob.Digest} in {blob.Repository} differs after the crashes");
        }

        foreach (var manifest in ledger.Manifests)
        {
            foreach (var reference in new[] { manifest.Tag, manifest.Digest })
            {
                using var response = await http.GetAsync($"/v2/{manifest.Repository}/manifests/{reference}");
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"manifest {manifest.Repository}:{reference} answered {response.StatusCode}");
                Assert.Equal(manifest.Content, await response.Content.ReadAsByteArrayAsync());
            }
        }
    }

    /// <summary>Every repository and tag the API lists resolves to a manifest whose bytes and blobs verify.</summary>
    private static async Task VerifyEverythingVisibleIsWholeAsync(HttpClient http)
    {
        var catalog = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("/v2/_catalog?n=1000"));
        foreach (var repository in catalog.RootElement.GetProperty("repositories").EnumerateArray().Select(r => r.GetString()!))
        {
            var tags = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"/v2/{repository}/tags/list"));
            foreach (var tag in tags.RootElement.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!))
            {
                using var response = await http.GetAsync($"/v2/{repository}/manifests/{tag}");
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"listed tag {repository}:{tag} answered {response.StatusCode}");
                var content = await response.Content.ReadAsByteArrayAsync();
                Assert.Equal(response.Headers.GetValues("Docker-Content-Digest").Single(), Sha256(content));
                using var manifest = System.Text.Json.JsonDocument.Parse(content);
                var blobs = manifest.RootElement.GetProperty("layers").EnumerateArray().Append(manifest.RootElement.GetProperty("config"));
                foreach (var descriptor in blobs)
                {
                    var digest = descriptor.GetProperty("digest").GetString()!;
                    var bytes = await http.GetByteArrayAsync($"/v2/{repository}/blobs/{digest}");
                    Assert.Equal(digest, Sha256(bytes));
                    Assert.Equal(descriptor.GetProperty("size").GetInt64(), bytes.LongLength);
                }
            }
        }
    }

    /// <summary>No file in the content store is partial: each one hashes to the digest in its path.</summary>
    private static void VerifyContentStoreOnDisk(string root)
    {
        var blobs = Path.Combine(root, "docker", "registry", "v2", "blobs", "sha256");
        var checkedFiles = 0;
        foreach (var data in Directory.EnumerateFiles(blobs, "data", SearchOption.AllDirectories))
        {
            var expected = Path.GetFileName(Path.GetDirectoryName(data)!);
            using var stream = File.OpenRead(data);
            Assert.Equal(expected, Convert.ToHexStringLower(SHA256.HashData(stream)));
            checkedFiles++;
        }

        Assert.True(checkedFiles > 0, "the content store is empty");
    }

    private static async Task AssertOciErrorAsync(HttpResponseMessage response, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains($"\"code\":\"{code}\"", body, StringComparison.Ordinal);
    }

    private static string ManifestJson(string configDigest, int configSize, IEnumerable<(string Digest, int Size)> layers) =>
        $$"""
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
         "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{configDigest}}","size":{{configSize}}},
         "layers":[{{string.Join(",", layers.Select(l => $$"""{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{l.Digest}}","size":{{l.Size}}}"""))}}]}
        """;

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string Sha256(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    private sealed record AcknowledgedBlob(string Repository, string Digest, byte[] Content);

    private sealed record AcknowledgedManifest(string Repository, string Tag, string Digest, byte[] Content);

    private sealed record InterruptedUpload(string Repository, string Location, byte[] Content, string Digest);

    private sealed class Ledger
    {
        public ConcurrentBag<AcknowledgedBlob> Blobs { get; } = [];

        public ConcurrentBag<AcknowledgedManifest> Manifests { get; } = [];
    }
}
