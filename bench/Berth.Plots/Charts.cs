using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace Berth.Plots;

/// <summary>
/// Draws the pictures: a curve as lines with markers (Berth, Distribution and any ceiling in fixed colours, so every
/// picture reads the same way) and a report's main table as bars of "times better than Distribution".
/// </summary>
internal static class Charts
{
    private const int Width = 900;
    private const int Height = 540;
    private const string FontName = "DejaVu Sans";

    /// <summary>Ceilings (nginx, the store's own SDK) in muted colours and dashed, so the two servers stand out.</summary>
    private static readonly Color[] CeilingColors = [Colors.Gray, Colors.DarkGreen, Colors.Purple, Colors.Brown];

    public static void DrawCurve(Curve curve, string file)
    {
        var plot = NewPlot(curve.Title);
        var ceilings = 0;
        foreach (var (series, points) in curve.Series.OrderBy(s => SeriesOrder(s.Key)).ThenBy(s => s.Key, StringComparer.Ordinal))
        {
            var ordered = points.Where(p => (!curve.LogX || p.X > 0) && (!curve.LogY || p.Y > 0)).OrderBy(p => p.X).ToArray();
            if (ordered.Length == 0)
            {
                continue;
            }

            var xs = ordered.Select(p => curve.LogX ? Math.Log10(p.X) : p.X).ToArray();
            var ys = ordered.Select(p => curve.LogY ? Math.Log10(p.Y) : p.Y).ToArray();
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = curve.Growth.TryGetValue(series, out var growth) ? $"{series} ({growth})" : series;
            line.Color = IsCeiling(series) ? CeilingColors[ceilings++ % CeilingColors.Length] : SeriesColor(series);
            line.LineWidth = 2;
            line.MarkerSize = 8;
            if (IsCeiling(series))
            {
                line.LinePattern = LinePattern.Dashed;
            }
        }

        plot.Axes.Bottom.Label.Text = curve.XLabel + (curve.LogX ? " (log scale)" : "");
        plot.Axes.Left.Label.Text = curve.YLabel + (curve.LogY ? " (log scale)" : "");
        var allPoints = curve.Series.Values.SelectMany(p => p).Where(p => (!curve.LogX || p.X > 0) && (!curve.LogY || p.Y > 0)).ToList();
        if (allPoints.Count == 0)
        {
            plot.SavePng(file, Width, Height);
            return;
        }

        var distinctX = allPoints.Select(p => p.X).Distinct().Order().ToArray();
        if (distinctX.Length == 1)
        {
            // One measured size (a bench run at one blob size): a single labelled tick, the points side by side above it.
            var x = curve.LogX ? Math.Log10(distinctX[0]) : distinctX[0];
            var margin = curve.LogX ? 0.5 : Math.Max(1, Math.Abs(distinctX[0]) * 0.5);
            plot.Axes.Bottom.TickGenerator = new NumericManual([new Tick(x, Readable(distinctX[0]), isMajor: true)]);
            plot.Axes.SetLimitsX(x - margin, x + margin);
        }
        else if (curve.LogX)
        {
            plot.Axes.Bottom.TickGenerator = LogTicks(distinctX[0], distinctX[^1]);
        }

        if (curve.LogY)
        {
            plot.Axes.Left.TickGenerator = LogTicks(allPoints.Min(p => p.Y), allPoints.Max(p => p.Y));
            var low = Math.Log10(allPoints.Min(p => p.Y));
            var high = Math.Log10(allPoints.Max(p => p.Y));
            var pad = Math.Max(0.1, (high - low) * 0.08);
            plot.Axes.SetLimitsY(low - pad, high + pad);
        }
        else
        {
            // A linear value axis starts at zero: a ratio read off the picture must be the ratio of the figures.
            plot.Axes.SetLimitsY(0, allPoints.Max(p => p.Y) * 1.1);
        }

        plot.Legend.Alignment = Alignment.UpperLeft;
        plot.ShowLegend();
        plot.SavePng(file, Width, Height);
    }

