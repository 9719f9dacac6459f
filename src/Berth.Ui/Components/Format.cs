using System.Globalization;

namespace Berth.Ui.Components;

/// <summary>How sizes and times read on the pages.</summary>
public static class Format
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

    public static string Bytes(long? bytes)
    {
        if (bytes is not { } value)
        {
            return "–";
        }

        double size = value;
        var unit = 0;
        while (size >= 1024 && unit < Units.Length - 1)
        {
            size /= 1024;
            unit++;
        }

        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{value} B")
            : string.Create(CultureInfo.InvariantCulture, $"{size:0.#} {Units[unit]}");
    }

    /// <summary>An absolute UTC time, for the <c>title</c> and <c>datetime</c> of a time element.</summary>
    public static string Iso(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string Time(DateTimeOffset? time) =>
        time is { } value ? value.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture) : "–";

    /// <summary>"3 minutes ago"; the page shows it beside the absolute time.</summary>
    public static string Ago(DateTimeOffset? time, DateTimeOffset now)
    {
        if (time is not { } value)
        {
            return "";
        }

        var age = now - value;
        return age.TotalSeconds switch
        {
            < 0 => "just now",
            < 90 => "just now",
            < 5400 => Plural((int)Math.Round(age.TotalMinutes), "minute"),
            < 129600 => Plural((int)Math.Round(age.TotalHours), "hour"),
            < 86400 * 60 => Plural((int)Math.Round(age.TotalDays), "day"),
            < 86400 * 730 => Plural((int)Math.Round(age.TotalDays / 30.4), "month"),
            _ => Plural((int)Math.Round(age.TotalDays / 365.25), "year"),
        };
    }

    /// <summary>"1 tag", "5,000 tags", "2 repositories".</summary>
    public static string Count(int count, string noun) =>
        string.Create(CultureInfo.InvariantCulture, $"{count:N0} {(count == 1 ? noun : PluralOf(noun))}");

    /// <summary>The first 12 hex digits of a digest, as <c>docker images</c> shows ids.</summary>
    public static string ShortDigest(Berth.Core.Digest digest) => digest.Encoded.Length > 12 ? digest.Encoded[..12] : digest.Encoded;

    private static string Plural(int count, string noun, string suffix = " ago") =>
        string.Create(CultureInfo.InvariantCulture, $"{count} {(count == 1 ? noun : PluralOf(noun))}{suffix}");

    /// <summary>"tags", "days", "repositories".</summary>
    private static string PluralOf(string noun) =>
        noun.Length > 1 && noun[^1] == 'y' && "aeiou".IndexOf(noun[^2], StringComparison.Ordinal) < 0 ? noun[..^1] + "ies" : noun + "s";
}
