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

    /// <summary><c>usage.metrics</c>.</summary>
    public UsageMetricsOptions Metrics { get; init; } = new();

    /// <summary>The settings the storage layer uses.</summary>
    public StorageUsageSettings ToSettings() => new(MaxAge, Metrics.Repositories);

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
        return new UsageOptions { MaxAge = maxAge, Metrics = new UsageMetricsOptions { Repositories = repositories } };
    }
}

/// <summary><c>usage.metrics</c>: the storage-use series exported with the Prometheus metrics.</summary>
public sealed record UsageMetricsOptions
{
    /// <summary><c>usage.metrics.repositories</c> (default 100): per-repository gauges for this many of the largest repositories; 0 exports only totals.</summary>
    public int Repositories { get; init; } = StorageUsageSettings.DefaultMetricsRepositories;
}