    /// <summary>
    /// The main table as bars: per figure, how many times better Berth is than Distribution (log scale, 1 = equal),
    /// green where Berth is better and red where it is worse, the factor written beside each bar.
    /// </summary>
    public static void DrawSummary(string title, IReadOnlyList<SummaryRow> rows, string file)
    {
        var compared = rows.Where(r => r.Advantage is not null).ToList();
        var plot = NewPlot(title);
        var ticks = new List<Tick>();
        double lowest = 0, highest = 0;
        for (var i = 0; i < compared.Count; i++)
        {
            var row = compared[i];
            var advantage = row.Advantage!.Value;
            var position = compared.Count - 1 - i;   // first row of the table at the top
            var value = Math.Log10(advantage);
            lowest = Math.Min(lowest, value);
            highest = Math.Max(highest, value);
            var bar = new Bar
            {
                Position = position,
                ValueBase = 0,
                Value = value,
                FillColor = advantage >= 1 ? Color.FromHex("#2e7d32") : Color.FromHex("#c62828"),
                Label = advantage >= 1
                    ? string.Create(CultureInfo.InvariantCulture, $"{advantage:0.0}×")
                    : string.Create(CultureInfo.InvariantCulture, $"{1 / advantage:0.0}× worse"),
                Orientation = Orientation.Horizontal,
            };
            plot.Add.Bar(bar);
            ticks.Add(new Tick(position, $"{row.Label} ({row.Unit})", isMajor: true));
        }

        plot.Axes.Left.TickGenerator = new NumericManual([.. ticks]);
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.Bottom.TickGenerator = LogTicks(Math.Pow(10, lowest), Math.Pow(10, highest), suffix: "×");
        plot.Axes.Bottom.Label.Text = "times better than Distribution (log scale; left of 1× is worse)";
        plot.Add.VerticalLine(0, 1, Colors.Black);
        // Room on each side for the factor written beside the bar.
        plot.Axes.SetLimits(Math.Min(-0.3, lowest - 0.45), Math.Max(0.3, highest + 0.3), -0.75, compared.Count - 0.25);
        plot.SavePng(file, Width + 300, Math.Max(Height, 60 + 34 * compared.Count));
    }

    private static Plot NewPlot(string title)
    {
        var plot = new Plot();
        plot.Font.Set(FontName);
        plot.Title(title);
        return plot;
    }

    /// <summary>
    /// Ticks for an axis whose values are stored as log10, covering <paramref name="low"/> to <paramref name="high"/>:
    /// labels at 1, 2 and 5 times each power of ten (every whole multiple when the range is under a decade, so even a
    /// narrow range has a few labels), minor ticks at the other multiples.
    /// </summary>
    private static NumericManual LogTicks(double low, double high, string suffix = "")
    {
        var ticks = new List<Tick>();
        var narrow = high / low < 10;
        for (var exponent = (int)Math.Floor(Math.Log10(low)) - 1; exponent <= (int)Math.Ceiling(Math.Log10(high)) + 1; exponent++)
        {
            for (var multiple = 1; multiple <= 9; multiple++)
            {
                var value = multiple * Math.Pow(10, exponent);
                var labelled = narrow || multiple is 1 or 2 or 5;
                ticks.Add(labelled ? new Tick(Math.Log10(value), Readable(value) + suffix, isMajor: true) : new Tick(Math.Log10(value), "", isMajor: false));
            }
        }

        return new NumericManual([.. ticks]);
    }

    private static string Readable(double value) => value switch
    {
        >= 1e6 => (value / 1e6).ToString("0.#", CultureInfo.InvariantCulture) + "M",
        >= 1e3 => (value / 1e3).ToString("0.#", CultureInfo.InvariantCulture) + "k",
        >= 1 => value.ToString("0.##", CultureInfo.InvariantCulture),
        _ => value.ToString("0.###", CultureInfo.InvariantCulture),
    };

    private static bool IsCeiling(string series) => !series.StartsWith("Berth", StringComparison.Ordinal)
        && !series.StartsWith("Distribution", StringComparison.Ordinal);

    private static int SeriesOrder(string series) =>
        series.StartsWith("Berth", StringComparison.Ordinal) ? 0 : series.StartsWith("Distribution", StringComparison.Ordinal) ? 1 : 2;

    private static Color SeriesColor(string series) =>
        series.StartsWith("Berth", StringComparison.Ordinal) ? Color.FromHex("#1565c0") : Color.FromHex("#ef6c00");
}
