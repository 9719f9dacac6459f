using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Berth.EndToEnd.Tests.Infrastructure;
using Berth.Storage.Redis.Tests;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// The S3-compatible server the scale-out tests store into, from the variables <c>start-s3.sh</c> writes to its
/// <c>s3.env</c> (<c>scripts/test.sh</c> exports them). Missing variables fail the tests; they never pass without a server.
/// </summary>
public sealed record ScaleOutS3(string Endpoint, string Region, string Bucket, string AccessKey, string SecretKey)
{
    public static ScaleOutS3 FromEnvironment()
    {
        var missing = new[] { "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY" }
            .Where(name => string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name)))
            .ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"The scale-out tests need a real S3-compatible server, and {string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} not set. " +
                "Start one with ../shared/tools/s3/start-s3.sh and export its s3.env " +
                "(`set -a; . /tmp/s3-ceph-9000/s3.env; set +a`), as scripts/test.sh does.");
        }

        return new ScaleOutS3(
            Environment.GetEnvironmentVariable("S3_ENDPOINT")!,
            Environment.GetEnvironmentVariable("S3_REGION") is { Length: > 0 } region ? region : "us-east-1",
            Environment.GetEnvironmentVariable("S3_BUCKET") is { Length: > 0 } bucket ? bucket : "registry",
            Environment.GetEnvironmentVariable("S3_ACCESS_KEY")!,
            Environment.GetEnvironmentVariable("S3_SECRET_KEY")!);
    }

    /// <summary>Fails with a clear message when nothing answers HTTP at the endpoint.</summary>
    public async Task EnsureReachableAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(15) };
        try
        {
            using var response = await http.GetAsync(new Uri(Endpoint));
            // Any HTTP answer (403 for an anonymous request) means a server is there.
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            throw new InvalidOperationException($"S3_ENDPOINT={Endpoint} does not answer: {ex.Message}. Is start-s3.sh's server running?", ex);
        }
    }

    /// <summary>
    /// Deletes every object under <paramref name="prefix"/> (ListObjectsV2 + DELETE, signed with SigV4 by hand: this
    /// project has no AWS SDK reference). Best effort; a failure is returned as text for the test log.
    /// </summary>
    public async Task<string> DeletePrefixAsync(string prefix)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var deleted = 0;
        try
        {
            string? continuation = null;
            do
            {
                var query = new SortedDictionary<string, string>(StringComparer.Ordinal)
                {
                    ["list-type"] = "2",
                    ["prefix"] = prefix,
                    ["max-keys"] = "1000",
                };
                if (continuation is not null)
                {
                    query["continuation-token"] = continuation;
                }

                using var list = SignedRequest(HttpMethod.Get, $"/{Bucket}", query);
                using var listed = await http.SendAsync(list);
                var body = await listed.Content.ReadAsStringAsync();
                if (!listed.IsSuccessStatusCode)
                {
                    return $"S3 clean-up of {prefix}: list answered {(int)listed.StatusCode}: {ExternalCommand.Tail(body)}";
                }

                var document = System.Xml.Linq.XDocument.Parse(body);
                var keys = document.Descendants().Where(e => e.Name.LocalName == "Key").Select(e => e.Value).ToList();
                await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (key, cancellationToken) =>
                {
                    var path = $"/{Bucket}/" + string.Join('/', key.Split('/').Select(Uri.EscapeDataString));
                    using var delete = SignedRequest(HttpMethod.Delete, path, new SortedDictionary<string, string>(StringComparer.Ordinal));
                    using var response = await http.SendAsync(delete, cancellationToken);
                    if (response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref deleted);
                    }
                });
                var truncated = document.Descendants().FirstOrDefault(e => e.Name.LocalName == "IsTruncated")?.Value == "true";
                continuation = truncated ? document.Descendants().FirstOrDefault(e => e.Name.LocalName == "NextContinuationToken")?.Value : null;
            }
            while (continuation is not null);

            // Multipart uploads a killed replica left open hold parts but are not objects.
            var aborted = 0;
            using (var uploads = SignedRequest(HttpMethod.Get, $"/{Bucket}", new SortedDictionary<string, string>(StringComparer.Ordinal) { ["prefix"] = prefix, ["uploads"] = "" }))
            using (var listedUploads = await http.SendAsync(uploads))
            {
                if (listedUploads.IsSuccessStatusCode)
                {
                    var document = System.Xml.Linq.XDocument.Parse(await listedUploads.Content.ReadAsStringAsync());
                    foreach (var upload in document.Descendants().Where(e => e.Name.LocalName == "Upload"))
                    {
                        var key = upload.Elements().First(e => e.Name.LocalName == "Key").Value;
                        var uploadId = upload.Elements().First(e => e.Name.LocalName == "UploadId").Value;
                        var path = $"/{Bucket}/" + string.Join('/', key.Split('/').Select(Uri.EscapeDataString));
                        using var abort = SignedRequest(HttpMethod.Delete, path, new SortedDictionary<string, string>(StringComparer.Ordinal) { ["uploadId"] = uploadId });
                        using var response = await http.SendAsync(abort);
                        aborted += response.IsSuccessStatusCode ? 1 : 0;
                    }
                }
            }

            return $"S3 clean-up: deleted {deleted} objects and aborted {aborted} multipart uploads under {Bucket}/{prefix}";
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Xml.XmlException)
        {
            return $"S3 clean-up of {prefix} failed after {deleted} objects: {ex.Message}";
        }
    }

    /// <summary>An AWS Signature Version 4 request with an empty body, path-style.</summary>
    private HttpRequestMessage SignedRequest(HttpMethod method, string canonicalPath, SortedDictionary<string, string> query)
    {
        var endpoint = new Uri(Endpoint);
        var now = DateTime.UtcNow;
        var amzDate = now.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var date = now.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var payloadHash = Convert.ToHexStringLower(SHA256.HashData([]));
        var canonicalQuery = string.Join('&', query.Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value)}"));
        var host = endpoint.IsDefaultPort ? endpoint.Host : $"{endpoint.Host}:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}";
        var canonicalHeaders = $"host:{host}\nx-amz-content-sha256:{payloadHash}\nx-amz-date:{amzDate}\n";
        const string SignedHeaders = "host;x-amz-content-sha256;x-amz-date";
        var canonicalRequest = $"{method.Method}\n{canonicalPath}\n{canonicalQuery}\n{canonicalHeaders}\n{SignedHeaders}\n{payloadHash}";
        var scope = $"{date}/{Region}/s3/aws4_request";
        var stringToSign = $"AWS4-HMAC-SHA256\n{amzDate}\n{scope}\n{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest)))}";
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + SecretKey), Encoding.UTF8.GetBytes(date));
        foreach (var part in new[] { Region, "s3", "aws4_request" })
        {
            key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(part));
        }

        var signature = Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(stringToSign)));
        var uri = new UriBuilder(endpoint) { Path = canonicalPath, Query = canonicalQuery }.Uri;
        var request = new HttpRequestMessage(method, uri);
        request.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", payloadHash);
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential={AccessKey}/{scope}, SignedHeaders={SignedHeaders}, Signature={signature}");
        return request;
    }
}

