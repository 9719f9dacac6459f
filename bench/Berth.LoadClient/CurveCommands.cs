using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Berth.LoadClient;

/// <summary>
/// bench/curves.sh's verbs. <c>list-curve</c> times one listing like <c>list</c> does, but reports the first walk's
/// time too (Berth builds its cached listings on first use, Distribution walks storage every time) and gives up on a
/// walk after <c>--walk-timeout</c> seconds, since a paged catalog that re-walks storage for every page grows faster
/// than linearly and must not hold a run for hours. <c>curve-report</c> turns the script's raw rows into the curve
/// TSV the plotter reads and a markdown table per curve.
/// </summary>
internal static class CurveCommands
{
    public static async Task<int> ListCurveAsync(CommandOptions options)
    {
        var url = new Uri(options.Get("url"));
        var repeat = options.GetInt("repeat", 5);
        var maxSeconds = options.GetDouble("max-seconds", 60);
        var walkTimeout = options.GetSeconds("walk-timeout", 300);
        var expectItems = options.GetLong("expect-items", -1);

        using var handler = Output.Handler(1);
        using var client = new HttpClient(handler) { Timeout = walkTimeout + TimeSpan.FromSeconds(5) };
        var budgetStart = Stopwatch.GetTimestamp();
        var first = await TimedWalkAsync(client, url, walkTimeout);
        if (first is null)
        {
            Output.Line(("timed_out_s", Output.F(walkTimeout.TotalSeconds, 0)));
            return 0;
        }

        var (firstMs, pages, items) = first.Value;
        if (expectItems >= 0 && items != expectItems)
        {
            throw new BenchmarkException($"{url}: {items} items, expected {expectItems}");
        }

        // The repeats share one budget counted from the first walk's start, so a slow listing gets fewer walks, and
        // at least one timed walk follows the first (unless the first alone used up the walk limit).
        var times = new List<double>();
        while (times.Count < repeat && (times.Count == 0 || Stopwatch.GetElapsedTime(budgetStart).TotalSeconds < maxSeconds))
        {
            var walk = await TimedWalkAsync(client, url, walkTimeout);
            if (walk is null)
            {
                break;
            }

            if (walk.Value.Pages != pages || walk.Value.Items != items)
            {
                throw new BenchmarkException($"{url}: the listing changed between walks ({pages}/{items} then {walk.Value.Pages}/{walk.Value.Items})");
            }

            times.Add(walk.Value.Ms);
        }

        var sorted = times.Order().ToArray();
        Output.Line(("first_ms", Output.F(firstMs, 2)), ("median_ms", sorted.Length > 0 ? Output.F(Output.Quantile(sorted, 0.5), 2) : "NaN"),
            ("min_ms", sorted.Length > 0 ? Output.F(sorted[0], 2) : "NaN"), ("walks", sorted.Length), ("pages", pages), ("items", items));
        return 0;
    }

