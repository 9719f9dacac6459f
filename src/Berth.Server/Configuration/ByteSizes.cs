using System.Globalization;
using System.Text.RegularExpressions;

namespace Berth.Server.Configuration;

/// <summary>
/// Byte counts and byte rates as Berth's keys and flags spell them: a number with an optional unit, decimal
/// (<c>kB</c>, <c>MB</c>, <c>GB</c>, <c>TB</c>, <c>PB</c>, or <c>K</c>, <c>M</c>...) or binary (<c>KiB</c>, <c>MiB</c>,
/// <c>GiB</c>, <c>TiB</c>, <c>PiB</c>, or Kubernetes' <c>Ki</c>, <c>Mi</c>...): <c>10GiB</c>, <c>500MB</c>, <c>1.5 GiB</c>,
/// <c>1048576</c>; a rate may end in <c>/s</c>. The prefix's case does not matter, but a unit that ends in a B must end
/// in a capital one: <c>Mb</c> reads as megabits elsewhere, exactly the mistake a quota or a rate limit must not let through.
/// </summary>
public static partial class ByteSizes
{
    private static readonly Dictionary<string, long> BytesPerUnit = new(StringComparer.OrdinalIgnoreCase)
    {
        [""] = 1,
        ["B"] = 1,
        ["kB"] = 1_000, ["MB"] = 1_000_000, ["GB"] = 1_000_000_000, ["TB"] = 1_000_000_000_000, ["PB"] = 1_000_000_000_000_000,
        ["K"] = 1_000, ["M"] = 1_000_000, ["G"] = 1_000_000_000, ["T"] = 1_000_000_000_000, ["P"] = 1_000_000_000_000_000,
        ["KiB"] = 1L << 10, ["MiB"] = 1L << 20, ["GiB"] = 1L << 30, ["TiB"] = 1L << 40, ["PiB"] = 1L << 50,
        ["Ki"] = 1L << 10, ["Mi"] = 1L << 20, ["Gi"] = 1L << 30, ["Ti"] = 1L << 40, ["Pi"] = 1L << 50,
    };

    /// <summary>A size of at least one byte (a quota's limit); <paramref name="problem"/> says what is wrong otherwise.</summary>
    public static bool TryParse(string text, out long bytes, out string problem)
    {
        ArgumentNullException.ThrowIfNull(text);
        bytes = 0;
        if (!TryParseQuantity(text, allowPerSecond: false, out var quantity))
        {
            problem = $"expected a size such as '10GiB', '500MB' or a number of bytes, got '{text}'";
            return false;
        }

        if (quantity < 1 || quantity > long.MaxValue)
        {
            problem = $"must be at least 1 byte and at most {long.MaxValue} bytes, got '{text}'";
            return false;
        }

        bytes = (long)decimal.Floor(quantity);
        problem = "";
        return true;
    }

    /// <summary>Bytes per second, 0 included (a rate limit's "no limit"); false for anything else.</summary>
    public static bool TryParseRate(string? text, out long bytesPerSecond)
    {
        bytesPerSecond = 0;
        if (!TryParseQuantity(text ?? "", allowPerSecond: true, out var quantity) || quantity > long.MaxValue)
        {
            return false;
        }

        bytesPerSecond = (long)Math.Round(quantity);
        return true;
    }

    private static bool TryParseQuantity(string text, bool allowPerSecond, out decimal bytes)
    {
        bytes = 0;
        var match = Grammar().Match(text);
        var unit = match.Groups["unit"].Value;
        if (!match.Success || (match.Groups["persecond"].Success && !allowPerSecond)
            || (unit.Length > 0 && unit[^1] == 'b')
            || !BytesPerUnit.TryGetValue(unit, out var multiplier)
            || !decimal.TryParse(match.Groups["number"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        // decimal holds about 7.9e28: a number beyond a long times a PiB could overflow it, and is no size anyway.
        if (number > long.MaxValue)
        {
            return false;
        }

        bytes = number * multiplier;
        return true;
    }

    [GeneratedRegex(@"^\s*(?<number>[0-9]+(\.[0-9]+)?)\s*(?<unit>[A-Za-z]*)(?<persecond>/s)?\s*\z", RegexOptions.CultureInvariant)]
    private static partial Regex Grammar();
}