/// <summary>What every replica of a cluster shares.</summary>
public sealed record ScaleOutClusterOptions
{
    public int Replicas { get; init; } = 3;

    /// <summary><c>storage.redirect.disable</c>: true makes every blob GET flow through the replicas (and the balancer).</summary>
    public bool RedirectDisabled { get; init; } = true;

    /// <summary>Share a real redis-server as the blob descriptor cache (<c>storage.cache.blobdescriptor: redis</c>).</summary>
    public bool RedisCache { get; init; } = true;
}

/// <summary>One haproxy server line's figures from the stats CSV.</summary>
public sealed record BalancerServerStats(string Name, string Status, long Requests, long BytesOut);

/// <summary>
/// A real haproxy (Debian's) in HTTP mode in front of the replicas: roundrobin per request (so one client connection's
/// POST, PATCH and PUT land on different replicas), health check <c>GET /v2/</c>, and a stats listener for the
/// per-replica request counts. Started as a child process with <c>haproxy -f cfg -db</c>.
/// </summary>
public sealed class HaproxyBalancer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly OutputCollector _standardOutput;
    private readonly OutputCollector _standardError;
    private readonly TemporaryDirectory _directory;

    private HaproxyBalancer(int port, int statsPort, Process process, TemporaryDirectory directory)
    {
        Port = port;
        StatsPort = statsPort;
        _process = process;
        _directory = directory;
        _standardOutput = new OutputCollector(process.StandardOutput);
        _standardError = new OutputCollector(process.StandardError);
    }

    public int Port { get; }

    public int StatsPort { get; }

    public string Host => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public Uri BaseAddress => new($"http://{Host}/");

    public string Log => $"--- haproxy ({Host}) output (tail) ---\n{ExternalCommand.Tail(_standardError.Text)}\n{ExternalCommand.Tail(_standardOutput.Text)}";

    public static async Task<HaproxyBalancer> StartAsync(IReadOnlyList<RegistryProcess> replicas)
    {
        var executable = ExternalCommand.ResolveExecutable("haproxy");
        var failures = new List<string>();
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var directory = TemporaryDirectory.Create("scaleout-haproxy");
            var port = FreeTcpPort.Next();
            var statsPort = FreeTcpPort.Next();
            var configPath = directory.Combine("haproxy.cfg");
            await File.WriteAllTextAsync(configPath, Config(port, statsPort, replicas));
            var check = await ExternalCommand.RunAsync(executable, ["-c", "-f", configPath]);
            if (check.ExitCode != 0)
            {
                directory.Dispose();
                throw new InvalidOperationException($"haproxy refuses the generated configuration:\n{check.DescribeOutput()}");
            }

            var startInfo = new ProcessStartInfo(executable)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = directory.Path,
            };
            foreach (var argument in new[] { "-f", configPath, "-db" })
            {
                startInfo.ArgumentList.Add(argument);
            }

            var process = new Process { StartInfo = startInfo };
            process.Start();
            var balancer = new HaproxyBalancer(port, statsPort, process, directory);
            var failure = await balancer.WaitUntilAllUpAsync(replicas.Count);
            if (failure is null)
            {
                return balancer;
            }

            failures.Add($"attempt {attempt} on port {port}: {failure}\n{balancer.Log}");
            await balancer.DisposeAsync();
            if (!failures[^1].Contains("bind", StringComparison.OrdinalIgnoreCase))
            {
                break;
            }
        }

        throw new InvalidOperationException($"haproxy did not start.\n{string.Join("\n", failures)}");
    }

    /// <summary>The backend's servers as haproxy sees them (status UP/DOWN, requests sent to each, bytes each sent back to clients).</summary>
    public async Task<IReadOnlyList<BalancerServerStats>> ServerStatsAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var csv = await http.GetStringAsync(new Uri($"http://127.0.0.1:{StatsPort.ToString(CultureInfo.InvariantCulture)}/stats;csv"));
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].TrimStart('#', ' ').Split(',');
        int Column(string name) => Array.IndexOf(header, name);
        var (pxname, svname, status, requests, sessions, bytesOut) =
            (Column("pxname"), Column("svname"), Column("status"), Column("req_tot"), Column("stot"), Column("bout"));
        var servers = new List<BalancerServerStats>();
        foreach (var line in lines.Skip(1))
        {
            var fields = line.Split(',');
            if (fields[pxname] != "berth" || fields[svname] is "FRONTEND" or "BACKEND")
            {
                continue;
            }

            var count = requests >= 0 && fields[requests].Length > 0 ? fields[requests] : fields[sessions];
            servers.Add(new BalancerServerStats(
                fields[svname], fields[status], long.Parse(count, CultureInfo.InvariantCulture), long.Parse(fields[bytesOut], CultureInfo.InvariantCulture)));
        }

        return servers;
    }

    /// <summary>Waits until haproxy's health checks mark <paramref name="server"/> DOWN (after a kill) or UP.</summary>
    public async Task WaitForServerStatusAsync(string server, string status, TimeSpan timeout)
    {
        var stopwatch = Stopwatch.StartNew();
        var last = "";
        while (stopwatch.Elapsed < timeout)
        {
            var stats = await ServerStatsAsync();
            last = string.Join(", ", stats.Select(s => $"{s.Name}={s.Status}"));
            if (stats.Any(s => s.Name == server && s.Status.StartsWith(status, StringComparison.Ordinal)))
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"haproxy did not report {server} {status} within {timeout.TotalSeconds:F0} s (last: {last}).\n{Log}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await _process.WaitForExitAsync(timeout.Token);
            }
        }
        finally
        {
            _process.Dispose();
            _directory.Dispose();
        }
    }

    /// <summary>
    /// HTTP mode balances each request on its own (no <c>prefer-last-server</c>, no stickiness). A connection refused by
    /// a dead replica is retried on another (<c>retries</c> + <c>option redispatch</c>), and so is a request the dying
    /// replica answered with nothing (<c>retry-on empty-response</c>: haproxy replays requests it still holds whole,
    /// HEAD, GET, small PUTs). A request whose body haproxy has already streamed on (a layer PATCH) cannot be replayed;
    /// the client sees 502 and retries the push, as docker and skopeo users do.
    /// </summary>
    private static string Config(int port, int statsPort, IReadOnlyList<RegistryProcess> replicas)
    {
        var servers = string.Join("\n", replicas.Select(r => $"    server {r.Name} {r.Host} check"));
        return $"""
            global
                maxconn 2000

            defaults
                mode http
                timeout connect 2s
                timeout client 120s
                timeout server 120s
                timeout http-request 30s
                retries 3
                option redispatch
                retry-on conn-failure empty-response response-timeout

            frontend registry
                bind 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}
                default_backend berth

            backend berth
                balance roundrobin
                option httpchk GET /v2/
                http-check expect status 200
                default-server inter 300ms fastinter 200ms downinter 500ms fall 2 rise 2
            {servers}

            listen stats
                bind 127.0.0.1:{statsPort.ToString(CultureInfo.InvariantCulture)}
                stats enable
                stats uri /stats

            """;
    }

    private async Task<string?> WaitUntilAllUpAsync(int serverCount)
    {
        var stopwatch = Stopwatch.StartNew();
        var last = "no answer yet";
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        while (stopwatch.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (_process.HasExited)
            {
                return $"haproxy exited with code {_process.ExitCode}";
            }

            try
            {
                var stats = await ServerStatsAsync();
                using var response = await http.GetAsync(new Uri("v2/", UriKind.Relative));
                last = $"GET /v2/ {(int)response.StatusCode}; {string.Join(", ", stats.Select(s => $"{s.Name}={s.Status}"))}";
                if (response.StatusCode == HttpStatusCode.OK && stats.Count(s => s.Status == "UP") == serverCount)
                {
                    return null;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or SocketException)
            {
                last = ex.Message;
            }

            await Task.Delay(100);
        }

        return $"not ready after 30 s: {last}";
    }
}

