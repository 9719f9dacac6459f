using System.Globalization;

namespace Berth.Server.Configuration;

/// <summary>
/// Parses durations written the way Go's <c>time.ParseDuration</c> accepts them (<c>10s</c>, <c>168h</c>,
/// <c>1h30m</c>, <c>1.5h</c>, <c>300ms</c>), because that is how every registry:2 configuration spells them.
/// </summary>
internal static class GoDuration
{
    // Go's own limit: a duration is an int64 count of nanoseconds.
    private const decimal MaxNanoseconds = long.MaxValue;

    private static readonly Dictionary<string, decimal> NanosecondsPerUnit = new(StringComparer.Ordinal)
    {
        ["ns"] = 1m,
        ["us"] = 1_000m,
        ["\u00b5s"] = 1_000m, // micro sign
        ["\u03bcs"] = 1_000m, // Greek small letter mu
        ["ms"] = 1_000_000m,
        ["s"] = 1_000_000_000m,
        ["m"] = 60m * 1_000_000_000m,
        ["h"] = 3_600m * 1_000_000_000m,
    };

    /// <summary>
    /// Parses <paramref name="text"/>; returns false for anything Go would reject (no unit, unknown unit,
    /// overflow). Precision below 100 ns (one tick) is dropped.
    /// </summary>
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var rest = text.AsSpan();
        var negative = false;
        if (rest.Length > 0 && (rest[0] == '-' || rest[0] == '+'))
        {
            negative = rest[0] == '-';
            rest = rest[1..];
        }

        // A bare zero is the only number Go accepts without a unit.
        if (rest is "0")
        {
            return true;
        }

        if (rest.IsEmpty)
        {
            return false;
        }

        var totalNanoseconds = 0m;
        while (!rest.IsEmpty)
        {
            var numberLength = 0;
            var digitCount = 0;
            var seenPoint = false;
            while (numberLength < rest.Length && (char.IsAsciiDigit(rest[numberLength]) || (rest[numberLength] == '.' && !seenPoint)))
            {
                if (rest[numberLength] == '.')
                {
                    seenPoint = true;
                }
                else
                {
                    digitCount++;
                }

                numberLength++;
            }

            // Longer numbers would overflow decimal; they overflow Go's int64 nanoseconds anyway.
            if (digitCount == 0 || digitCount > 25)
            {
                return false;
            }

            var number = decimal.Parse(rest[..numberLength], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
            rest = rest[numberLength..];

            var unitLength = 0;
            while (unitLength < rest.Length && rest[unitLength] != '.' && !char.IsAsciiDigit(rest[unitLength]))
            {
                unitLength++;
            }

            if (!NanosecondsPerUnit.TryGetValue(rest[..unitLength].ToString(), out var unitNanoseconds))
            {
                return false;
            }

            rest = rest[unitLength..];
            totalNanoseconds += number * unitNanoseconds;
            if (totalNanoseconds > MaxNanoseconds)
            {
                return false;
            }
        }

        var ticks = (long)decimal.Truncate(totalNanoseconds / 100m);
        value = TimeSpan.FromTicks(negative ? -ticks : ticks);
        return true;
    }
}
