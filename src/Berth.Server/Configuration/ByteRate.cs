using System.Globalization;
using System.Text.RegularExpressions;

namespace Berth.Server.Configuration;

/// <summary>
/// Parses a byte rate as Berth's keys and flags spell it: a number of bytes with an optional unit,
/// decimal (<c>kB</c>, <c>MB</c>, <c>GB</c>) or binary (<c>KiB</c>, <c>MiB</c>, <c>GiB</c>), and an optional
/// <c>/s</c>: <c>50MiB</c>, <c>200MB/s</c>, <c>1048576</c>. The prefix's case does not matter, but the unit must
/// end in a capital <c>B</c>: <c>Mb</c> reads as megabits elsewhere, exactly the mistake a rate limit must not let through.
/// </summary>
internal static partial class ByteRate
{
    private static readonly Dictionary<string, long> BytesPerUnit = new(StringComparer.OrdinalIgnoreCase)
    {
        [""] = 1,
        ["B"] = 1,
        ["kB"] = 1_000,
        ["MB"] = 1_000_000,
        ["GB"] = 1_000_000_000,
        ["KiB"] = 1L << 10,
        ["MiB"] = 1L << 20,
        ["GiB"] = 1L << 30,
    };

    /// <summary>Bytes per second; false for anything else (negative, unknown unit, overflow).</summary>
    public static bool TryParse(string? text, out long bytesPerSecond)
    {
        bytesPerSecond = 0;
        var match = Grammar().Match(text ?? "");
        var unit = match.Groups["unit"].Value;
        if (!match.Success || (unit.Length > 0 && unit[^1] != 'B')
            || !BytesPerUnit.TryGetValue(unit, out var multiplier)
            || !decimal.TryParse(match.Groups["number"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        // decimal holds about 7.9e28, so the product of a long-sized number and a GiB cannot overflow it; larger numbers can.
        if (number > long.MaxValue)
        {
            return false;
        }

        var bytes = number * multiplier;
        if (bytes > long.MaxValue)
        {
            return false;
        }

        bytesPerSecond = (long)Math.Round(bytes);
        return true;
    }

    [GeneratedRegex(@"^\s*(?<number>[0-9]+(\.[0-9]+)?)\s*(?<unit>[A-Za-z]*)(/s)?\s*\z", RegexOptions.CultureInvariant)]
    private static partial Regex Grammar();
}
