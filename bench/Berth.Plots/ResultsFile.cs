using System.Globalization;

namespace Berth.Plots;

/// <summary>One curve a bench measured: its axes and, per series (Berth, Distribution, a ceiling), its points.</summary>
internal sealed record Curve(string Id, string Title, string XLabel, string YLabel, bool LogX, bool LogY)
{
    public Dictionary<string, List<(double X, double Y)>> Series { get; } = new(StringComparer.Ordinal);

    /// <summary>The growth class a bench gave each series (flat, log, linear, superlinear), shown in the legend.</summary>
    public Dictionary<string, string> Growth { get; } = new(StringComparer.Ordinal);
}

/// <summary>One line of a report's main table: both servers' medians and the ceiling measured in the same run.</summary>
internal sealed record SummaryRow(string Key, string Label, string Unit, bool HigherBetter, double? Berth, double? Distribution, double? Ceiling)
{
    /// <summary>How many times better Berth is than Distribution for this figure (below 1: worse).</summary>
    public double? Advantage => Berth is { } b && Distribution is { } d && b > 0 && d > 0 ? (HigherBetter ? b / d : d / b) : null;
}

/// <summary>
/// A bench's tab-separated results. Rows read here: <c>meta KEY VALUE</c>,
/// <c>curve ID TITLE XLABEL YLABEL XSCALE YSCALE</c>, <c>point ID SERIES X Y</c>, <c>growth ID SERIES CLASS TEXT</c>
/// and <c>summary KEY LABEL UNIT higher|lower BERTH DISTRIBUTION CEILING</c>; any other row is a bench's own raw figure.
/// </summary>
internal sealed class ResultsFile
{
    private ResultsFile(string path) => Path = path;

    public string Path { get; }

    public Dictionary<string, string> Meta { get; } = new(StringComparer.Ordinal);

    public List<Curve> Curves { get; } = [];

    public List<SummaryRow> Summary { get; } = [];

    public static ResultsFile Read(string path)
    {
        var file = new ResultsFile(path);
        var curves = new Dictionary<string, Curve>(StringComparer.Ordinal);
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            var f = line.Split('\t');
            switch (f[0])
            {
                case "meta" when f.Length >= 3:
                    file.Meta[f[1]] = string.Join('\t', f.Skip(2));
                    break;
                case "curve" when f.Length >= 7:
                    var curve = new Curve(f[1], f[2], f[3], f[4], IsLog(f[5], path, lineNumber), IsLog(f[6], path, lineNumber));
                    if (!curves.TryAdd(curve.Id, curve))
                    {
                        throw new FormatException($"{path}:{lineNumber}: curve {curve.Id} is declared twice");
                    }

                    file.Curves.Add(curve);
                    break;
                case "point" when f.Length >= 5:
                    var owner = Find(curves, f[1], path, lineNumber);
                    if (!owner.Series.TryGetValue(f[2], out var points))
                    {
                        owner.Series[f[2]] = points = [];
                    }

                    points.Add((Number(f[3], path, lineNumber), Number(f[4], path, lineNumber)));
                    break;
                case "growth" when f.Length >= 4:
                    Find(curves, f[1], path, lineNumber).Growth[f[2]] = f[3];
                    break;
                case "summary" when f.Length >= 8:
                    file.Summary.Add(new SummaryRow(f[1], f[2].Trim(), f[3], f[4] == "higher",
                        OptionalNumber(f[5], path, lineNumber), OptionalNumber(f[6], path, lineNumber), OptionalNumber(f[7], path, lineNumber)));
                    break;
                case "curve" or "point" or "growth" or "summary":
                    throw new FormatException($"{path}:{lineNumber}: a {f[0]} row needs more fields than {f.Length}");
                default:
                    break;   // a bench's raw figures, read by its report, not drawn
            }
        }

        return file;
    }

    private static Curve Find(Dictionary<string, Curve> curves, string id, string path, int lineNumber) =>
        curves.TryGetValue(id, out var curve) ? curve : throw new FormatException($"{path}:{lineNumber}: no curve row declares {id} before its points");

    private static bool IsLog(string scale, string path, int lineNumber) => scale switch
    {
        "log" => true,
        "linear" => false,
        _ => throw new FormatException($"{path}:{lineNumber}: scale must be log or linear, not '{scale}'"),
    };

    private static double Number(string text, string path, int lineNumber) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"{path}:{lineNumber}: '{text}' is not a number");

    private static double? OptionalNumber(string text, string path, int lineNumber) =>
        text.Length == 0 ? null : Number(text, path, lineNumber);
}