    /// <summary>One walk's time, or null when it took longer than <paramref name="limit"/>.</summary>
    private static async Task<(double Ms, int Pages, long Items)?> TimedWalkAsync(HttpClient client, Uri url, TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        var start = Stopwatch.GetTimestamp();
        try
        {
            var (pages, items) = await ListCommand.WalkAsync(client, url, cts.Token);
            return (Stopwatch.GetElapsedTime(start).TotalMilliseconds, pages, items);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>
    /// Reads curves.sh's raw rows (<c>meta K V</c>, <c>walk STORE LISTING SERVER X FIRST_MS MEDIAN_MS WALKS PAGES ITEMS</c>,
    /// <c>timeout STORE LISTING SERVER X SECONDS</c>, <c>note SUBJECT TEXT</c>) and writes the curve TSV (meta, curve, point and
    /// growth rows, the raw rows kept after them) and the markdown report.
    /// </summary>
    public static int CurveReport(CommandOptions options)
    {
        var rows = File.ReadAllLines(options.Get("results")).Select(l => l.Split('\t')).ToList();
        var outMarkdown = options.Get("out");
        var outTsv = Path.ChangeExtension(outMarkdown, ".tsv");
        var meta = rows.Where(r => r is ["meta", _, _]).Select(r => (Key: r[1], Value: r[2])).ToList();
        var notes = rows.Where(r => r is ["note", _, _]).Select(r => $"{r[1]}: {r[2]}").ToList();
        var walks = rows.Where(r => r is ["walk", _, _, _, _, _, _, _, _, _]).Select(r => new Walk(r[1], r[2], r[3], Num(r[4]), Num(r[5]), Num(r[6]), r[8])).ToList();
        var timeouts = rows.Where(r => r is ["timeout", _, _, _, _, _]).Select(r => (Store: r[1], Listing: r[2], Server: r[3], X: Num(r[4]), Seconds: r[5])).ToList();

        var tsv = new StringBuilder();
        var md = new StringBuilder();
        foreach (var (key, value) in meta)
        {
            tsv.Append(CultureInfo.InvariantCulture, $"meta\t{key}\t{value}\n");
        }

        md.Append("# Listing cost curves: catalog and tag list, Berth beside Distribution 2.8.2\n\n");
        md.Append("Written by `bench/curves.sh` (see bench/README.md, \"Listing cost curves\"). Times in ms; *median* is the median of the timed walks ")
          .Append("after an untimed first walk, *first walk* is that first walk (the first listing after the servers started). ")
          .Append("Ratio = Distribution / Berth (above 1: Berth is faster).\n\n");
        md.Append("| run | |\n|---|---|\n");
        foreach (var (key, value) in meta)
        {
            md.Append(CultureInfo.InvariantCulture, $"| {key} | {value.Replace("|", "\\|", StringComparison.Ordinal)} |\n");
        }

        var curves = new[]
        {
            ("catalog-whole", "catalog", "whole", false, "Catalog, whole (one request, n=all)", "repositories"),
            ("catalog-paged", "catalog", "paged", false, "Catalog, paged (n=100, every Link followed)", "repositories"),
            ("catalog-first", "catalog", "whole", true, "Catalog, first walk after start (whole)", "repositories"),
            ("tags-whole", "tags", "whole", false, "Tag list of one repository, whole", "tags"),
            ("tags-paged", "tags", "paged", false, "Tag list of one repository, paged (n=100)", "tags"),
            ("tags-first", "tags", "whole", true, "Tag list, first walk after start (whole)", "tags"),
        };
        foreach (var store in new[] { "fs", "s3" })
        {
            foreach (var (name, kind, mode, firstWalk, title, xLabel) in curves)
            {
                var listing = $"{kind}-{mode}";
                var mine = walks.Where(w => w.Store == store && w.Listing == listing).ToList();
                var late = timeouts.Where(t => t.Store == store && t.Listing == listing).ToList();
                if (mine.Count == 0 && late.Count == 0)
                {
                    continue;
                }

                var id = $"{name}-{store}";
                var storeName = store == "fs" ? "filesystem" : "S3 (Ceph RGW)";
                tsv.Append(CultureInfo.InvariantCulture, $"curve\t{id}\t{title}, {storeName}\t{xLabel}\tms\tlog\tlog\n");
                var series = new Dictionary<string, SortedDictionary<double, double>>(StringComparer.Ordinal);
                foreach (var server in new[] { "Berth", "Distribution" })
                {
                    var points = new SortedDictionary<double, double>();
                    foreach (var w in mine.Where(w => w.Server == server))
                    {
                        var y = firstWalk ? w.FirstMs : w.MedianMs;
                        if (!double.IsNaN(y))
                        {
                            points[w.X] = y;
                            tsv.Append(CultureInfo.InvariantCulture, $"point\t{id}\t{server}\t{w.X}\t{y}\n");
                        }
                    }

                    series[server] = points;
                }

                md.Append(CultureInfo.InvariantCulture, $"\n## {title}, {storeName} (`{id}`)\n\n| {xLabel} | Berth ms | Distribution ms | ratio |\n|---:|---:|---:|---:|\n");
                var xs = series.Values.SelectMany(p => p.Keys).Concat(late.Select(t => t.X)).Distinct().Order();
                foreach (var x in xs)
                {
                    string Cell(string server) =>
                        series[server].TryGetValue(x, out var y) ? Output.F(y, y < 10 ? 2 : 1)
                        : late.FirstOrDefault(t => t.Server == server && t.X == x) is { Seconds: { } s } ? $"> {s} s (gave up)" : "–";
                    var ratio = series["Berth"].TryGetValue(x, out var b) && series["Distribution"].TryGetValue(x, out var d) && b > 0
                        ? Output.F(d / b, 1) + "x" : "–";
                    md.Append(CultureInfo.InvariantCulture, $"| {x:N0} | {Cell("Berth")} | {Cell("Distribution")} | {ratio} |\n");
                }

                md.Append('\n');
                foreach (var (server, points) in series)
                {
                    var (growth, why) = Growth(points);
                    var gaveUp = late.Where(t => t.Server == server).Select(t => $"; gave up after {t.Seconds} s at {t.X:N0}").FirstOrDefault() ?? "";
                    if (growth is null)
                    {
                        md.Append(CultureInfo.InvariantCulture, $"- {server}: fewer than two points{gaveUp}\n");
                        continue;
                    }

                    tsv.Append(CultureInfo.InvariantCulture, $"growth\t{id}\t{server}\t{growth}\t{why}{gaveUp}\n");
                    md.Append(CultureInfo.InvariantCulture, $"- {server}: **{growth}** ({why}{gaveUp})\n");
                }
            }
        }

        var fills = rows.Where(r => r is ["fill", _, _, _, _]).ToList();
        if (fills.Count > 0)
        {
            md.Append("\n## Filling (writing the layout directly, not timed against anything)\n\n| store | up to | files or objects written | seconds |\n|---|---:|---:|---:|\n");
            foreach (var r in fills)
            {
                md.Append(CultureInfo.InvariantCulture, $"| {r[1]} | {Num(r[2]):N0} | {Num(r[3]):N0} | {r[4]} |\n");
            }
        }

        var resources = rows.Where(r => r is ["resources", _, _, _, _, _]).ToList();
        if (resources.Count > 0)
        {
            md.Append("\n## Server CPU and peak memory per point (all walks of that point)\n\n| store | size | server | CPU s | peak RSS MiB |\n|---|---:|---|---:|---:|\n");
            foreach (var r in resources)
            {
                md.Append(CultureInfo.InvariantCulture, $"| {r[1]} | {Num(r[3]):N0} | {r[2]} | {r[4]} | {r[5]} |\n");
            }
        }

        if (notes.Count > 0)
        {
            md.Append("\n## Notes\n\n");
            foreach (var note in notes)
            {
                md.Append(CultureInfo.InvariantCulture, $"- {note}\n");
            }
        }

        // The raw rows after the curves: the plotter ignores them, a reader can still check pages and items.
        foreach (var r in rows.Where(r => r.Length > 0 && r[0] is "walk" or "timeout" or "note" or "fill" or "resources"))
        {
            tsv.Append(string.Join('\t', r)).Append('\n');
        }

        File.WriteAllText(outTsv, tsv.ToString());
        File.WriteAllText(outMarkdown, md.ToString());
        Console.Write(md.ToString());
        return 0;
    }

    /// <summary>
    /// Growth from the log-log slope between consecutive points: below 0.15 flat, below 0.6 log (sublinear), below
    /// 1.25 linear, above that superlinear. The class is the last segment's (what the next point will do); every
    /// slope is named, with the point where the slope changes class.
    /// </summary>
    private static (string? Growth, string Why) Growth(SortedDictionary<double, double> points)
    {
        var p = points.Where(kv => kv.Value > 0).ToArray();
        if (p.Length < 2)
        {
            return (null, "");
        }

        var segments = new List<(double From, double To, double Slope, string Class)>();
        for (var i = 1; i < p.Length; i++)
        {
            var slope = Math.Log(p[i].Value / p[i - 1].Value) / Math.Log(p[i].Key / p[i - 1].Key);
            segments.Add((p[i - 1].Key, p[i].Key, slope, slope switch { < 0.15 => "flat", < 0.6 => "log", < 1.25 => "linear", _ => "superlinear" }));
        }

        var why = string.Join(", ", segments.Select(s => $"slope {Output.F(s.Slope, 2)} on log-log between {Short(s.From)} and {Short(s.To)}"));
        var bend = segments.Skip(1).Select((s, i) => (s, prev: segments[i])).FirstOrDefault(t => t.s.Class != t.prev.Class);
        if (bend.s.Class is not null)
        {
            why += $"; bends at {Short(bend.s.From)}";
        }

        return (segments[^1].Class, why);
    }

    private static string Short(double x) => x >= 1000 && x % 1000 == 0 ? $"{x / 1000:0}k" : x.ToString(CultureInfo.InvariantCulture);

    private static double Num(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    private sealed record Walk(string Store, string Listing, string Server, double X, double FirstMs, double MedianMs, string Pages);
}
