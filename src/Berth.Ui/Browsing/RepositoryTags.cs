using System.Collections.Concurrent;
using System.Diagnostics;
using Berth.Core;

namespace Berth.Ui.Browsing;

/// <summary>A tag, the manifest it names, and when it was last pushed (its link's modification time).</summary>
public sealed record TagRow(string Tag, Digest Digest, DateTimeOffset PushedAt);

/// <summary>
/// Every tag of a repository with its digest and push time, as read at <see cref="TakenAt"/>. Immutable once built;
/// <see cref="Stale"/> collects tags this process changed since, so the next view re-reads only those.
/// </summary>
public sealed class RepositoryTags
{
    internal RepositoryTags(IReadOnlyList<string> listed, IReadOnlyDictionary<string, TagRow> rows, long takenAt)
    {
        Listed = listed;
        Rows = rows;
        TakenAt = takenAt;
        LastPush = rows.Count == 0 ? null : rows.Values.Max(row => row.PushedAt);
    }

    /// <summary>The tag list this view was built from (the tag store's own list, compared by reference).</summary>
    internal IReadOnlyList<string> Listed { get; }

    /// <summary>Rows by tag; a tag whose link vanished between listing and reading has none.</summary>
    public IReadOnlyDictionary<string, TagRow> Rows { get; }

    /// <summary>When the links were read (<see cref="Stopwatch"/> ticks).</summary>
    internal long TakenAt { get; }

    /// <summary>Tags this process changed after <see cref="TakenAt"/>.</summary>
    internal ConcurrentDictionary<string, byte> Stale { get; } = new(StringComparer.Ordinal);

    public int Count => Rows.Count;

    /// <summary>The newest push of any tag, or null for a repository without tags.</summary>
    public DateTimeOffset? LastPush { get; }

    /// <summary>Rows by name (ordinal) or by push time (newest first), optionally only tags containing <paramref name="filter"/>.</summary>
    public IReadOnlyList<TagRow> Sorted(TagOrder order, string? filter)
    {
        IEnumerable<TagRow> rows = Rows.Values;
        if (!string.IsNullOrEmpty(filter))
        {
            rows = rows.Where(row => row.Tag.Contains(filter, StringComparison.OrdinalIgnoreCase));
        }

        return order == TagOrder.Newest
            ? [.. rows.OrderByDescending(row => row.PushedAt).ThenBy(row => row.Tag, StringComparer.Ordinal)]
            : [.. rows.OrderBy(row => row.Tag, StringComparer.Ordinal)];
    }
}

/// <summary>How a repository's tags are listed.</summary>
public enum TagOrder
{
    Name,
    Newest,
}

/// <summary>What the repository list shows of a repository: tag count and, when known, the last push.</summary>
public sealed record RepositoryOverview(int Tags, DateTimeOffset? LastPush);