/// <summary>
/// N Berth replicas over one S3 bucket prefix (unique per cluster), one <c>http.secret</c>, delete enabled, and haproxy
/// in front. Disposal stops everything and removes the prefix from the bucket.
/// </summary>
public sealed class ScaleOutCluster : IAsyncDisposable
{
    private readonly ScaleOutS3 _s3;
    private readonly HaproxyBalancer _balancer;
    private readonly ITestOutputHelper? _log;

    private ScaleOutCluster(ScaleOutS3 s3, RedisServer? redis, string rootDirectory, IReadOnlyList<RegistryProcess> replicas, HaproxyBalancer balancer,
        ITestOutputHelper? log)
    {
        _s3 = s3;
        Redis = redis;
        _log = log;
        RootDirectory = rootDirectory;
        Replicas = replicas;
        _balancer = balancer;
    }

    public IReadOnlyList<RegistryProcess> Replicas { get; }

    public HaproxyBalancer Balancer => _balancer;

    /// <summary>storage.s3.rootdirectory: the bucket prefix of this cluster.</summary>
    public string RootDirectory { get; }

    public ScaleOutS3 S3 => _s3;

    /// <summary>The replicas' shared blob descriptor cache, when <see cref="ScaleOutClusterOptions.RedisCache"/>.</summary>
    public RedisServer? Redis { get; }

