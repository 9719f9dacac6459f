using Berth.Core;

namespace Berth.Storage.Lifecycle;

/// <summary>
/// The repositories a rule applies to: the patterns as written (for messages) and the test they make. The patterns
/// are <c>access:</c> rule globs, parsed by the configuration (the storage layer does not depend on the auth layer).
/// </summary>
public sealed record RepositorySelector(IReadOnlyList<string> Patterns, Func<string, bool> Matches)
{
    /// <summary>The patterns as one readable list, <c>team/**, apps/*</c>.</summary>
    public override string ToString() => string.Join(", ", Patterns);
}

/// <summary>One <c>immutabletags</c> entry: tags matching <see cref="Tags"/> in the selected repositories never move or go.</summary>
/// <param name="Index">Position in the configured list, from 1, as messages name it.</param>
public sealed record ImmutableTagRule(int Index, RepositorySelector Repositories, IReadOnlyList<TagPattern> Tags)
{
    public bool Covers(RepositoryName repository, string tag) =>
        Repositories.Matches(repository.Value) && Tags.Any(pattern => pattern.Matches(tag));

    /// <summary>How a refusal names the rule: <c>immutabletags[1] (repositories: prod/**; tags: v*)</c>.</summary>
    public string Describe() => $"immutabletags[{Index}] (repositories: {Repositories}; tags: {string.Join(", ", Tags.Select(t => t.Text))})";
}

/// <summary>All <c>immutabletags</c> rules; a tag is immutable when any rule covers it.</summary>
public sealed class ImmutableTagPolicy(IReadOnlyList<ImmutableTagRule> rules)
{
    public static readonly ImmutableTagPolicy None = new([]);

    public IReadOnlyList<ImmutableTagRule> Rules { get; } = rules;

    public bool IsEmpty => Rules.Count == 0;

    /// <summary>The first rule that makes <paramref name="tag"/> of <paramref name="repository"/> immutable, or null.</summary>
    public ImmutableTagRule? RuleFor(RepositoryName repository, string tag)
    {
        foreach (var rule in Rules)
        {
            if (rule.Covers(repository, tag))
            {
                return rule;
            }
        }

        return null;
    }
}

/// <summary>
/// One <c>retention.rules</c> entry. A tag of a selected repository survives when any keep clause keeps it; a rule with
/// no keep clause removes no tag (it may still remove untagged manifests). Immutable tags are always kept.
/// </summary>
/// <param name="Index">Position in the configured list, from 1.</param>
/// <param name="Repositories">The repositories the rule applies to (the first matching rule decides).</param>
/// <param name="KeepLatest"><c>keep.latest</c>: the N most recently pushed tags.</param>
/// <param name="KeepPushedWithin"><c>keep.pushedwithin</c>: tags pushed (created or moved) at most this long ago.</param>
/// <param name="KeepPulledWithin"><c>keep.pulledwithin</c>: tags whose image was pulled at most this long ago.</param>
/// <param name="KeepTags"><c>keep.tags</c>: tags matching any of these patterns.</param>
/// <param name="UntaggedAfter"><c>untagged</c>: delete manifests no tag reaches once they are this old; null keeps them.</param>
public sealed record RetentionRule(
    int Index,
    RepositorySelector Repositories,
    int? KeepLatest = null,
    TimeSpan? KeepPushedWithin = null,
    TimeSpan? KeepPulledWithin = null,
    IReadOnlyList<TagPattern>? KeepTags = null,
    TimeSpan? UntaggedAfter = null)
{
    /// <summary>True when some keep clause is configured, so the rule removes the tags none of them keeps.</summary>
    public bool RemovesTags => KeepLatest is not null || KeepPushedWithin is not null || KeepPulledWithin is not null || KeepTags is { Count: > 0 };
}

/// <summary>The <c>retention</c> rules with the immutable tags they must respect and the safety margin of deletions.</summary>
/// <param name="Rules">In configured order; a repository is governed by the first rule that matches it, and untouched when none does.</param>
/// <param name="ImmutableTags">Tags retention never removes.</param>
/// <param name="GracePeriod">
/// Tags and manifests written less than this long ago (by the real clock, not the evaluation instant) are never removed:
/// a push in flight writes an index's children untagged before the index, and a tag moments before a client uses it.
/// </param>
public sealed record RetentionPolicy(IReadOnlyList<RetentionRule> Rules, ImmutableTagPolicy ImmutableTags, TimeSpan GracePeriod)
{
    public RetentionRule? RuleFor(RepositoryName repository) => Rules.FirstOrDefault(rule => rule.Repositories.Matches(repository.Value));
}
