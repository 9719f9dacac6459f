using System.Diagnostics;
using System.Net;

namespace Berth.LoadClient;

/// <summary>
/// A closed-loop load generator, like wrk: <c>--connections</c> workers each send one request,
/// read the whole response and send the next, over their own kept-alive connection, until the
/// duration or the request count runs out. It exists because Debian's wrk 4.1 hangs on HEAD;
/// bench/run.sh runs it and wrk against the same nginx GET to show what it can drive.
/// </summary>
internal static class LoadCommand
{
    public static async Task<int> RunAsync(CommandOptions options)
    {
        var url = new Uri(options.Get("url"));
        var method = new HttpMethod(options.Get("method", "GET"));
        var connections = options.GetInt("connections", 64);
        var duration = options.GetSeconds("duration", 10);
        var warmup = options.GetSeconds("warmup", 0);
        var maxRequests = options.GetLong("max-requests", 20_000_000);
        var timeout = options.GetSeconds("timeout", 30);
        var headers = options.GetAll("header").Select(ParseHeader).ToArray();

        // HttpMessageInvoker rather than HttpClient: no per-request timeout token source or
        // response-buffering logic, so the client spends less of the shared CPU per request.
        using var handler = Output.Handler(connections);
        using var invoker = new HttpMessageInvoker(handler, disposeHandler: false);
        var target = new Target(invoker, method, url, headers, timeout);

        if (warmup > TimeSpan.Zero)
        {
            await RunPhaseAsync(target, connections, warmup, maxRequests, record: false);
        }

        var cpuBefore = Environment.CpuUsage.TotalTime;
        var result = await RunPhaseAsync(target, connections, duration, maxRequests, record: true);
        var cpu = (Environment.CpuUsage.TotalTime - cpuBefore).TotalSeconds;

        var latencies = result.LatenciesMs;
        Array.Sort(latencies);
        Output.Line(
            ("requests", result.Completed),
            ("errors", result.Errors),
            ("seconds", Output.F(result.Seconds, 3)),
            ("rps", Output.F(result.Completed / result.Seconds)),
            ("p50_ms", Output.F(Output.Quantile(latencies, 0.50), 3)),
            ("p99_ms", Output.F(Output.Quantile(latencies, 0.99), 3)),
            ("max_ms", Output.F(latencies.Length > 0 ? latencies[^1] : double.NaN, 3)),
            ("bytes", result.Bytes),
            ("client_cpu_s", Output.F(cpu, 2)),
            ("first_error", result.FirstError ?? "none"));
        return result.Errors == 0 && result.Completed > 0 ? 0 : 1;
    }

    private static async Task<PhaseResult> RunPhaseAsync(Target target, int connections, TimeSpan duration, long maxRequests, bool record)
    {
        var shared = new Shared(Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency), maxRequests);
        var start = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, connections).Select(_ => Task.Run(() => WorkerAsync(target, shared, record))).ToArray();
        var results = await Task.WhenAll(workers);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;

        var all = new double[results.Sum(r => r.Latencies.Count)];
        var offset = 0;
        foreach (var r in results)
        {
            r.Latencies.CopyTo(all, offset);
            offset += r.Latencies.Count;
        }

        return new PhaseResult(
            results.Sum(r => r.Completed), results.Sum(r => r.Errors), results.Sum(r => r.Bytes), seconds, all,
            results.Select(r => r.FirstError).FirstOrDefault(e => e is not null));
    }

    private static async Task<WorkerResult> WorkerAsync(Target target, Shared shared, bool record)
    {
        var result = new WorkerResult();
        var buffer = new byte[64 * 1024];
        using var cts = new CancellationTokenSource(Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), shared.Deadline) + target.Timeout);
        var cancellationToken = cts.Token;
        while (Interlocked.Increment(ref shared.Issued) <= shared.MaxRequests && Stopwatch.GetTimestamp() < shared.Deadline)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                using var request = new HttpRequestMessage(target.Method, target.Url)
                {
                    Version = HttpVersion.Version11,
                    VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                };
                foreach (var (name, value) in target.Headers)
                {
                    request.Headers.TryAddWithoutValidation(name, value);
                }

                using var response = await target.Invoker.SendAsync(request, cancellationToken);
                await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    result.Bytes += read;
                }

                if (!response.IsSuccessStatusCode)
                {
                    result.Errors++;
                    result.FirstError ??= $"HTTP {(int)response.StatusCode}";
                    continue;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
            {
                result.Errors++;
                result.FirstError ??= ex.GetType().Name;
                continue;
            }

            result.Completed++;
            if (record)
            {
                result.Latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }

        return result;
    }

    private static (string Name, string Value) ParseHeader(string header)
    {
        var colon = header.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 ? (header[..colon].Trim(), header[(colon + 1)..].Trim()) : throw new ArgumentException($"bad --header '{header}'");
    }

    private sealed record Target(HttpMessageInvoker Invoker, HttpMethod Method, Uri Url, (string Name, string Value)[] Headers, TimeSpan Timeout);

    private sealed class Shared(long deadline, long maxRequests)
    {
        public long Issued;

        public long Deadline { get; } = deadline;

        public long MaxRequests { get; } = maxRequests;
    }

    private sealed class WorkerResult
    {
        public long Completed { get; set; }

        public long Errors { get; set; }

        public long Bytes { get; set; }

        public string? FirstError { get; set; }

        public List<double> Latencies { get; } = new(4096);
    }

    private sealed record PhaseResult(long Completed, long Errors, long Bytes, double Seconds, double[] LatenciesMs, string? FirstError);
}
