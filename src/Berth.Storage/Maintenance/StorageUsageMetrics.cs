using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Berth.Storage.Maintenance;

/// <summary>
/// Storage use and quotas as gauges (meters <c>Berth.Usage</c> and <c>Berth.Quota</c>; in Prometheus
/// <c>berth_usage_*</c> and <c>berth_quota_*</c>).
/// </summary>
/// <remarks>
/// A collection reads the latest report and never waits for a walk; a report older than its maximum age starts one in
/// the background, so the first scrapes after start may have no usage series yet. Registry totals are always exported;
/// per-repository series only for the <see cref="StorageUsageSettings.MetricsRepositories"/> largest repositories (and
/// quota series for as many repositories, fullest first), so a registry of 100,000 repositories does not become 100,000
/// series per gauge. The operator sees the rest through the usage endpoint.
/// </remarks>
public sealed class StorageUsageMetrics : IDisposable
{
    public const string UsageMeterName = "Berth.Usage";
    public const string QuotaMeterName = "Berth.Quota";

    private readonly StorageUsageService _usage;
    private readonly RepositoryQuotas? _quotas;
    private readonly int _perRepository;
    private readonly TimeProvider _time;
    private readonly Meter _usageMeter = new(UsageMeterName);
    private readonly Meter _quotaMeter = new(QuotaMeterName);
    private readonly Lock _gate = new();
    private StorageUsageReport? _rankedFrom;
    private RepositoryUsage[] _largest = [];

    public StorageUsageMetrics(StorageUsageService usage, StorageUsageSettings? settings = null, RepositoryQuotas? quotas = null, TimeProvider? time = null)
    {
        _usage = usage;
        _quotas = quotas;
        _perRepository = settings?.MetricsRepositories ?? StorageUsageSettings.DefaultMetricsRepositories;
        _time = time ?? TimeProvider.System;
        _usageMeter.CreateObservableGauge("bytes", () => Total(report => report.UniqueBytes), unit: "By",
            description: "Bytes of every blob repositories link, each blob counted once for the registry");
        _usageMeter.CreateObservableGauge("blobs", () => Total(report => report.UniqueBlobs),
            description: "Distinct blobs repositories link");
        _usageMeter.CreateObservableGauge("repositories", () => Total(report => report.Repositories.Count),
            description: "Repositories in storage");
        _usageMeter.CreateObservableGauge("counted.bytes", () => Total(report => report.RepositoryBytes), unit: "By",
            description: "The sum of every repository's bytes (a blob shared by repositories counted in each)");
        _usageMeter.CreateObservableGauge("age.seconds", () => Total(report => (_time.GetUtcNow() - report.TakenAt).TotalSeconds), unit: "s",
            description: "How old the figures are (seconds since the walk that measured them started)");
        _usageMeter.CreateObservableGauge("repository.bytes", () => PerRepository(repository => repository.Bytes), unit: "By",
            description: "Bytes of the blobs a repository links, shared ones included (largest repositories only)");
        _usageMeter.CreateObservableGauge("repository.exclusive.bytes", () => PerRepository(repository => repository.ExclusiveBytes), unit: "By",
            description: "Bytes only this repository links: what deleting it would free (largest repositories only)");
        if (quotas is not null)
        {
            _quotaMeter.CreateObservableGauge("limit.bytes", () => Quotas(status => status.Rule.LimitBytes), unit: "By",
                description: "The quota of a repository (repositories checked since start, fullest first)");
            _quotaMeter.CreateObservableGauge("used.bytes", () => Quotas(status => status.UsedBytes), unit: "By",
                description: "Bytes counted against a repository's quota (repositories checked since start, fullest first)");
        }
    }

    public void Dispose()
    {
        _usageMeter.Dispose();
        _quotaMeter.Dispose();
    }

    private IEnumerable<Measurement<double>> Total(Func<StorageUsageReport, double> value)
    {
        var report = Current();
        return report is null ? [] : [new Measurement<double>(value(report))];
    }

    private IEnumerable<Measurement<long>> PerRepository(Func<RepositoryUsage, long> value)
    {
        if (Current() is not { } report)
        {
            return [];
        }

        RepositoryUsage[] largest;
        lock (_gate)
        {
            if (!ReferenceEquals(_rankedFrom, report))
            {
                _largest = [.. report.Repositories.OrderByDescending(repository => repository.Bytes)
                    .ThenBy(repository => repository.Name.Value, StringComparer.Ordinal).Take(_perRepository)];
                _rankedFrom = report;
            }

            largest = _largest;
        }

        return largest.Select(repository => new Measurement<long>(value(repository), new TagList { { "repository", repository.Name.Value } }));
    }

    private IEnumerable<Measurement<long>> Quotas(Func<QuotaStatus, long> value) =>
        _quotas is null
            ? []
            : _quotas.KnownStatuses()
                .OrderByDescending(known => (double)known.Status.UsedBytes / known.Status.Rule.LimitBytes)
                .ThenBy(known => known.Name.Value, StringComparer.Ordinal)
                .Take(_perRepository)
                .Select(known => new Measurement<long>(value(known.Status),
                    new TagList { { "repository", known.Name.Value }, { "rule", known.Status.Rule.Key } }));

    /// <summary>The latest report; a stale one starts a walk in the background (a collection never waits for it).</summary>
    private StorageUsageReport? Current()
    {
        var latest = _usage.Latest;
        if (latest is null || _time.GetUtcNow() - latest.TakenAt >= _usage.FreshFor)
        {
            _ = _usage.GetAsync(TimeSpan.Zero, CancellationToken.None);
        }

        return latest;
    }
}
