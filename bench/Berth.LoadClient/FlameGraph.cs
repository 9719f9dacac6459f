using System.Globalization;
using System.Security;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Berth.LoadClient;

/// <summary>
/// <c>flame-graph</c>: turns a profile into a self-contained flame-graph SVG (root at the bottom, a frame's width is
/// its share of the samples, hover shows name and share) and prints the heaviest frames. Reads either the Speedscope
/// JSON that <c>dotnet-trace convert --format Speedscope</c> writes (evented or sampled profiles, all threads merged)
/// or the text of <c>perf script</c> (one stack per sample, blank-line separated), so both the managed view and the
/// kernel's view of the same load can be drawn the same way without any downloaded tool.
/// </summary>
internal static class FlameGraph
{
    private const double Width = 1200;
    private const double RowHeight = 16;
    private const double TopMargin = 40;

    public static int Run(CommandOptions options)
    {
        var input = options.Get("in");
        var output = options.Get("out");
        var title = options.Get("title", Path.GetFileNameWithoutExtension(input));
        var dropPattern = options.Get("drop", "");
        var keepPattern = options.Get("keep", "");
        var minPercent = options.GetDouble("min-percent", 0.1);
        var top = options.GetInt("top", 25);
        var drop = dropPattern.Length > 0 ? new Regex(dropPattern, RegexOptions.Compiled) : null;
        var keep = keepPattern.Length > 0 ? new Regex(keepPattern, RegexOptions.Compiled) : null;

        var root = new Node("all");
        var text = File.ReadAllText(input);
        var stacks = text.TrimStart().StartsWith('{') ? ReadSpeedscope(text) : ReadPerfScript(text);
        foreach (var (frames, weight) in stacks)
        {
            // --drop removes whole stacks (idle waits of a thread-time profile), --keep keeps only matching ones
            // (one process's samples out of a system-wide perf record).
            if (drop is not null && frames.Any(drop.IsMatch)) { continue; }
            if (keep is not null && !frames.Any(keep.IsMatch)) { continue; }
            root.Add(frames, weight);
        }
        if (root.Total <= 0) { throw new BenchmarkException($"{input}: no samples left after filtering"); }

        File.WriteAllText(output, RenderSvg(root, title, minPercent / 100));
        var inclusive = new Dictionary<string, double>();
        var exclusive = new Dictionary<string, double>();
        Summarise(root, [], inclusive, exclusive);
        Console.WriteLine($"flame-graph out={output} samples={root.Total.ToString("0.###", CultureInfo.InvariantCulture)}");
        Console.WriteLine("inclusive %\tself %\tframe");
        foreach (var (name, value) in inclusive.OrderByDescending(p => p.Value).Take(top))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{100 * value / root.Total,6:0.0}\t{100 * exclusive.GetValueOrDefault(name) / root.Total,6:0.0}\t{name}"));
        }
        Console.WriteLine("self %\tframe (heaviest leaves)");
        foreach (var (name, value) in exclusive.OrderByDescending(p => p.Value).Take(top))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{100 * value / root.Total,6:0.0}\t{name}"));
        }
        return 0;
    }

    /// <summary>Stacks root first, with their weight (time for evented profiles, sample weight for sampled ones).</summary>
    private static IEnumerable<(List<string> Frames, double Weight)> ReadSpeedscope(string json)
    {
        using var document = JsonDocument.Parse(json);
        var frameNames = document.RootElement.GetProperty("shared").GetProperty("frames").EnumerateArray()
            .Select(f => ProcessFrameWithoutArguments(f.GetProperty("name").GetString() ?? "?")).ToArray();
        var result = new List<(List<string>, double)>();
        foreach (var profile in document.RootElement.GetProperty("profiles").EnumerateArray())
        {
            if (profile.GetProperty("type").GetString() == "sampled")
            {
                var weights = profile.GetProperty("weights").EnumerateArray().Select(w => w.GetDouble()).ToArray();
                var i = 0;
                foreach (var sample in profile.GetProperty("samples").EnumerateArray())
                {
                    var frames = sample.EnumerateArray().Select(f => frameNames[f.GetInt32()]).ToList();
                    result.Add((frames, i < weights.Length ? weights[i] : 1));
                    i++;
                }
                continue;
            }

            // Evented: the time between two events belongs to the stack open at the time.
            var open = new List<string>();
            double? last = null;
            foreach (var e in profile.GetProperty("events").EnumerateArray())
            {
                var at = e.GetProperty("at").GetDouble();
                if (last is double previous && at > previous && open.Count > 0)
                {
                    result.Add((new List<string>(open), at - previous));
                }
                last = at;
                var frame = frameNames[e.GetProperty("frame").GetInt32()];
                if (e.GetProperty("type").GetString() == "O") { open.Add(frame); }
                else if (open.Count > 0) { open.RemoveAt(open.Count - 1); }
            }
        }
        return result;
    }

    /// <summary>
    /// <c>perf script</c>: a header line ("comm pid ... cycles:"), then one frame per line, leaf first
    /// ("\taddr symbol+off (dso)"), then a blank line. The command name becomes the root frame.
    /// </summary>
    private static IEnumerable<(List<string> Frames, double Weight)> ReadPerfScript(string text)
    {
        var result = new List<(List<string>, double)>();
        string? command = null;
        var leafFirst = new List<string>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.Length == 0)
            {
                if (command is not null)
                {
                    leafFirst.Reverse();
                    leafFirst.Insert(0, command);
                    result.Add((leafFirst, 1));
                }
                command = null;
                leafFirst = [];
                continue;
            }
            if (!char.IsWhiteSpace(raw[0]))
            {
                // "dotnet 1234/5678 [001] 123.456: 10101 cpu-clock:" -> the command (thread names may hold spaces).
                var match = Regex.Match(line, @"^(.+?)\s+\d+(/\d+)?\s");
                command = match.Success ? match.Groups[1].Value.Trim() : line.Split(' ')[0];
                continue;
            }
            var frame = line.Trim();
            var space = frame.IndexOf(' ');
            var symbolAndDso = space > 0 ? frame[(space + 1)..] : frame;
            // The DSO is the last parenthesised part; it may hold parentheses itself ("(/memfd:doublemapper (deleted))").
            var dsoStart = symbolAndDso.EndsWith(')') ? DsoStart(symbolAndDso) : -1;
            var symbol = dsoStart > 0 ? symbolAndDso[..dsoStart] : symbolAndDso;
            var dso = dsoStart > 0 ? symbolAndDso[(dsoStart + 2)..^1] : "";
            var plus = symbol.LastIndexOf("+0x", StringComparison.Ordinal);
            if (plus > 0) { symbol = symbol[..plus]; }
            if (symbol == "[unknown]") { symbol = $"[{Path.GetFileName(dso)}]"; }
            leafFirst.Add(symbol);
        }
        if (command is not null) { leafFirst.Reverse(); leafFirst.Insert(0, command); result.Add((leafFirst, 1)); }
        return result;
    }

    /// <summary>
    /// dotnet-trace names the root "Process64 dotnet (PID) Args: ..." with the whole command line, which holds the
    /// machine's paths; the graph needs only the process.
    /// </summary>
    private static string ProcessFrameWithoutArguments(string frame)
    {
        var arguments = frame.IndexOf(" Args:", StringComparison.Ordinal);
        return frame.StartsWith("Process", StringComparison.Ordinal) && arguments > 0 ? frame[..arguments] : frame;
    }

    /// <summary>Where the trailing " (dso)" of a perf frame starts, matching its parentheses from the end.</summary>
    private static int DsoStart(string frame)
    {
        var depth = 0;
        for (var i = frame.Length - 1; i > 0; i--)
        {
            if (frame[i] == ')') { depth++; }
            else if (frame[i] == '(' && --depth == 0) { return frame[i - 1] == ' ' ? i - 1 : -1; }
        }
        return -1;
    }

    private static void Summarise(Node node, List<string> path, Dictionary<string, double> inclusive, Dictionary<string, double> exclusive)
    {
        foreach (var child in node.Children.Values)
        {
            // A recursive frame counts once per stack in the inclusive figure.
            if (!path.Contains(child.Name)) { inclusive[child.Name] = inclusive.GetValueOrDefault(child.Name) + child.Total; }
            exclusive[child.Name] = exclusive.GetValueOrDefault(child.Name) + child.Self;
            path.Add(child.Name);
            Summarise(child, path, inclusive, exclusive);
            path.RemoveAt(path.Count - 1);
        }
    }

    private static string RenderSvg(Node root, string title, double minFraction)
    {
        var depth = root.Depth(minFraction * root.Total);
        var height = TopMargin + (depth + 1) * RowHeight + 10;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture,
            $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{height:0}" viewBox="0 0 {Width} {height:0}" font-family="monospace" font-size="11">""");
        svg.Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<rect width="100%" height="100%" fill="#fdfdf6"/><text x="{Width / 2}" y="20" text-anchor="middle" font-size="15">{Escape(title)}</text>""");
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="10" y="34" font-size="10" fill="#555">width = share of samples; hover a frame for its share; frames under {minFraction * 100:0.##} % left out</text>""");
        svg.Append('\n');
        Draw(svg, root, 0, Width, height - 10 - RowHeight, root.Total, minFraction * root.Total);
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static void Draw(StringBuilder svg, Node node, double x, double width, double y, double total, double minimum)
    {
        var share = 100 * node.Total / total;
        var label = $"{node.Name} ({share.ToString("0.00", CultureInfo.InvariantCulture)} %)";
        var hash = (uint)StableHash(node.Name);
        // The classic warm palette: red to yellow, a frame keeps its colour wherever it appears.
        var colour = $"rgb({205 + hash % 50},{(hash >> 8) % 180 + 40},{(hash >> 16) % 55})";
        svg.Append(CultureInfo.InvariantCulture,
            $"""<g><title>{Escape(label)}</title><rect x="{x:0.##}" y="{y:0.##}" width="{Math.Max(width - 0.5, 0.1):0.##}" height="{RowHeight - 1}" fill="{colour}" rx="2"/>""");
        var fits = (int)((width - 6) / 6.6);
        if (fits >= 3)
        {
            var shown = label.Length <= fits ? label : label[..(fits - 2)] + "..";
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{x + 3:0.##}" y="{y + RowHeight - 4:0.##}">{Escape(shown)}</text>""");
        }
        svg.Append("</g>\n");
        var childX = x;
        foreach (var child in node.Children.Values.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            var childWidth = width * child.Total / node.Total;
            if (child.Total >= minimum) { Draw(svg, child, childX, childWidth, y - RowHeight, total, minimum); }
            childX += childWidth;
        }
    }

    private static int StableHash(string text)
    {
        var hash = 17;
        foreach (var c in text) { hash = unchecked(hash * 31 + c); }
        return hash;
    }

    private static string Escape(string text) => SecurityElement.Escape(text) ?? "";

    private sealed class Node(string name)
    {
        public string Name { get; } = name;
        public double Total { get; private set; }
        public double Self { get; private set; }
        public Dictionary<string, Node> Children { get; } = new(StringComparer.Ordinal);

        public void Add(List<string> frames, double weight)
        {
            var node = this;
            node.Total += weight;
            foreach (var frame in frames)
            {
                if (!node.Children.TryGetValue(frame, out var child)) { node.Children[frame] = child = new Node(frame); }
                child.Total += weight;
                node = child;
            }
            node.Self += weight;
        }

        public int Depth(double minimum) =>
            Children.Values.Where(c => c.Total >= minimum).Select(c => 1 + c.Depth(minimum)).DefaultIfEmpty(0).Max();
    }
}
