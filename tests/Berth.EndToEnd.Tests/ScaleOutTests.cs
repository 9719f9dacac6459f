using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Three Berth replicas on 127.0.0.1 sharing one S3 bucket prefix on a real S3-compatible server (Ceph RGW from
/// <c>start-s3.sh</c>, found through <c>S3_*</c>) and one <c>http.secret</c>, behind a real haproxy balancing each
/// request round-robin. skopeo pushes many images at once through the balancer while one replica is killed with
/// SIGKILL, and every image then comes back bit-exact through every surviving replica and through the balancer.
/// </summary>
public sealed class ScaleOutReplicaKillTests(ITestOutputHelper log)
{
    private const int Images = 12;
    private const int Pushers = 4;

    /// <summary>The kill comes when this many pushes have finished: a third of the way in, with others in flight.</summary>
    private const int KillAfterCompletedPushes = 4;

    [Fact]
    public async Task Concurrent_pushes_through_the_balancer_survive_a_replica_kill_and_every_image_pulls_back_bit_exact_everywhere()
    {
        var stopwatch = Stopwatch.StartNew();
        await using var cluster = await ScaleOutCluster.StartAsync("kill", new ScaleOutClusterOptions(), log);
        using var temp = TemporaryDirectory.Create("scaleout-kill");
        using var http = new ScaleOutHttp();
        var skopeo = new Skopeo(log);
        var balancer = cluster.Balancer;
        var victim = cluster.Replicas[1];
        log.WriteLine($"replicas {string.Join(", ", cluster.Replicas.Select(r => $"{r.Name}={r.Host}"))}; haproxy {balancer.Host}; s3 prefix {cluster.RootDirectory}");

        var factory = new ScaleOutImageFactory(temp.CreateSubdirectory("images"), 1024 * 1024);
        var images = Enumerable.Range(1, Images)
            .Select(i => factory.Create($"scaleout/app{i.ToString("D2", CultureInfo.InvariantCulture)}", "v1", 96 * 1024 + (i * 1021), (3 * 1024 * 1024) + (i * 65537)))
            .ToList();

        // An upload begun on the replica that is about to die, to be finished on the others.
        var orphan = RandomNumberGenerator.GetBytes((6 * 1024 * 1024) + 5);
        var orphanLocation = await http.StartUploadAsync(victim.BaseAddress, "scaleout/orphan");
        orphanLocation = await http.PatchAsync(victim.BaseAddress, orphanLocation, orphan, 0, 3 * 1024 * 1024);

        var retries = new ConcurrentQueue<string>();
        var completed = 0;
        var inFlight = 0;
        var killNow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var gate = new SemaphoreSlim(Pushers);
        var pushClock = Stopwatch.StartNew();
        var pushes = images.Select(async image =>
        {
            await gate.WaitAsync();
            Interlocked.Increment(ref inFlight);
            try
            {
                await PushWithOneRetryAsync(skopeo, image, balancer.Host, retries, cluster);
            }
            finally
            {
                Interlocked.Decrement(ref inFlight);
                if (Interlocked.Increment(ref completed) == KillAfterCompletedPushes)
                {
                    killNow.TrySetResult();
                }

                gate.Release();
            }
        }).ToList();
        var allPushes = Task.WhenAll(pushes);
        await Task.WhenAny(killNow.Task, allPushes);
        var inFlightAtKill = Volatile.Read(ref inFlight);
        var completedAtKill = Volatile.Read(ref completed);
        await victim.KillAsync();
        log.WriteLine($"SIGKILL {victim.Name} after {completedAtKill} of {Images} pushes, {inFlightAtKill} in flight, {pushClock.Elapsed.TotalSeconds:F1} s into the pushes");
        await allPushes;
        var pushTime = pushClock.Elapsed;

        Assert.True(completedAtKill < Images && inFlightAtKill > 0,
            $"The kill came after {completedAtKill} of {Images} pushes with {inFlightAtKill} in flight: not in the middle of the pushes.");

        // The orphaned upload continues on the survivors: a PATCH on r1, the status on r3, the PUT on r3.
        var survivors = cluster.Alive.ToList();
        orphanLocation = await http.PatchAsync(survivors[0].BaseAddress, orphanLocation, orphan, 3 * 1024 * 1024, orphan.Length - (3 * 1024 * 1024));
        Assert.Equal($"0-{orphan.Length - 1}", await http.StatusAsync(survivors[1].BaseAddress, orphanLocation));
        await http.FinishAsync(survivors[1].BaseAddress, orphanLocation, "scaleout/orphan", ScaleOutHttp.Sha256(orphan));
        long bytesVerified = 0;
        foreach (var endpoint in survivors.Select(r => r.BaseAddress).Append(balancer.BaseAddress))
        {
            bytesVerified += await http.VerifyBlobAsync(endpoint, "scaleout/orphan", orphan);
        }

        await balancer.WaitForServerStatusAsync(victim.Name, "DOWN", TimeSpan.FromSeconds(15));
        var stats = await balancer.ServerStatsAsync();
        log.WriteLine($"haproxy after the pushes: {string.Join(", ", stats.Select(s => $"{s.Name} {s.Status} {s.Requests} requests"))}");
        Assert.All(stats, s => Assert.True(s.Requests > 0, $"haproxy sent no request to {s.Name}: the load was not spread."));

        // Every image's repository is listed by every survivor and the balancer (listings read the shared bucket).
        // scaleout/orphan holds a blob and no manifest; whether the catalog names it is not what this test is about.
        var expectedRepositories = images.Select(i => i.Repository).Order(StringComparer.Ordinal).ToList();
        foreach (var endpoint in survivors.Select(r => r.BaseAddress).Append(balancer.BaseAddress))
        {
            var catalog = await http.CatalogAsync(endpoint);
            Assert.Equal(expectedRepositories, catalog.Where(r => r != "scaleout/orphan").ToList());
        }

        // Every image, through every surviving replica directly and through the balancer: skopeo pulls it into a
        // fresh layout that must hold exactly the pushed blobs, and the API serves the pushed manifest bytes.
        var endpoints = survivors.Select(r => (Name: r.Name, Host: r.Host, BaseAddress: r.BaseAddress))
            .Append((Name: "haproxy", Host: balancer.Host, BaseAddress: balancer.BaseAddress))
            .ToList();
        var pulls = 0;
        using var pullGate = new SemaphoreSlim(Pushers);
        await Task.WhenAll(images.SelectMany(image => endpoints.Select(async endpoint =>
        {
            await pullGate.WaitAsync();
            try
            {
                var pulled = temp.Combine($"pulled-{image.Repository.Replace('/', '_')}-{endpoint.Name}");
                var result = await skopeo.TryRunAsync(["copy", "--src-tls-verify=false", $"docker://{endpoint.Host}/{image.Repository}:{image.Tag}", $"oci:{pulled}:{image.Tag}"]);
                if (result.ExitCode != 0)
                {
                    Assert.Fail($"Pulling {image.Repository}:{image.Tag} from {endpoint.Name} failed:\n{result.DescribeOutput()}\n{cluster.Logs}");
                }

                ImageAssert.LayoutsHaveSameBlobs(image.Layout.Directory, pulled);
                var manifest = await http.GetManifestAsync(endpoint.BaseAddress, image.Repository, image.Tag);
                Assert.True(manifest.AsSpan().SequenceEqual(image.Layout.ReadBlob(image.Manifest.Digest)),
                    $"{endpoint.Name} serves another manifest for {image.Repository}:{image.Tag}.");
                Interlocked.Add(ref bytesVerified, image.TotalBytes);
                Interlocked.Increment(ref pulls);
            }
            finally
            {
                pullGate.Release();
            }
        })));

        Assert.Equal(Images * endpoints.Count, pulls);
        log.WriteLine($"SUMMARY scale-out kill: {Images} images ({images.Sum(i => i.TotalBytes)} bytes) pushed {Pushers} at a time through haproxy " +
            $"over {cluster.Replicas.Count} replicas in {pushTime.TotalSeconds:F1} s; {victim.Name} SIGKILLed after {completedAtKill} pushes with {inFlightAtKill} in flight; " +
            $"skopeo retries: {retries.Count}{(retries.IsEmpty ? "" : " (" + string.Join("; ", retries) + ")")}; " +
            $"upload begun on {victim.Name} finished on {survivors[0].Name}/{survivors[1].Name}; {pulls} bit-exact pulls via {string.Join(", ", endpoints.Select(e => e.Name))}; " +
            $"{bytesVerified} bytes verified; requests per replica {string.Join(", ", stats.Select(s => $"{s.Name}={s.Requests}"))}; total {stopwatch.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>skopeo copy through the balancer; one retry, since a request in flight on the killed replica can fail.</summary>
    private async Task PushWithOneRetryAsync(Skopeo skopeo, ScaleOutImage image, string host, ConcurrentQueue<string> retries, ScaleOutCluster cluster)
    {
        string[] arguments = ["copy", "--dest-tls-verify=false", image.Layout.Reference(image.Tag), $"docker://{host}/{image.Repository}:{image.Tag}"];
        var first = await skopeo.TryRunAsync(arguments);
        if (first.ExitCode == 0)
        {
            return;
        }

        var reason = first.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? $"exit {first.ExitCode}";
        retries.Enqueue($"{image.Repository}: {reason}");
        log.WriteLine($"retrying the push of {image.Repository} after: {reason}");
        var second = await skopeo.TryRunAsync(arguments);
        if (second.ExitCode != 0)
        {
            Assert.Fail($"Pushing {image.Repository} through haproxy failed twice.\nfirst:\n{first.DescribeOutput()}\nsecond:\n{second.DescribeOutput()}\n{cluster.Logs}");
        }
    }
}

/// <summary>A three-replica cluster with redirects off, shared by the consistency tests (each uses its own repositories).</summary>
public sealed class ScaleOutClusterFixture : IAsyncLifetime
{
    private ScaleOutCluster? _cluster;

    public ScaleOutCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster has not started.");

    public async Task InitializeAsync() => _cluster = await ScaleOutCluster.StartAsync("consistency", new ScaleOutClusterOptions());

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}

/// <summary>
/// Uploads whose requests land on different replicas on purpose, and the same blob, manifest and tag pushed from every
/// replica at once: the shared storage must end up holding exactly the content that was pushed.
/// </summary>
public sealed class ScaleOutConsistencyTests(ScaleOutClusterFixture fixture, ITestOutputHelper log) : IClassFixture<ScaleOutClusterFixture>
{
    private const int MiB = 1024 * 1024;
    private ScaleOutCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Chunked_upload_started_on_one_replica_patched_on_the_others_and_finished_on_the_first_stores_the_exact_blob()
    {
        var stopwatch = Stopwatch.StartNew();
        using var http = new ScaleOutHttp();
        var (a, b, c) = (Cluster.Replicas[0].BaseAddress, Cluster.Replicas[1].BaseAddress, Cluster.Replicas[2].BaseAddress);
        long bytesVerified = 0;

        // Chunk sizes around S3's 5 MiB part minimum and the 5 MiB chunksize: below it an append re-reads the object,
        // above it the object is copied server-side as the first part, and one chunk spans a whole part buffer.
        int[] chunks = [1 * MiB, (2 * MiB) + 1, (3 * MiB) - 7, 7 * MiB, 13, 6 * MiB, 1_234_567];
        var content = RandomNumberGenerator.GetBytes(chunks.Sum());
        var digest = ScaleOutHttp.Sha256(content);
        var steps = new List<UploadStep>();
        var location = await http.StartUploadAsync(a, "scaleout/chunked", steps);
        var offset = 0;
        for (var i = 0; i < chunks.Length; i++)
        {
            var target = i % 2 == 0 ? b : c;
            var previous = location;
            location = await http.PatchAsync(target, location, content, offset, chunks[i], steps);
            if (i == 1)
            {
                // The same chunk again with its old Location, on the other replica (a client retrying through the
                // balancer): storage is the authority on the offset, so it is refused and nothing changes.
                using var replay = await http.SendPatchAsync(b, previous, content, offset, chunks[i]);
                Assert.True(replay.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable,
                    $"A replayed chunk at offset {offset} answered {(int)replay.StatusCode}: {await replay.Content.ReadAsStringAsync()}");
                steps.Add(new UploadStep("PATCH (replay)", b.Authority, (int)replay.StatusCode, null));
                Assert.Equal($"0-{offset + chunks[i] - 1}", await http.StatusAsync(a, location));
            }

            offset += chunks[i];
        }

        Assert.Equal($"0-{content.Length - 1}", await http.StatusAsync(c, location));
        await http.FinishAsync(a, location, "scaleout/chunked", digest, steps: steps);
        foreach (var replica in Cluster.Replicas)
        {
            bytesVerified += await http.VerifyBlobAsync(replica.BaseAddress, "scaleout/chunked", content);
        }

        bytesVerified += await http.VerifyBlobAsync(Cluster.Balancer.BaseAddress, "scaleout/chunked", content);
        log.WriteLine("upload 1: " + string.Join(" -> ", steps.Select(s => $"{s.Method}@{s.Endpoint}={s.Status}{(s.Range is null ? "" : " " + s.Range)}")));

        // Many small chunks, each on the next replica in turn, the last one in the body of the PUT.
        var small = RandomNumberGenerator.GetBytes((24 * ((100 * 1024) + 1)) + 777);
        var replicas = new[] { a, b, c };
        location = await http.StartUploadAsync(b, "scaleout/chunked-small");
        offset = 0;
        for (var i = 0; offset + (100 * 1024) + 1 <= small.Length - 777; i++)
        {
            location = await http.PatchAsync(replicas[i % 3], location, small, offset, (100 * 1024) + 1);
            offset += (100 * 1024) + 1;
        }

        await http.FinishAsync(c, location, "scaleout/chunked-small", ScaleOutHttp.Sha256(small), small[offset..]);
        foreach (var replica in Cluster.Replicas)
        {
            bytesVerified += await http.VerifyBlobAsync(replica.BaseAddress, "scaleout/chunked-small", small);
        }

        // Through the balancer, as a client would: every request goes wherever roundrobin sends it.
        var viaBalancer = RandomNumberGenerator.GetBytes((9 * MiB) + 3);
        var lb = Cluster.Balancer.BaseAddress;
        location = await http.StartUploadAsync(lb, "scaleout/chunked-lb");
        for (offset = 0; offset < viaBalancer.Length; offset += 2 * MiB)
        {
            location = await http.PatchAsync(lb, location, viaBalancer, offset, Math.Min(2 * MiB, viaBalancer.Length - offset));
        }

        await http.FinishAsync(lb, location, "scaleout/chunked-lb", ScaleOutHttp.Sha256(viaBalancer));
        foreach (var replica in Cluster.Replicas)
        {
            bytesVerified += await http.VerifyBlobAsync(replica.BaseAddress, "scaleout/chunked-lb", viaBalancer);
        }

        // An upload cancelled on another replica than the ones that started and fed it is gone everywhere.
        var cancelled = RandomNumberGenerator.GetBytes(MiB);
        location = await http.StartUploadAsync(a, "scaleout/chunked-cancel");
        location = await http.PatchAsync(b, location, cancelled, 0, cancelled.Length);
        using (var cancel = await http.For(c).DeleteAsync(new Uri(location, UriKind.Relative)))
        {
            await ScaleOutHttp.ExpectAsync(cancel, HttpStatusCode.NoContent);
        }

        foreach (var replica in Cluster.Replicas)
        {
            using var status = await http.For(replica.BaseAddress).GetAsync(new Uri(location, UriKind.Relative));
            await ScaleOutHttp.ExpectAsync(status, HttpStatusCode.NotFound);
            Assert.Contains("BLOB_UPLOAD_UNKNOWN", await status.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        log.WriteLine($"SUMMARY scale-out chunked: 3 uploads ({content.Length}, {small.Length}, {viaBalancer.Length} bytes) with PATCHes spread over " +
            $"{Cluster.Replicas.Count} replicas, a replayed chunk refused with 416, an upload cancelled on a third replica, {bytesVerified} bytes verified, {stopwatch.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task The_same_blob_manifest_and_tag_pushed_from_every_replica_at_once_leave_consistent_content()
    {
        var stopwatch = Stopwatch.StartNew();
        using var http = new ScaleOutHttp();
        var replicas = Cluster.Replicas.Select(r => r.BaseAddress).ToArray();
        var blob = RandomNumberGenerator.GetBytes((6 * MiB) + 11);
        var digest = ScaleOutHttp.Sha256(blob);
        const string Repository = "scaleout/same";
        const int BlobRounds = 2;
        var uploads = 0;

        for (var round = 0; round < BlobRounds; round++)
        {
            var tasks = new List<Task>();
            for (var i = 0; i < replicas.Length; i++)
            {
                var (self, next, after) = (replicas[i], replicas[(i + 1) % 3], replicas[(i + 2) % 3]);
                tasks.Add(http.UploadPostPutAsync(self, self, Repository, blob));
                tasks.Add(http.UploadPostPutAsync(self, next, Repository, blob));
                tasks.Add(http.UploadSinglePostAsync(self, $"{Repository}-{i.ToString(CultureInfo.InvariantCulture)}", blob));
                tasks.Add(ChunkedAsync(http, self, next, after, Repository, blob));
            }

            await Task.WhenAll(tasks);
            uploads += tasks.Count;
        }

        long bytesVerified = 0;
        foreach (var replica in replicas.Append(Cluster.Balancer.BaseAddress))
        {
            bytesVerified += await http.VerifyBlobAsync(replica, Repository, blob);
            for (var i = 0; i < replicas.Length; i++)
            {
                bytesVerified += await http.VerifyBlobAsync(replica, $"{Repository}-{i.ToString(CultureInfo.InvariantCulture)}", blob);
            }
        }

        // The same manifest under the same tag from every replica at once, several times over.
        var config = System.Text.Encoding.UTF8.GetBytes("""{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}""");
        await http.UploadSinglePostAsync(replicas[0], Repository, config);
        var configDescriptor = new OciDescriptor(MediaTypes.OciConfig, ScaleOutHttp.Sha256(config), config.Length);
        var layer = new OciDescriptor(MediaTypes.OciLayerGzip, digest, blob.Length);
        var manifest = ScaleOutHttp.ManifestJson(configDescriptor, [layer], "same");
        for (var round = 0; round < 3; round++)
        {
            await Task.WhenAll(replicas.SelectMany(r => new[]
            {
                http.PutManifestAsync(r, Repository, "latest", manifest),
                http.PutManifestAsync(r, Repository, ScaleOutHttp.Sha256(manifest), manifest),
            }));
        }

        foreach (var replica in replicas.Append(Cluster.Balancer.BaseAddress))
        {
            Assert.True((await http.GetManifestAsync(replica, Repository, "latest")).AsSpan().SequenceEqual(manifest), $"{replica} serves another manifest for latest.");
        }

        // Different manifests under one tag from every replica at once: the tag must end up naming exactly one of
        // them, the same one on every replica, and every one of them stays retrievable by digest.
        const int RaceRounds = 5;
        var allCandidates = new List<byte[]>();
        for (var round = 0; round < RaceRounds; round++)
        {
            var candidates = replicas.Select((_, i) => ScaleOutHttp.ManifestJson(configDescriptor, [layer], $"race-{round}-{i}")).ToList();
            allCandidates.AddRange(candidates);
            await Task.WhenAll(replicas.Select((r, i) => http.PutManifestAsync(r, Repository, "race", candidates[i])));
            var served = new List<byte[]>();
            foreach (var replica in replicas.Append(Cluster.Balancer.BaseAddress))
            {
                served.Add(await http.GetManifestAsync(replica, Repository, "race"));
            }

            Assert.True(served.All(s => s.AsSpan().SequenceEqual(served[0])),
                $"Round {round}: the replicas disagree on what 'race' names: {string.Join(", ", served.Select(s => ScaleOutHttp.Sha256(s)))}");
            Assert.True(candidates.Any(c => c.AsSpan().SequenceEqual(served[0])), $"Round {round}: 'race' names a manifest nobody pushed in that round.");
        }

        foreach (var replica in replicas)
        {
            foreach (var candidate in allCandidates)
            {
                Assert.True((await http.GetManifestAsync(replica, Repository, ScaleOutHttp.Sha256(candidate))).AsSpan().SequenceEqual(candidate));
            }

            var tags = await http.ListTagsAsync(replica, Repository);
            Assert.Equal(["latest", "race"], tags.Order(StringComparer.Ordinal).ToList());
        }

        log.WriteLine($"SUMMARY scale-out same content: {uploads} concurrent uploads of one {blob.Length}-byte blob from {replicas.Length} replicas " +
            $"({BlobRounds} rounds; POST+PUT, cross-replica POST/PUT, single POST, chunked across replicas), 3 rounds of one manifest+tag from every replica, " +
            $"{RaceRounds} rounds of {replicas.Length} competing manifests on one tag; {bytesVerified} blob bytes verified; {stopwatch.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task Deletes_through_one_replica_are_seen_by_every_other_replica_at_once()
    {
        using var http = new ScaleOutHttp();
        var replicas = Cluster.Replicas.Select(r => r.BaseAddress).ToArray();
        var everywhere = replicas.Append(Cluster.Balancer.BaseAddress).ToArray();
        const string Repository = "scaleout/deletes";
        const int Rounds = 3;
        for (var round = 0; round < Rounds; round++)
        {
            var (writer, deleter) = (replicas[round % 3], replicas[(round + 1) % 3]);
            var layerBytes = RandomNumberGenerator.GetBytes((256 * 1024) + round);
            var config = System.Text.Encoding.UTF8.GetBytes($$"""{"architecture":"amd64","os":"linux","round":{{round}}}""");
            await http.UploadPostPutAsync(writer, writer, Repository, layerBytes);
            await http.UploadPostPutAsync(writer, writer, Repository, config);
            var layer = new OciDescriptor(MediaTypes.OciLayerGzip, ScaleOutHttp.Sha256(layerBytes), layerBytes.Length);
            var manifest = ScaleOutHttp.ManifestJson(new OciDescriptor(MediaTypes.OciConfig, ScaleOutHttp.Sha256(config), config.Length), [layer], $"delete-{round}");
            var manifestDigest = ScaleOutHttp.Sha256(manifest);
            var tag = $"doomed{round.ToString(CultureInfo.InvariantCulture)}";
            await http.PutManifestAsync(writer, Repository, tag, manifest);

            // Every replica reads it first (so any cache it keeps is warm), then one replica deletes it.
            foreach (var endpoint in everywhere)
            {
                await http.GetManifestAsync(endpoint, Repository, tag);
                await http.VerifyBlobAsync(endpoint, Repository, layerBytes);
            }

            // The replicas share the cache: what they just answered is in Redis, so a stale entry would show below.
            Assert.Contains(layer.Digest, await Cluster.Redis!.CommandAsync("KEYS", "*"), StringComparison.Ordinal);

            using (var deleteManifest = await http.For(deleter).DeleteAsync(new Uri($"v2/{Repository}/manifests/{manifestDigest}", UriKind.Relative)))
            {
                await ScaleOutHttp.ExpectAsync(deleteManifest, HttpStatusCode.Accepted);
            }

            using (var deleteBlob = await http.For(deleter).DeleteAsync(new Uri($"v2/{Repository}/blobs/{layer.Digest}", UriKind.Relative)))
            {
                await ScaleOutHttp.ExpectAsync(deleteBlob, HttpStatusCode.Accepted);
            }

            foreach (var endpoint in everywhere)
            {
                foreach (var reference in new[] { manifestDigest, tag })
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"v2/{Repository}/manifests/{reference}", UriKind.Relative));
                    request.Headers.Accept.ParseAdd(MediaTypes.OciManifest);
                    using var gone = await http.For(endpoint).SendAsync(request);
                    Assert.True(gone.StatusCode == HttpStatusCode.NotFound,
                        $"Round {round}: {endpoint.Authority} still serves {Repository}:{reference} ({(int)gone.StatusCode}) after {deleter.Authority} deleted it.");
                }

                using var head = await http.For(endpoint).SendAsync(new HttpRequestMessage(HttpMethod.Head, new Uri($"v2/{Repository}/blobs/{layer.Digest}", UriKind.Relative)));
                Assert.True(head.StatusCode == HttpStatusCode.NotFound,
                    $"Round {round}: {endpoint.Authority} still has blob {layer.Digest} in {Repository} ({(int)head.StatusCode}) after {deleter.Authority} deleted it.");
                using var blobGet = await http.For(endpoint).GetAsync(new Uri($"v2/{Repository}/blobs/{layer.Digest}", UriKind.Relative));
                Assert.Equal(HttpStatusCode.NotFound, blobGet.StatusCode);
            }
        }

        log.WriteLine($"SUMMARY scale-out deletes: {Rounds} rounds of a manifest, its tag and a layer read on every replica, deleted through another, gone everywhere at once");
    }

    private static async Task ChunkedAsync(ScaleOutHttp http, Uri start, Uri patch, Uri other, string repository, byte[] content)
    {
        var location = await http.StartUploadAsync(start, repository);
        location = await http.PatchAsync(patch, location, content, 0, 4 * MiB);
        location = await http.PatchAsync(other, location, content, 4 * MiB, content.Length - (4 * MiB));
        await http.FinishAsync(start, location, repository, ScaleOutHttp.Sha256(content));
    }
}

/// <summary>
/// Redirects on (registry:2's default): blob GETs answer 307 to a presigned URL on the S3 server, which skopeo follows,
/// so the layer bytes bypass the replicas and the balancer.
/// </summary>
public sealed class ScaleOutRedirectTests(ITestOutputHelper log)
{
    [Fact]
    public async Task With_redirects_on_skopeo_pulls_through_the_balancer_via_307_to_presigned_S3_urls()
    {
        var stopwatch = Stopwatch.StartNew();
        await using var cluster = await ScaleOutCluster.StartAsync("redirect", new ScaleOutClusterOptions { RedirectDisabled = false }, log);
        using var temp = TemporaryDirectory.Create("scaleout-redirect");
        using var http = new ScaleOutHttp();
        var skopeo = new Skopeo(log);
        var balancer = cluster.Balancer;
        var image = new ScaleOutImageFactory(temp.CreateSubdirectory("images"), 512 * 1024)
            .Create("scaleout/redirect", "v1", 3 * 1024 * 1024, 64 * 1024);

        (await skopeo.TryRunAsync(["copy", "--dest-tls-verify=false", image.Layout.Reference(image.Tag), $"docker://{balancer.Host}/{image.Repository}:{image.Tag}"]))
            .EnsureSuccess();

        // Every replica and the balancer answer 307 to a presigned URL on the S3 endpoint, which serves the exact bytes.
        var s3 = new Uri(cluster.S3.Endpoint);
        using var plain = new HttpClient { Timeout = TimeSpan.FromMinutes(1) };
        long bytesVerified = 0;
        foreach (var endpoint in cluster.Replicas.Select(r => r.BaseAddress).Append(balancer.BaseAddress))
        {
            foreach (var blob in image.Blobs)
            {
                using var response = await http.For(endpoint).GetAsync(new Uri($"v2/{image.Repository}/blobs/{blob.Digest}", UriKind.Relative));
                await ScaleOutHttp.ExpectAsync(response, HttpStatusCode.TemporaryRedirect);
                var target = response.Headers.Location!;
                Assert.True(target.IsAbsoluteUri && target.Authority == s3.Authority,
                    $"The redirect for {blob.Digest} goes to {target}, not to the S3 endpoint {s3.Authority}.");
                Assert.Contains("X-Amz-Signature=", target.Query, StringComparison.Ordinal);
                var bytes = await plain.GetByteArrayAsync(target);
                Assert.True(ScaleOutHttp.Sha256(bytes) == blob.Digest && bytes.LongLength == blob.Size, $"The presigned URL for {blob.Digest} serves other bytes.");
                bytesVerified += bytes.LongLength;
            }
        }

        // skopeo follows the 307s; the layer bytes do not pass through haproxy.
        var before = (await balancer.ServerStatsAsync()).Sum(s => s.BytesOut);
        var pulled = temp.Combine("pulled");
        (await skopeo.TryRunAsync(["copy", "--src-tls-verify=false", $"docker://{balancer.Host}/{image.Repository}:{image.Tag}", $"oci:{pulled}:{image.Tag}"]))
            .EnsureSuccess();
        var throughBalancer = (await balancer.ServerStatsAsync()).Sum(s => s.BytesOut) - before;
        ImageAssert.LayoutsHaveSameBlobs(image.Layout.Directory, pulled);
        bytesVerified += image.TotalBytes;
        var layerBytes = image.Layers.Sum(l => l.Size);
        Assert.True(throughBalancer < layerBytes / 4,
            $"{throughBalancer} bytes flowed back through haproxy for a pull of {layerBytes} layer bytes: the blobs were not redirected.");

        log.WriteLine($"SUMMARY scale-out redirect: {image.Blobs.Count()} blobs answered 307 to presigned S3 URLs on {cluster.Replicas.Count} replicas and haproxy; " +
            $"skopeo pull via haproxy bit-exact with {throughBalancer} bytes through haproxy for {layerBytes} layer bytes; {bytesVerified} bytes verified; {stopwatch.Elapsed.TotalSeconds:F1} s");
    }
}
