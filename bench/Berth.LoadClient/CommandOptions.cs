using System.Globalization;

namespace Berth.LoadClient;

/// <summary>A failure that invalidates a measurement (a wrong status, a short body, a timeout).</summary>
internal sealed class BenchmarkException(string message) : Exception(message);

/// <summary><c>--name value</c> pairs; a name may repeat (<c>--header</c>).</summary>
internal sealed class CommandOptions
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    public static CommandOptions Parse(ReadOnlySpan<string> args)
    {
        var options = new CommandOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new ArgumentException($"expected --option, got '{arg}'");
            }

            var name = arg[2..];
            var value = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
            if (!options._values.TryGetValue(name, out var list))
            {
                options._values[name] = list = [];
            }

            list.Add(value);
        }

        return options;
    }

    public string Get(string name, string? fallback = null) =>
        _values.TryGetValue(name, out var list) ? list[^1] : fallback ?? throw new ArgumentException($"--{name} is required");

    public IReadOnlyList<string> GetAll(string name) => _values.TryGetValue(name, out var list) ? list : [];

    public long GetLong(string name, long fallback) =>
        _values.ContainsKey(name) ? long.Parse(Get(name), NumberStyles.Integer, CultureInfo.InvariantCulture) : fallback;

    public int GetInt(string name, int fallback) => checked((int)GetLong(name, fallback));

    public double GetDouble(string name, double fallback) =>
        _values.ContainsKey(name) ? double.Parse(Get(name), NumberStyles.Float, CultureInfo.InvariantCulture) : fallback;

    public TimeSpan GetSeconds(string name, double fallback) => TimeSpan.FromSeconds(GetDouble(name, fallback));
}

/// <summary>Formatting shared by the verbs: invariant culture, key=value lines.</summary>
internal static class Output
{
    public static string F(double value, int decimals = 1) => value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    public static void Line(params (string Key, object Value)[] pairs) =>
        Console.WriteLine(string.Join(' ', pairs.Select(p => p.Key + "=" + Convert.ToString(p.Value, CultureInfo.InvariantCulture))));

    /// <summary>The value at quantile <paramref name="q"/> of an ascending array (nearest rank).</summary>
    public static double Quantile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    public static SocketsHttpHandler Handler(int connections) => new()
    {
        MaxConnectionsPerServer = connections,
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = System.Net.DecompressionMethods.None,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
    };
}