    public IEnumerable<RegistryProcess> Alive => Replicas.Where(r => !r.Killed);

    /// <summary>Every log (replicas and balancer), for failure messages.</summary>
    public string Logs => string.Join("\n", Replicas.Select(r => r.Log).Append(_balancer.Log));

    /// <summary>Starts the replicas and the balancer; <paramref name="log"/> (when the cluster lives within one test) gets the clean-up report.</summary>
    public static async Task<ScaleOutCluster> StartAsync(string purpose, ScaleOutClusterOptions options, ITestOutputHelper? log = null)
    {
        var s3 = ScaleOutS3.FromEnvironment();
        await s3.EnsureReachableAsync();
        var rootDirectory = $"berth-e2e-scaleout/{DateTime.UtcNow:yyyyMMdd-HHmmss}-{purpose}-{Guid.NewGuid().ToString("N")[..8]}";
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var redis = options.RedisCache ? await RedisServer.StartAsync() : null;
        var starts = Enumerable.Range(1, options.Replicas)
            .Select(i => RegistryProcess.StartAsync(RegistryKind.Berth, $"r{i.ToString(CultureInfo.InvariantCulture)}", rootDirectory,
                port => ConfigYaml(s3, redis, rootDirectory, secret, options, port)))
            .ToList();
        try
        {
            var replicas = await Task.WhenAll(starts);
            try
            {
                var balancer = await HaproxyBalancer.StartAsync(replicas);
                return new ScaleOutCluster(s3, redis, rootDirectory, replicas, balancer, log);
            }
            catch
            {
                foreach (var replica in replicas)
                {
                    await replica.DisposeAsync();
                }

                throw;
            }
        }
        catch
        {
            foreach (var start in starts.Where(t => t.IsCompletedSuccessfully))
            {
                await (await start).DisposeAsync();
            }

            if (redis is not null)
            {
                await redis.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>The replica configuration: registry:2's keys, plus Berth's storage.s3.checksums for Ceph RGW.</summary>
    public static string ConfigYaml(ScaleOutS3 s3, RedisServer? redis, string rootDirectory, string secret, ScaleOutClusterOptions options, int port) => $"""
        version: 0.1
        log:
          level: info
        storage:
          s3:
            accesskey: {s3.AccessKey}
            secretkey: {s3.SecretKey}
            region: {s3.Region}
            regionendpoint: {s3.Endpoint}
            bucket: {s3.Bucket}
            rootdirectory: /{rootDirectory}
            forcepathstyle: true
            secure: {(s3.Endpoint.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? "true" : "false")}
            v4auth: true
            chunksize: 5242880
            checksums: whenrequired
            redirectexpiry: 5m
          delete:
            enabled: true
          redirect:
            disable: {(options.RedirectDisabled ? "true" : "false")}
        {(redis is null ? "" : "  cache:\n    blobdescriptor: redis\n")}
        {(redis is null ? "" : $"redis:\n  addr: {redis.Address}\n")}
        http:
          addr: 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}
          secret: {secret}
        health:
          storagedriver:
            enabled: false

        """;

    public async ValueTask DisposeAsync()
    {
        await _balancer.DisposeAsync();
        foreach (var replica in Replicas)
        {
            await replica.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }

        var report = await _s3.DeletePrefixAsync(RootDirectory + "/");
        _log?.WriteLine(report);
    }
}
