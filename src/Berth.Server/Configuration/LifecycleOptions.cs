using Berth.Auth;
using Berth.Core;
using Berth.Storage.Lifecycle;

namespace Berth.Server.Configuration;

/// <summary>
/// <c>retention</c> (a Berth extension): which tags and manifests to remove, run before each online garbage collection
/// (<c>storage.maintenance.garbagecollection</c>) and on demand by <c>berth retention</c>.
/// </summary>
/// <example>
/// <code>
/// retention:
///   enabled: true
///   rules:
///     - repositories: ["team/**"]
///       keep:
///         latest: 10
///         pushedwithin: 720h
///         pulledwithin: 720h
///         tags: ["v*", "release-*"]
///       untagged: 168h
/// </code>
/// </example>
public sealed record RetentionOptions
{
    /// <summary>The pull-time flush interval unless configured.</summary>
    public static readonly TimeSpan DefaultFlushInterval = TimeSpan.FromMinutes(1);

    /// <summary><c>retention.enabled</c>: run the rules before every online garbage collection (default false).</summary>
    public bool Enabled { get; init; }

    /// <summary><c>retention.dryrun</c>: scheduled runs log what they would delete and delete nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary><c>retention.graceperiod</c> (default 1h): tags and manifests written more recently are never removed.</summary>
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromHours(1);

    /// <summary><c>retention.rules</c>, in order; the first rule matching a repository governs it.</summary>
    public IReadOnlyList<RetentionRule> Rules { get; init; } = [];

    /// <summary><c>retention.pulltimes.flushinterval</c> (default 1m): how often recorded pulls are written to storage.</summary>
    public TimeSpan PullTimesFlushInterval { get; init; } = DefaultFlushInterval;

    /// <summary><c>retention.pulltimes.replica</c>: this replica's name for its pull-time object (default: the host name).</summary>
    public string PullTimesReplica { get; init; } = Environment.MachineName;

    /// <summary>True when a rule keeps tags by <c>keep.pulledwithin</c>: only then are pulls recorded.</summary>
    public bool ReadsPullTimes => Rules.Any(rule => rule.KeepPulledWithin is not null);

    /// <summary>The policy a run applies.</summary>
    public RetentionPolicy ToPolicy(ImmutableTagPolicy immutableTags) => new(Rules, immutableTags, GracePeriod);

    internal static RetentionOptions Read(SectionReader section)
    {
        var defaults = new RetentionOptions();
        var graceValue = section["graceperiod"];
        var grace = graceValue.AsDuration(defaults.GracePeriod);
        if (grace < TimeSpan.Zero)
        {
            throw graceValue.Invalid("must not be negative");
        }

        var rulesValue = section["rules"];
        var index = 0;
        var rules = rulesValue.AsList(item => item.AsSection(rule => ReadRule(rule, ++index)));
        var (flushInterval, replica) = section["pulltimes"].AsSection(pullTimes =>
        {
            var intervalValue = pullTimes["flushinterval"];
            var interval = intervalValue.AsDuration(DefaultFlushInterval);
            if (interval <= TimeSpan.Zero)
            {
                throw intervalValue.Invalid("must be greater than zero");
            }

            var replicaValue = pullTimes["replica"];
            var name = replicaValue.AsString();
            if (name is not null && (name.Length is 0 or > 128 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')) || name.StartsWith('.')))
            {
                throw replicaValue.Invalid("must be 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'");
            }

            return (interval, name ?? defaults.PullTimesReplica);
        });

        return new RetentionOptions
        {
            Enabled = section["enabled"].AsBool(defaults.Enabled),
            DryRun = section["dryrun"].AsBool(defaults.DryRun),
            GracePeriod = grace,
            Rules = rules,
            PullTimesFlushInterval = flushInterval,
            PullTimesReplica = replica,
        };
    }

    private static RetentionRule ReadRule(SectionReader section, int index)
    {
        var repositoriesValue = section["repositories"];
        var repositories = LifecycleConfiguration.ReadRepositories(repositoriesValue);
        var keep = section["keep"];
        var (latest, pushedWithin, pulledWithin, tags) = keep.AsSection(clauses =>
        {
            var latestValue = clauses["latest"];
            int? latest = latestValue.IsSet ? latestValue.AsInt32(0, minimum: 1, maximum: 1_000_000) : null;
            return (latest, Positive(clauses["pushedwithin"]), Positive(clauses["pulledwithin"]),
                clauses["tags"].AsList(LifecycleConfiguration.ReadTagPattern, allowSingleValue: true));
        });

        var untagged = Positive(section["untagged"]);
        var rule = new RetentionRule(index, repositories, latest, pushedWithin, pulledWithin, tags, untagged);
        if (!rule.RemovesTags && rule.UntaggedAfter is null)
        {
            throw section.Invalid("the rule does nothing: give keep clauses (keep.latest, keep.pushedwithin, keep.pulledwithin, keep.tags) or untagged");
        }

        return rule;
    }

    private static TimeSpan? Positive(ConfigValue value)
    {
        var duration = value.AsOptionalDuration();
        return duration is { } d && d <= TimeSpan.Zero ? throw value.Invalid("must be greater than zero, e.g. 720h") : duration;
    }
}

/// <summary>
/// <c>immutabletags</c> (a Berth extension): a list of <c>{repositories: [...], tags: [...]}</c>; a tag a rule covers
/// cannot be moved to another manifest or deleted once it exists.
/// </summary>
internal static class LifecycleConfiguration
{
    internal static ImmutableTagPolicy ReadImmutableTags(ConfigValue value)
    {
        var index = 0;
        var rules = value.AsList(item => item.AsSection(section =>
        {
            var repositories = ReadRepositories(section["repositories"]);
            var tagsValue = section["tags"];
            var tags = tagsValue.AsList(ReadTagPattern, allowSingleValue: true);
            if (tags.Count == 0)
            {
                throw tagsValue.Invalid("required: the tag patterns that are immutable, e.g. [\"v*\"]");
            }

            return new ImmutableTagRule(++index, repositories, tags);
        }));
        return rules.Count == 0 ? ImmutableTagPolicy.None : new ImmutableTagPolicy(rules);
    }

    internal static RepositorySelector ReadRepositories(ConfigValue value)
    {
        var patterns = value.AsList(item =>
        {
            var text = item.AsRequiredString("a repository pattern must not be empty");
            return RepositoryPattern.TryParse(text, out var pattern, out var error) ? pattern : throw item.Invalid(error);
        }, allowSingleValue: true);
        if (patterns.Count == 0)
        {
            throw value.Invalid("required: the repository patterns the rule applies to, e.g. [\"team/**\"]");
        }

        return new RepositorySelector([.. patterns.Select(p => p.Text)], name => patterns.Any(p => p.Matches(name)));
    }

    internal static TagPattern ReadTagPattern(ConfigValue item)
    {
        var text = item.AsRequiredString("a tag pattern must not be empty");
        return TagPattern.TryParse(text, out var pattern, out var error) ? pattern : throw item.Invalid(error);
    }
}
