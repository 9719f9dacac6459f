using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Berth.LoadClient;

/// <summary>
/// Many blob uploads in progress at once, each a POST and then one PATCH whose chunked body trickles a few bytes
/// per tick, so the server holds every upload open: what one waiting upload costs the server in memory. The verb
/// reads the server's RSS from /proc (client and server share the machine) before the POSTs and while all PATCHes
/// are open, checks that every upload really is in progress (its PATCH still sending, no answer yet, and the upload
/// known to the server's status GET), then ends the bodies and checks each PATCH's 202 and Range, and that the
/// server still answers <c>/v2/</c>. Everything is bounded: the bodies end at <c>--hold-seconds</c> at the latest.
/// </summary>
internal static class SlowUploads
{
    private const int PostConcurrency = 32;
    private const int StatusConcurrency = 16;

    public static async Task<int> RunAsync(CommandOptions options)
    {
        var registry = new Uri(options.Get("registry"));
        var repo = options.Get("repo", "bench/slow");
        var count = options.GetInt("count", 1000);
        var serverPid = options.GetInt("pid", 0);
        var tickBytes = options.GetInt("tick-bytes", 8);
        var tick = TimeSpan.FromMilliseconds(options.GetInt("tick-ms", 1000));
        var hold = options.GetSeconds("hold-seconds", 30);
        var settle = options.GetSeconds("settle-seconds", 3);
        if (count < 1 || tickBytes < 1 || tick <= TimeSpan.Zero || hold <= settle)
        {
            throw new ArgumentException("need --count >= 1, --tick-bytes >= 1, --tick-ms >= 1 and --hold-seconds > --settle-seconds");
        }

        var idleRssKib = ReadStatusKib(serverPid, "VmRSS");

        // One connection per upload: HTTP/1.1 cannot share a connection while a request body is still being sent.
        using var uploadHandler = Output.Handler(count + 8);
        uploadHandler.ConnectTimeout = TimeSpan.FromSeconds(30);
        using var uploads = new HttpClient(uploadHandler) { Timeout = hold + TimeSpan.FromSeconds(60) };
        using var probeHandler = Output.Handler(StatusConcurrency);
        using var probe = new HttpClient(probeHandler) { Timeout = TimeSpan.FromSeconds(30) };

        var locations = new Uri[count];
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = PostConcurrency }, async (i, ct) =>
        {
            using var post = await probe.PostAsync(new Uri(registry, $"/v2/{repo}/blobs/uploads/"), content: null, ct);
            await PushCommands.ExpectAsync(post, HttpStatusCode.Accepted, $"POST upload {i}");
            locations[i] = PushCommands.NextLocation(registry, post);
        });

        // The PATCHes: each body sends its first tick at once, then one tick per interval until released or held long
        // enough. The deadline bounds the run whatever happens to the rest of it.
        using var deadline = new CancellationTokenSource(hold);
        using var release = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
        var bodies = new TrickleContent[count];
        var patches = new Task<PatchOutcome>[count];
        var patchStart = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            bodies[i] = new TrickleContent(tickBytes, tick, release.Token);
            patches[i] = PatchAsync(uploads, locations[i], bodies[i]);
        }

        // All uploads are in progress once every body has sent its first bytes and no PATCH has been answered.
        var openBy = patchStart + (long)((hold - settle).TotalSeconds / 2 * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < openBy && !patches.Any(p => p.IsCompleted) && bodies.Any(b => b.BytesSent == 0))
        {
            await Task.Delay(50);
        }

        var openSeconds = Stopwatch.GetElapsedTime(patchStart).TotalSeconds;
        var started = bodies.Count(b => b.BytesSent > 0);

        // Let the server settle with everything open, sampling its RSS; the figure is the highest sample.
        var duringRssKib = 0L;
        var settleEnd = Stopwatch.GetTimestamp() + (long)(settle.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < settleEnd)
        {
            duringRssKib = Math.Max(duringRssKib, ReadStatusKib(serverPid, "VmRSS"));
            await Task.Delay(250);
        }

        // Every upload known to the server (status GET 204) while its PATCH is still unanswered.
        var known = 0;
        string? otherStatus = null;
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = StatusConcurrency }, async (i, ct) =>
        {
            using var status = await probe.GetAsync(locations[i], ct);
            if (status.StatusCode == HttpStatusCode.NoContent)
            {
                Interlocked.Increment(ref known);
            }
            else
            {
                Interlocked.CompareExchange(ref otherStatus, ((int)status.StatusCode).ToString(CultureInfo.InvariantCulture), null);
            }
        });
        duringRssKib = Math.Max(duringRssKib, ReadStatusKib(serverPid, "VmRSS"));
        var openAtCheck = patches.Count(p => !p.IsCompleted);
        var stillSending = deadline.IsCancellationRequested ? 0 : openAtCheck;
        var heldSeconds = Stopwatch.GetElapsedTime(patchStart).TotalSeconds;

        await release.CancelAsync();
        var outcomes = await Task.WhenAll(patches);
        var accepted = 0;
        string? firstError = null;
        for (var i = 0; i < count; i++)
        {
            var sent = bodies[i].BytesSent;
            if (outcomes[i].Status == HttpStatusCode.Accepted && outcomes[i].Range == $"0-{sent - 1}")
            {
                accepted++;
            }
            else
            {
                firstError ??= $"upload {i}: {outcomes[i].Describe()} after {sent} bytes sent";
            }
        }

        var hwmKib = ReadStatusKib(serverPid, "VmHWM");
        var afterRssKib = ReadStatusKib(serverPid, "VmRSS");
        int alive;
        try
        {
            using var ping = await probe.GetAsync(new Uri(registry, "/v2/"));
            alive = ping.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }
        catch (HttpRequestException)
        {
            alive = 0;
        }

        var perUploadKib = serverPid > 0 ? (duringRssKib - idleRssKib) / (double)count : double.NaN;
        Output.Line(("count", count), ("posted", count), ("started", started), ("open_at_check", stillSending), ("known", known),
            ("status_other", otherStatus ?? "none"),
            ("accepted", accepted), ("alive", alive), ("open_s", Output.F(openSeconds, 2)), ("held_s", Output.F(heldSeconds, 2)),
            ("rss_idle_kib", idleRssKib), ("rss_during_kib", duringRssKib), ("rss_after_kib", afterRssKib), ("hwm_kib", hwmKib),
            ("kib_per_upload", Output.F(perUploadKib, 1)), ("first_error", (firstError ?? "none").Replace(' ', '_')));
        var complete = started == count && stillSending == count && known == count && accepted == count && alive == 1;
        if (!complete)
        {
            await Console.Error.WriteLineAsync($"slow-uploads: not every upload was in progress or accepted ({firstError ?? "see the counts"})");
        }

        return complete ? 0 : 1;
    }

    private static async Task<PatchOutcome> PatchAsync(HttpClient client, Uri location, TrickleContent body)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Patch, location) { Content = body };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            var range = response.Headers.TryGetValues("Range", out var values) ? values.FirstOrDefault() : null;
            return new PatchOutcome(response.StatusCode, range, null);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            return new PatchOutcome(null, null, ex.GetType().Name + ": " + ex.Message);
        }
    }

    /// <summary>A field of /proc/PID/status in KiB; 0 without a pid.</summary>
    private static long ReadStatusKib(int pid, string field)
    {
        if (pid <= 0)
        {
            return 0;
        }

        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(field.Length + 1).Trim().TrimEnd("kB").Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture);
            }
        }

        throw new BenchmarkException($"/proc/{pid}/status has no {field}");
    }

    private sealed record PatchOutcome(HttpStatusCode? Status, string? Range, string? Error)
    {
        public string Describe() => Error ?? $"status {(int?)Status} range {Range ?? "none"}";
    }

    /// <summary>
    /// A chunked body (no length) that writes <c>tickBytes</c> and flushes once per tick until released or past its
    /// deadline: the server must keep the request open the whole time.
    /// </summary>
    private sealed class TrickleContent(int tickBytes, TimeSpan tick, CancellationToken stop) : HttpContent
    {
        private long _bytesSent;

        public long BytesSent => Interlocked.Read(ref _bytesSent);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var payload = new byte[tickBytes];
            Array.Fill(payload, (byte)'x');
            while (true)
            {
                await stream.WriteAsync(payload);
                await stream.FlushAsync();
                Interlocked.Add(ref _bytesSent, tickBytes);
                try
                {
                    await Task.Delay(tick, stop);
                }
                catch (OperationCanceledException)
                {
                    return;   // released or past the deadline: the body ends and the server answers
                }
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
