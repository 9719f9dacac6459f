using System.Globalization;
using Berth.Core;

namespace Berth.Storage.Lifecycle;

public enum RetentionAction
{
    Keep,
    Delete,

    /// <summary>Decided for deletion, then left alone because it changed during the run (a push moved or re-tagged it).</summary>
    Skipped,
}

/// <summary>One decision of a retention run about one tag or one manifest.</summary>
/// <param name="Age">Since the tag was pushed, or the manifest's revision was written, at the evaluation instant.</param>
public sealed record RetentionDecision(RetentionAction Action, int Rule, RepositoryName Repository, string? Tag, Digest? Digest, TimeSpan Age, string Reason)
{
    /// <summary>
    /// One line: <c>delete rule=1 team/app:build-7 age=40d not kept: ...</c>. The fields are separated by single spaces and
    /// the reason is the rest of the line, so the output is easy to grep and to diff between runs.
    /// </summary>
    public string Format()
    {
        var subject = Tag is not null ? $"{Repository}:{Tag}" : $"{Repository}@{Digest}";
        var action = Action switch { RetentionAction.Keep => "keep", RetentionAction.Delete => "delete", _ => "skip" };
        return $"{action} rule={Rule} {subject} age={FormatAge(Age)} {Reason}";
    }

    /// <summary>An age in its largest whole unit: <c>40d</c>, <c>5h</c>, <c>12m</c>, <c>30s</c>; negative ages (a clock set back) are 0s.</summary>
    public static string FormatAge(TimeSpan age) => age switch
    {
        { TotalDays: >= 1 } => ((long)age.TotalDays).ToString(CultureInfo.InvariantCulture) + "d",
        { TotalHours: >= 1 } => ((long)age.TotalHours).ToString(CultureInfo.InvariantCulture) + "h",
        { TotalMinutes: >= 1 } => ((long)age.TotalMinutes).ToString(CultureInfo.InvariantCulture) + "m",
        { Ticks: > 0 } => ((long)age.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s",
        _ => "0s",
    };
}

/// <summary>What a retention run decided and did.</summary>
public sealed record RetentionReport
{
    public required bool DryRun { get; init; }

    /// <summary>The instant ages were measured from (<c>--now</c>, or the clock).</summary>
    public required DateTimeOffset EvaluatedAt { get; init; }

    /// <summary>Repositories a rule matched.</summary>
    public required int Repositories { get; init; }

    /// <summary>In output order: repositories by name; within one, tags by name, then manifests by digest.</summary>
    public required IReadOnlyList<RetentionDecision> Decisions { get; init; }

    public int TagsKept => Decisions.Count(d => d.Tag is not null && d.Action == RetentionAction.Keep);

    public int TagsDeleted => Decisions.Count(d => d.Tag is not null && d.Action == RetentionAction.Delete);

    public int ManifestsDeleted => Decisions.Count(d => d.Tag is null && d.Action == RetentionAction.Delete);

    public int Skipped => Decisions.Count(d => d.Action == RetentionAction.Skipped);

    /// <summary>The summary line: what was (or, in a dry run, would be) deleted.</summary>
    public string Summary()
    {
        var verb = DryRun ? "to delete" : "deleted";
        return $"retention{(DryRun ? " (dry run)" : "")} at {EvaluatedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}: "
            + $"{Repositories} repositories, {TagsKept + TagsDeleted + Decisions.Count(d => d.Tag is not null && d.Action == RetentionAction.Skipped)} tags "
            + $"({TagsKept} kept, {TagsDeleted} {verb}), {ManifestsDeleted} manifests {verb}, {Skipped} skipped";
    }
}
