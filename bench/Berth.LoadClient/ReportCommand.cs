using System.Globalization;
using System.Text;

namespace Berth.LoadClient;

/// <summary>
/// Turns bench/run.sh's raw results (tab-separated <c>SUBJECT FIGURE ROUND VALUE</c> lines, plus
/// <c>meta KEY VALUE</c> and <c>note SUBJECT TEXT</c>) into the markdown report: medians per figure
/// for Berth and Distribution, their ratio, and the machine's ceiling measured in the same run.
/// </summary>
internal static class ReportCommand
{
    public static int Run(CommandOptions options)
    {
        var path = options.Get("results");
        var values = new Dictionary<(string Subject, string Figure), List<double>>();
        var meta = new List<(string Key, string Value)>();
        var notes = new List<string>();
        foreach (var line in File.ReadLines(path))
        {
            var f = line.Split('\t');
            if (f.Length >= 3 && f[0] == "meta")
            {
                meta.Add((f[1], string.Join('\t', f.Skip(2))));
            }
            else if (f.Length >= 3 && f[0] == "note")
            {
                notes.Add($"{f[1]}: {string.Join(' ', f.Skip(2))}");
            }
            else if (f.Length == 4 && double.TryParse(f[3], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
            {
                var key = (f[0], f[1]);
                if (!values.TryGetValue(key, out var list))
                {
                    values[key] = list = [];
                }

                list.Add(v);
            }
        }

        var m = meta.GroupBy(x => x.Key).ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);
        string M(string key, string fallback = "?") => m.TryGetValue(key, out var v) ? v : fallback;
        double? Median(string subject, string figure) =>
            values.TryGetValue((subject, figure), out var list) && list.Count > 0 ? MedianOf(list) : null;
        int Count(string subject, string figure) => values.TryGetValue((subject, figure), out var list) ? list.Count : 0;

        var blob = MiB(M("blob_mib"));
        var rows = new Row[]
        {
            // bench/s3.sh sets push_ceiling / pull_ceiling: there the ceiling is the store's own (the AWS SDK), not the disk's.
            new("push_mono_mbps", $"push {blob} blob, monolithic (POST+PUT)", "MB/s", true, M("push_ceiling", "sink_full_mbps")),
            new("push_chunked_mbps", $"push {blob} blob, chunked ({M("chunk_mib")} MiB PATCHes)", "MB/s", true, M("push_ceiling", "sink_full_mbps")),
            new("pull_whole_mbps", $"pull {blob} blob", "MB/s", true, M("pull_ceiling", "nginx_pull_mbps")),
            new("pull_range_mbps", $"pull a {MiB(M("range_mib"))} range", "MB/s", true, "nginx_range_mbps"),
            new("manifest_get_rps", $"manifest GET by tag, OCI Accept (wrk {M("threads")}t/{M("connections")}c)", "req/s", true, "nginx_get_rps"),
            new("manifest_get_p99", "  manifest GET p99", "ms", false, "nginx_get_p99"),
            new("manifest_head_rps", $"manifest HEAD by tag (C# client, {M("connections")}c)", "req/s", true, "nginx_head_rps"),
            new("manifest_head_p99", "  manifest HEAD p99", "ms", false, "nginx_head_p99"),
            new("blob_head_rps", $"blob HEAD (C# client, {M("connections")}c)", "req/s", true, "nginx_head_rps"),
            new("blob_head_p99", "  blob HEAD p99", "ms", false, "nginx_head_p99"),
            new("blob_get_rps", $"small blob GET, 1 KiB (wrk {M("threads")}t/{M("connections")}c)", "req/s", true, "nginx_get_rps"),
            new("blob_get_p99", "  small blob GET p99", "ms", false, "nginx_get_p99"),
            new("tiny_ips", $"{M("images")} tiny images, {M("pushers")} pushers", "images/s", true, null),
            new("tags_list_ms", $"tags list of {M("tags")} tags, whole", "ms", false, null),
            new("tags_paged_ms", $"tags list of {M("tags")} tags, pages of {M("page")}", "ms", false, null),
            new("catalog_ms", $"catalog of {M("repos")} repositories (n={M("catalog_n")})", "ms", false, null),
            new("cpu_s", "server CPU seconds, whole run (utime+stime)", "s", false, null),
            new("rss_mib", "server peak RSS, whole run (VmHWM)", "MiB", false, null),
        };

        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# Berth vs Distribution {M("distribution_version", "2.8.2")}: {M("title", "benchmark report")}");
        md.AppendLine();
        foreach (var (key, value) in meta.Where(x => x.Key is "date" or "command" or "machine" or "cores" or "kernel" or "storage" or "parameters" or "load_before" or "load_after" or "berth_commit" or "duration_total"))
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- **{key}**: {value}");
        }

        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Medians of {M("rounds")} round(s); servers alternate first/second each round. \"Berth/Dist\" is the plain ratio of the medians; \"verdict\" says which way is better for that unit.");
        md.AppendLine();
        md.AppendLine("| figure | unit | Berth | Distribution | Berth/Dist | verdict | ceiling | Berth/ceiling |");
        md.AppendLine("|---|---|---:|---:|---:|---|---:|---:|");
        var summary = new StringBuilder();
        foreach (var row in rows)
        {
            var b = Median("berth", row.Key);
            var d = Median("distribution", row.Key);
            if (b is null && d is null)
            {
                continue;   // a figure this run does not take (bench/s3.sh takes a subset)
            }

            var c = row.CeilingKey is null ? null : Median("ceiling", row.CeilingKey);
            var ratio = b is not null && d is not null && d != 0 ? b / d : null;
            var verdict = ratio is not { } r || r <= 0 ? "" : Verdict(row.HigherBetter ? r : 1 / r);
            var ofCeiling = row.HigherBetter && b is not null && c is not null && c != 0 ? $"{b / c * 100:F0} %" : "";
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Label} | {row.Unit} | {Fmt(b, row.Unit)} | {Fmt(d, row.Unit)} | {(ratio is null ? "" : $"{ratio:F2}")} | {verdict} | {Fmt(c, row.Unit)} | {ofCeiling} |");
            summary.AppendLine(CultureInfo.InvariantCulture,
                $"summary\t{row.Key}\t{row.Label}\t{row.Unit}\t{(row.HigherBetter ? "higher" : "lower")}\t{Raw(b)}\t{Raw(d)}\t{Raw(c)}");
        }

        if (M("show_rounds", "0") == "1")
        {
            // Every round's figure, in the order the rounds ran (bench/s3.sh: few rounds, a noisy shared store).
            md.AppendLine();
            md.AppendLine("## Every round");
            md.AppendLine();
            md.AppendLine("| figure | unit | Berth, rounds 1.. | Distribution, rounds 1.. |");
            md.AppendLine("|---|---|---|---|");
            string Each(string subject, Row row) =>
                values.TryGetValue((subject, row.Key), out var list) ? string.Join(" / ", list.Select(v => Fmt(v, row.Unit))) : "";
            foreach (var row in rows.Where(r => Count("berth", r.Key) + Count("distribution", r.Key) > 0))
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {row.Label} | {row.Unit} | {Each("berth", row)} | {Each("distribution", row)} |");
            }
        }

        var ceilings = new (string Key, string Label, string Unit)[]
        {
            ("sha256_openssl_mbps", "`openssl speed -evp sha256`, 16 KiB blocks, one core", "MB/s"),
            ("sink_full_mbps", "sink: receive + SHA-256 + write + fsync + rename, pipelined on 3 threads (push ceiling)", "MB/s"),
            ("sink_serial_mbps", "sink: the same work in one loop on one thread", "MB/s"),
            ("sink_hash_mbps", "sink: receive + SHA-256, no write", "MB/s"),
            ("sink_discard_mbps", "sink: receive only (C# push client + loopback)", "MB/s"),
            ("nginx_pull_mbps", $"nginx sendfile GET of the {blob} file (curl)", "MB/s"),
            ("nginx_range_mbps", $"nginx sendfile GET of a {MiB(M("range_mib"))} range (curl)", "MB/s"),
            ("nginx_get_rps", $"nginx 1 KiB GET, wrk {M("threads")}t/{M("connections")}c", "req/s"),
            ("nginx_get_p99", "  p99", "ms"),
            ("kestrel_get_rps", $"bare Kestrel app, the same 1 KiB file per GET, wrk {M("threads")}t/{M("connections")}c (the framework's ceiling)", "req/s"),
            ("kestrel_get_p99", "  p99", "ms"),
            ("nginx_get_cs_rps", $"nginx 1 KiB GET, C# client {M("connections")}c", "req/s"),
            ("nginx_get_cs_p99", "  p99", "ms"),
            ("nginx_head_rps", $"nginx 1 KiB HEAD, C# client {M("connections")}c (HEAD ceiling)", "req/s"),
            ("nginx_head_p99", "  p99", "ms"),
            ("s3_put_mbps", $"AWS SDK multipart upload of the {blob} file to the store, {M("chunksize", "?")}-byte parts one at a time as Berth's driver (push ceiling)", "MB/s"),
            ("s3_get_mbps", $"AWS SDK streamed GET of that object, 128 KiB reads (pull ceiling)", "MB/s"),
        };
        if (values.Keys.Any(k => k.Subject == "ceiling"))
        {
            md.AppendLine();
            md.AppendLine("## Machine ceilings and load-client check (same run)");
            md.AppendLine();
            md.AppendLine("| what | unit | median | rounds |");
            md.AppendLine("|---|---|---:|---:|");
        }

        foreach (var (key, label, unit) in ceilings.Where(c => Count("ceiling", c.Key) > 0))
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {label} | {unit} | {Fmt(Median("ceiling", key), unit)} | {Count("ceiling", key)} |");
        }

        if (Median("ceiling", "nginx_get_cs_rps") is { } cs && Median("ceiling", "nginx_get_rps") is { } wrk && wrk > 0)
        {
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture,
                $"The C# client drove nginx at {cs / wrk * 100:F0} % of wrk's GET rate on the same box: HEAD figures below that rate are the server's, not the client's.");
        }

        if (Median("ceiling", "kestrel_get_rps") is { } kestrel && kestrel > 0 && Median("ceiling", "nginx_get_rps") is { } nginxGet && nginxGet > 0
            && Median("berth", "manifest_get_rps") is { } manifestGet)
        {
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture,
                $"A bare Kestrel app serving the same 1 KiB file reached {kestrel / nginxGet * 100:F0} % of nginx's rate; Berth's manifest GET is {manifestGet / kestrel * 100:F0} % of that framework ceiling.");
        }

        foreach (var (figure, what) in new[] { ("tags_paged", "tag list"), ("catalog", "catalog") })
        {
            if (Median("berth", figure + "_pages") is { } bp && Median("distribution", figure + "_pages") is { } dp && bp != dp)
            {
                notes.Add($"the paged {what} took {bp:F0} page(s) from Berth and {dp:F0} from Distribution"
                    + (dp == 1 && figure == "tags_paged" ? " (Distribution 2.8.2 ignores n on tag lists and answers everything at once)" : ""));
            }
        }

        if (Median("berth", "catalog_items") is { } bi && Median("distribution", "catalog_items") is { } di && bi != di)
        {
            notes.Add($"the catalog listed {bi:F0} repositories on Berth and {di:F0} on Distribution (Distribution counts directories with _layers, Berth those with _manifests)");
        }

        var known = rows.Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
        var others = values.Keys.Where(k => k.Subject is "berth" or "distribution" && !known.Contains(k.Figure))
            .Select(k => k.Figure).Distinct().Order(StringComparer.Ordinal).ToList();
        if (others.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("## Other measurements (medians)");
            md.AppendLine();
            md.AppendLine("| measurement | Berth | Distribution |");
            md.AppendLine("|---|---:|---:|");
            foreach (var figure in others)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {figure} | {Fmt(Median("berth", figure), "")} | {Fmt(Median("distribution", figure), "")} |");
            }
        }

        if (notes.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("## Notes");
            md.AppendLine();
            foreach (var note in notes.Distinct())
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- {note}");
            }
        }

        var text = md.ToString();
        Console.Write(text);
        if (options.Get("out", "") is { Length: > 0 } output)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            File.WriteAllText(output, text);
        }

        // The raw rows and the table's medians, for bench/Berth.Plots to draw the table without its own copy of it.
        if (options.Get("tsv-out", "") is { Length: > 0 } tsv)
        {
            var rawRows = File.ReadLines(path).Where(line => !line.StartsWith("summary\t", StringComparison.Ordinal)).ToList();
            File.WriteAllText(tsv, string.Join('\n', rawRows) + '\n' + summary);
        }

        return 0;
    }

    private static double MedianOf(List<double> list)
    {
        var sorted = list.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static string Raw(double? value) => value?.ToString("R", CultureInfo.InvariantCulture) ?? "";

    private static string Verdict(double advantage) =>
        advantage >= 1 ? $"Berth {advantage:F1}× better" : $"Berth {1 / advantage:F1}× worse";

    private static string MiB(string mib) =>
        long.TryParse(mib, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 1024 && n % 1024 == 0 ? $"{n / 1024} GiB" : $"{mib} MiB";

    private static string Fmt(double? value, string unit) => value switch
    {
        null => "",
        { } v when unit is "req/s" or "MB/s" or "MiB" => v.ToString("N0", CultureInfo.InvariantCulture),
        { } v when unit is "ms" && v < 10 => v.ToString("N2", CultureInfo.InvariantCulture),
        { } v => v.ToString("N1", CultureInfo.InvariantCulture),
    };

    private sealed record Row(string Key, string Label, string Unit, bool HigherBetter, string? CeilingKey);
}
