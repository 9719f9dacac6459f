using System.Globalization;
using Berth.Auth;
using Berth.Core;
using Berth.Storage.Maintenance;

namespace Berth.Server.Configuration;

/// <summary>
/// One item of <c>quotas</c> (a Berth extension): the most each repository its patterns match may use.
/// </summary>
/// <example>
/// <code>
/// quotas:
///   - repositories: ["team/**"]
///     limit: 10GiB
///   - repositories: ["**"]
///     limit: 2GiB
/// </code>
/// </example>
public sealed record QuotaRuleOptions
{
    /// <summary>Where the rule was configured (<c>quotas.0</c>), which refusals and metrics name.</summary>
    public required string Key { get; init; }

    /// <summary><c>quotas[].repositories</c>: patterns as in <c>access.rules</c> (<c>*</c>, <c>**</c>, <c>?</c>).</summary>
    public required IReadOnlyList<RepositoryPattern> Repositories { get; init; }

    /// <summary><c>quotas[].limit</c>: bytes, from a size such as <c>500MB</c>, <c>10GiB</c> or <c>1048576</c>.</summary>
    public required long LimitBytes { get; init; }

    /// <summary>The rule the storage layer enforces.</summary>
    public QuotaRule ToRule()
    {
        var patterns = Repositories;
        return new QuotaRule(Key, [.. patterns.Select(pattern => pattern.Text)], LimitBytes,
            name => patterns.Any(pattern => pattern.Matches(name.Value)));
    }

    internal static IReadOnlyList<QuotaRuleOptions> ReadList(ConfigValue value) =>
        value.AsList(item => item.AsSection(section => Read(section, item.Key)));

    private static QuotaRuleOptions Read(SectionReader section, string key)
    {
        var repositoriesValue = section["repositories"];
        var repositories = repositoriesValue.AsList(ReadPattern, allowSingleValue: true);
        if (repositories.Count == 0)
        {
            throw repositoriesValue.Invalid("required: the repository patterns the quota applies to, e.g. [\"team/**\"]");
        }

        var limitValue = section["limit"];
        var limitText = limitValue.AsString() ?? throw limitValue.Invalid("required: the most one repository may use, e.g. 10GiB or 500MB");
        if (!ByteSizes.TryParse(limitText, out var limit, out var problem))
        {
            throw limitValue.Invalid(problem);
        }

        return new QuotaRuleOptions { Key = key, Repositories = repositories, LimitBytes = limit };
    }

    private static RepositoryPattern ReadPattern(ConfigValue value)
    {
        var text = value.AsRequiredString("a repository pattern must not be empty");
        return RepositoryPattern.TryParse(text, out var pattern, out var error) ? pattern : throw value.Invalid(error);
    }
}

/// <summary><c>usage</c> (a Berth extension): how the storage-use figures are kept and exported.</summary>
/// <example>
/// <code>
/// usage:
///   maxage: 10m
///   metrics:
///     repositories: 50
/// </code>
/// </example>
public sealed record UsageOptions
{
    /// <summary>The longest <see cref="MaxAge"/> may be; a day-old figure is not a measurement any more.</summary>
    public static readonly TimeSpan LongestMaxAge = TimeSpan.FromHours(24);

    /// <summary>The most per-repository series one gauge may have.</summary>
    public const int MostMetricsRepositories = 10_000;

    /// <summary><c>usage.maxage</c>: how old the figures may be before a reader starts a new walk (default 5m on a local filesystem, 30m on object storage).</summary>
    public TimeSpan? MaxAge { get; init; }

    /// <summary><c>usage.metrics.repositories</c> (default 100): per-repository gauges for this many of the largest repositories; 0 exports only totals.</summary>
    public int MetricsRepositories { get; init; } = StorageUsageSettings.DefaultMetricsRepositories;

    /// <summary>The settings the storage layer uses.</summary>
    public StorageUsageSettings ToSettings() => new(MaxAge, MetricsRepositories);

    internal static UsageOptions Read(SectionReader section)
    {
        var maxAgeValue = section["maxage"];
        var maxAge = maxAgeValue.AsOptionalDuration();
        if (maxAge is { } age && (age < TimeSpan.FromSeconds(1) || age > LongestMaxAge))
        {
            throw maxAgeValue.Invalid("must be at least 1s and at most 24h");
        }

        var repositories = section["metrics"].AsSection(metrics =>
            metrics["repositories"].AsInt32(StorageUsageSettings.DefaultMetricsRepositories, 0, MostMetricsRepositories));
        return new UsageOptions { MaxAge = maxAge, MetricsRepositories = repositories };
    }
}

/// <summary>Sizes as operators write them: <c>1048576</c>, <c>512KB</c>, <c>1.5GiB</c>, <c>10 GB</c>.</summary>
public static class ByteSizes
{
    private static readonly (string Suffix, long Factor)[] Units =
    [
        ("kib", 1L << 10), ("mib", 1L << 20), ("gib", 1L << 30), ("tib", 1L << 40), ("pib", 1L << 50),
        ("ki", 1L << 10), ("mi", 1L << 20), ("gi", 1L << 30), ("ti", 1L << 40), ("pi", 1L << 50),
        ("kb", 1_000L), ("mb", 1_000_000L), ("gb", 1_000_000_000L), ("tb", 1_000_000_000_000L), ("pb", 1_000_000_000_000_000L),
        ("k", 1_000L), ("m", 1_000_000L), ("g", 1_000_000_000L), ("t", 1_000_000_000_000L), ("p", 1_000_000_000_000_000L),
        ("b", 1L),
    ];

    /// <summary>
    /// Parses a positive size: a whole number of bytes, or a number with a unit; <c>KiB</c>, <c>MiB</c>, <c>GiB</c>,
    /// <c>TiB</c> (and <c>Ki</c>, <c>Mi</c>... as in Kubernetes) are powers of 1024, <c>KB</c>, <c>MB</c>, <c>GB</c>, <c>TB</c>
    /// (and <c>K</c>, <c>M</c>...) powers of 1000; units are case-insensitive.
    /// </summary>
    public static bool TryParse(string text, out long bytes, out string problem)
    {
        ArgumentNullException.ThrowIfNull(text);
        bytes = 0;
        var trimmed = text.Trim();
        var lower = trimmed.ToLowerInvariant();
        long factor = 1;
        var number = lower;
        foreach (var (suffix, unitFactor) in Units)
        {
            if (lower.EndsWith(suffix, StringComparison.Ordinal))
            {
                factor = unitFactor;
                number = lower[..^suffix.Length].TrimEnd();
                break;
            }
        }

        if (number.Length == 0 || !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
        {
            problem = $"expected a size such as '10GiB', '500MB' or a number of bytes, got '{text}'";
            return false;
        }

        var total = value > long.MaxValue / (decimal)factor ? decimal.MaxValue : value * factor;
        if (total < 1 || total > long.MaxValue)
        {
            problem = $"must be at least 1 byte and at most {long.MaxValue} bytes, got '{text}'";
            return false;
        }

        bytes = (long)decimal.Floor(total);
        problem = "";
        return true;
    }
}
