using Berth.Plots;

// berth-plots [--out DIR] RESULTS.tsv...: one PNG per curve (DIR/<curve id>.png) and, for a report with summary rows,
// one of its main table (DIR/<results file name>-summary.png). Prints each file it wrote.
var output = "bench/results/plots";
var inputs = new List<string>();
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--out" when i + 1 < args.Length:
            output = args[++i];
            break;
        case "-h" or "--help":
            Console.Error.WriteLine("usage: berth-plots [--out DIR] RESULTS.tsv...   (default DIR: bench/results/plots)");
            return 2;
        default:
            inputs.Add(args[i]);
            break;
    }
}

if (inputs.Count == 0)
{
    Console.Error.WriteLine("berth-plots: no results file given (usage: berth-plots [--out DIR] RESULTS.tsv...)");
    return 2;
}

try
{
    Directory.CreateDirectory(output);
    foreach (var input in inputs)
    {
        var results = ResultsFile.Read(input);
        foreach (var curve in results.Curves)
        {
            var file = Path.Combine(output, curve.Id + ".png");
            Charts.DrawCurve(curve, file);
            Console.WriteLine(file);
        }

        if (results.Summary.Any(r => r.Advantage is not null))
        {
            var name = Path.GetFileNameWithoutExtension(input);
            var title = "Berth vs Distribution" + (results.Meta.TryGetValue("title", out var t) ? ": " + t : "")
                + (results.Meta.TryGetValue("date", out var date) ? $" ({date[..Math.Min(10, date.Length)]})" : "");
            var file = Path.Combine(output, name + "-summary.png");
            Charts.DrawSummary(title, results.Summary, file);
            Console.WriteLine(file);
        }
    }

    return 0;
}
catch (Exception ex) when (ex is FormatException or IOException)
{
    Console.Error.WriteLine($"berth-plots: {ex.Message}");
    return 1;
}
