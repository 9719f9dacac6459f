using System.Collections.Concurrent;
using Berth.Core;
using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;
using Microsoft.Extensions.Logging;

namespace Berth.Storage.Lifecycle;

/// <summary>How one retention run behaves.</summary>
public sealed record RetentionRunOptions
{
    /// <summary>Decide and report; change nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary>The instant ages are measured from; null means the clock's now. The grace period always uses the real clock.</summary>
    public DateTimeOffset? Now { get; init; }
}

/// <summary>
/// Applies a <see cref="RetentionPolicy"/>: decides per tag of every repository a rule matches whether a keep clause keeps
/// it, then which manifests nothing kept reaches any more, and deletes both through <see cref="TagStore"/> and
/// <see cref="ManifestStore"/>, the stores the API deletes through (caches and tag lists stay right). Blobs are left to
/// garbage collection, which runs after retention in the same maintenance cycle.
/// </summary>
/// <remarks>
/// Manifests: a manifest reached from a kept tag (itself, the children of an index, recursively, and the referrers of
/// anything reached) is kept. A manifest whose every tag retention removed is deleted, and so are its referrers and the
/// children of an index that nothing else keeps: users expect the space back. An untagged manifest that is neither a
/// child nor a referrer of a manifest in the repository is deleted once older than the rule's <c>untagged</c> age, and
/// kept when the rule has none. Manifests Berth cannot parse are never deleted, and nothing written within the grace
/// period is (a push in flight writes an index's children before the index). Before each deletion the tag or manifest
/// is read again, and left alone if a push moved or re-tagged it meanwhile.
/// </remarks>
public sealed class RetentionEngine(IStorageDriver driver, TagStore tags, ManifestStore manifests, TimeProvider time,
    ILogger<RetentionEngine> logger, PullTimes? pullTimes = null)
{
    private const int MaxConcurrentReads = 8;

    /// <summary>
    /// Raised after each tag or manifest a run deleted (not in a dry run), with the decision that removed it: the host
    /// sends these as <c>notifications</c> delete events. Handlers run on the retention run and must not block.
    /// </summary>
    public event Action<RetentionDecision>? Deleted;

    public async Task<RetentionReport> RunAsync(RetentionPolicy policy, RetentionRunOptions options, CancellationToken cancellationToken)
    {
        var now = options.Now ?? time.GetUtcNow();
        var pulls = pullTimes is null ? new PullTimeIndex(new Dictionary<(string, Digest), DateTimeOffset>()) : await pullTimes.ReadAllAsync(cancellationToken);
        var repositories = new List<RepositoryName>();
        await foreach (var name in LayoutWalker.RepositoriesAsync(driver, invalid: null, cancellationToken))
        {
            if (policy.RuleFor(name) is not null)
            {
                repositories.Add(name);
            }
        }

        repositories.Sort((a, b) => string.CompareOrdinal(a.Value, b.Value));
        var decisions = new List<RetentionDecision>();
        foreach (var name in repositories)
        {
            var rule = policy.RuleFor(name)!;
            var plan = await PlanAsync(policy, rule, name, now, pulls, cancellationToken);
            var applied = options.DryRun ? plan.Decisions : await ApplyAsync(plan, policy, cancellationToken);
            decisions.AddRange(Ordered(applied));
        }

        var report = new RetentionReport { DryRun = options.DryRun, EvaluatedAt = now, Repositories = repositories.Count, Decisions = decisions };
        LifecycleLog.RetentionFinished(logger, report.Repositories, report.TagsKept, report.TagsDeleted, report.ManifestsDeleted, report.Skipped,
            report.DryRun);
        return report;
    }

    /// <summary>Tags by name, then manifests by digest: the same state gives the same output, line for line.</summary>
    private static IEnumerable<RetentionDecision> Ordered(IEnumerable<RetentionDecision> decisions) =>
        decisions.OrderBy(d => d.Tag is null).ThenBy(d => d.Tag, StringComparer.Ordinal).ThenBy(d => d.Digest);

    private sealed record TagState(string Tag, Digest Digest, DateTimeOffset PushedAt);

    private sealed record RepositoryPlan(
        RepositoryName Name,
        IReadOnlyList<RetentionDecision> Decisions,
        IReadOnlyList<Digest> DeletionOrder,
        IReadOnlyDictionary<string, Digest> TagTargets);

    private async Task<RepositoryPlan> PlanAsync(RetentionPolicy policy, RetentionRule rule, RepositoryName name, DateTimeOffset now,
        PullTimeIndex pulls, CancellationToken cancellationToken)
    {
        var realNow = time.GetUtcNow();
        var root = StoragePaths.Repository(name);
        var revisions = new HashSet<Digest>(await LayoutWalker.DigestTreeAsync(driver, root + "/_manifests/revisions", cancellationToken));

        // What each revision references, and when its revision link was written.
        var nodes = new ConcurrentDictionary<Digest, ManifestReferences?>();
        var writtenAt = new ConcurrentDictionary<Digest, DateTimeOffset>();
        await Parallel.ForEachAsync(revisions, new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentReads, CancellationToken = cancellationToken },
            async (digest, token) =>
            {
                nodes[digest] = await LoadAsync(digest, token);
                if (await LayoutWalker.StatOrNullAsync(driver, StoragePaths.ManifestRevisionLink(name, digest), token) is { } info)
                {
                    writtenAt[digest] = info.ModifiedAt;
                }
            });

        // Every tag with its target and push time: the modification time of its current link, which the layout itself
        // keeps (registry:2 volumes included). A tag that does not resolve is left alone.
        var tagStates = new ConcurrentBag<TagState>();
        var tagNames = await tags.ListAsync(name, cancellationToken, fresh: true) ?? [];
        await Parallel.ForEachAsync(tagNames, new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentReads, CancellationToken = cancellationToken },
            async (tag, token) =>
            {
                var digest = await tags.ResolveAsync(name, tag, token);
                var link = await LayoutWalker.StatOrNullAsync(driver, StoragePaths.TagCurrentLink(name, tag), token);
                if (digest is { } target && link is not null)
                {
                    tagStates.Add(new TagState(tag, target, link.ModifiedAt));
                }
            });

        var children = new Dictionary<Digest, List<Digest>>();
        var referrersOf = new Dictionary<Digest, List<Digest>>();
        var isChild = new HashSet<Digest>();
        var isReferrer = new HashSet<Digest>();
        foreach (var (digest, node) in nodes)
        {
            if (node is null)
            {
                continue;
            }

            var own = node.Manifests.Where(revisions.Contains).ToList();
            children[digest] = own;
            isChild.UnionWith(own);
            if (node.Subject is { } subject && revisions.Contains(subject))
            {
                (referrersOf.TryGetValue(subject, out var list) ? list : referrersOf[subject] = []).Add(digest);
                isReferrer.Add(digest);
            }
        }

        // Pushed most recently first; ties broken by name so the ranking is stable.
        var ranked = tagStates.OrderByDescending(t => t.PushedAt).ThenBy(t => t.Tag, StringComparer.Ordinal).ToList();
        var decisions = new List<RetentionDecision>();
        var roots = new List<Digest>();
        var removedTagsOf = new Dictionary<Digest, List<string>>();
        var tagTargets = new Dictionary<string, Digest>(StringComparer.Ordinal);
        for (var rank = 0; rank < ranked.Count; rank++)
        {
            var state = ranked[rank];
            var age = now - state.PushedAt;
            var kept = KeepReason(policy, rule, name, state, rank, now, realNow, pulls, children);
            if (kept.Keep)
            {
                roots.Add(state.Digest);
                decisions.Add(new RetentionDecision(RetentionAction.Keep, rule.Index, name, state.Tag, state.Digest, age, kept.Reason));
            }
            else
            {
                (removedTagsOf.TryGetValue(state.Digest, out var list) ? list : removedTagsOf[state.Digest] = []).Add(state.Tag);
                tagTargets[state.Tag] = state.Digest;
                decisions.Add(new RetentionDecision(RetentionAction.Delete, rule.Index, name, state.Tag, state.Digest, age, kept.Reason));
            }
        }

        // Manifests: what is kept is everything reached from the roots.
        var eligible = new Dictionary<Digest, string>();
        var tagged = new HashSet<Digest>(tagStates.Select(t => t.Digest));
        foreach (var digest in revisions)
        {
            var revisionAge = writtenAt.TryGetValue(digest, out var at) ? now - at : TimeSpan.Zero;
            if (nodes.GetValueOrDefault(digest) is null or { Understood: false })
            {
                roots.Add(digest);
            }
            else if (!writtenAt.TryGetValue(digest, out var written) || realNow - written < policy.GracePeriod)
            {
                roots.Add(digest);
            }
            else if (removedTagsOf.TryGetValue(digest, out var removed))
            {
                eligible[digest] = $"last tag removed ({string.Join(", ", removed.Order(StringComparer.Ordinal))})";
            }
            else if (!tagged.Contains(digest) && !isChild.Contains(digest) && !isReferrer.Contains(digest))
            {
                if (rule.UntaggedAfter is { } limit && revisionAge >= limit)
                {
                    eligible[digest] = $"untagged, older than {RetentionDecision.FormatAge(limit)}";
                }
                else
                {
                    roots.Add(digest);
                }
            }
        }

        var keptManifests = Closure(roots, children, referrersOf);

        // Deletion order and reasons: breadth first from the eligible manifests, an index before its children and a
        // subject before its referrers, so no kept manifest ever names a missing one.
        var order = new List<Digest>();
        var reasons = new Dictionary<Digest, string>();
        var queue = new Queue<Digest>(eligible.Keys.Where(d => !keptManifests.Contains(d)).Order());
        foreach (var digest in queue)
        {
            reasons[digest] = eligible[digest];
        }

        while (queue.TryDequeue(out var digest))
        {
            order.Add(digest);
            foreach (var (next, relation) in children.GetValueOrDefault(digest, []).Select(c => (c, "child"))
                .Concat(referrersOf.GetValueOrDefault(digest, []).Select(r => (r, "referrer"))))
            {
                if (!keptManifests.Contains(next) && !reasons.ContainsKey(next))
                {
                    reasons[next] = $"{relation} of deleted {digest}";
                    queue.Enqueue(next);
                }
            }
        }

        foreach (var digest in order)
        {
            var age = writtenAt.TryGetValue(digest, out var at) ? now - at : TimeSpan.Zero;
            decisions.Add(new RetentionDecision(RetentionAction.Delete, rule.Index, name, null, digest, age, reasons[digest]));
        }

        return new RepositoryPlan(name, decisions, order, tagTargets);
    }

    private static (bool Keep, string Reason) KeepReason(RetentionPolicy policy, RetentionRule rule, RepositoryName name, TagState state, int rank,
        DateTimeOffset now, DateTimeOffset realNow, PullTimeIndex pulls, Dictionary<Digest, List<Digest>> children)
    {
        if (policy.ImmutableTags.RuleFor(name, state.Tag) is { } immutable)
        {
            return (true, $"kept: immutable (immutabletags[{immutable.Index}])");
        }

        if (!rule.RemovesTags)
        {
            return (true, "kept: the rule has no keep clause, so it removes no tags");
        }

        if (realNow - state.PushedAt < policy.GracePeriod)
        {
            return (true, $"kept: pushed within the grace period ({RetentionDecision.FormatAge(policy.GracePeriod)})");
        }

        if (rule.KeepTags?.FirstOrDefault(p => p.Matches(state.Tag)) is { } pattern)
        {
            return (true, $"kept: tag pattern {pattern.Text}");
        }

        if (rule.KeepLatest is { } latest && rank < latest)
        {
            return (true, $"kept: latest {latest} (#{rank + 1})");
        }

        var age = now - state.PushedAt;
        if (rule.KeepPushedWithin is { } pushedWithin && age <= pushedWithin)
        {
            return (true, $"kept: pushed within {RetentionDecision.FormatAge(pushedWithin)}");
        }

        // A pull of an index usually continues with one of its platform manifests, by digest: either counts.
        var lastPull = LastPull(name, state.Digest, pulls, children);
        if (rule.KeepPulledWithin is { } pulledWithin && lastPull is { } pulled && now - pulled <= pulledWithin)
        {
            return (true, $"kept: pulled within {RetentionDecision.FormatAge(pulledWithin)} ({RetentionDecision.FormatAge(now - pulled)} ago)");
        }

        var why = new List<string>();
        if (rule.KeepLatest is { } n)
        {
            why.Add($"#{rank + 1} of latest {n}");
        }

        if (rule.KeepPushedWithin is { } p)
        {
            why.Add($"pushed {RetentionDecision.FormatAge(age)} ago, not within {RetentionDecision.FormatAge(p)}");
        }

        if (rule.KeepPulledWithin is { } q)
        {
            why.Add(lastPull is { } l ? $"pulled {RetentionDecision.FormatAge(now - l)} ago, not within {RetentionDecision.FormatAge(q)}" : "never pulled");
        }

        if (rule.KeepTags is { Count: > 0 } patterns)
        {
            why.Add($"matches none of {string.Join(", ", patterns.Select(t => t.Text))}");
        }

        return (false, "not kept: " + string.Join("; ", why));
    }

    private static DateTimeOffset? LastPull(RepositoryName name, Digest digest, PullTimeIndex pulls, Dictionary<Digest, List<Digest>> children)
    {
        var latest = pulls.LastPulled(name, digest);
        foreach (var child in children.GetValueOrDefault(digest, []))
        {
            if (pulls.LastPulled(name, child) is { } at && (latest is null || at > latest))
            {
                latest = at;
            }
        }

        return latest;
    }

    private static HashSet<Digest> Closure(IEnumerable<Digest> roots, Dictionary<Digest, List<Digest>> children, Dictionary<Digest, List<Digest>> referrersOf)
    {
        var kept = new HashSet<Digest>();
        var queue = new Queue<Digest>(roots);
        while (queue.TryDequeue(out var digest))
        {
            if (!kept.Add(digest))
            {
                continue;
            }

            foreach (var next in children.GetValueOrDefault(digest, []).Concat(referrersOf.GetValueOrDefault(digest, [])))
            {
                queue.Enqueue(next);
            }
        }

        return kept;
    }

    /// <summary>Deletes what the plan decided, re-reading each tag and manifest first; returns the decisions as carried out.</summary>
    private async Task<List<RetentionDecision>> ApplyAsync(RepositoryPlan plan, RetentionPolicy policy, CancellationToken cancellationToken)
    {
        var done = new List<RetentionDecision>(plan.Decisions.Count);
        var skippedManifests = new HashSet<Digest>();
        foreach (var decision in plan.Decisions.Where(d => d.Tag is not null))
        {
            if (decision.Action != RetentionAction.Delete)
            {
                done.Add(decision);
                continue;
            }

            var tag = decision.Tag!;
            var current = await tags.ResolveAsync(plan.Name, tag, cancellationToken);
            var link = await LayoutWalker.StatOrNullAsync(driver, StoragePaths.TagCurrentLink(plan.Name, tag), cancellationToken);
            if (current != plan.TagTargets[tag] || link is null || time.GetUtcNow() - link.ModifiedAt < policy.GracePeriod)
            {
                LifecycleLog.TagChanged(logger, plan.Name, tag);
                done.Add(decision with { Action = RetentionAction.Skipped, Reason = "skipped: the tag was pushed again during the run" });
                if (current is { } target)
                {
                    skippedManifests.Add(target);
                }

                continue;
            }

            await tags.DeleteAsync(plan.Name, tag, cancellationToken);
            LifecycleLog.TagDeleted(logger, plan.Name, tag, decision.Reason);
            done.Add(decision);
            Deleted?.Invoke(decision);
        }

        var manifestDecisions = plan.Decisions.Where(d => d.Tag is null).ToDictionary(d => d.Digest!.Value);
        foreach (var digest in plan.DeletionOrder)
        {
            var decision = manifestDecisions[digest];
            var revision = await LayoutWalker.StatOrNullAsync(driver, StoragePaths.ManifestRevisionLink(plan.Name, digest), cancellationToken);
            if (skippedManifests.Contains(digest) || revision is null || time.GetUtcNow() - revision.ModifiedAt < policy.GracePeriod
                || (await tags.TagsOfAsync(plan.Name, digest, cancellationToken)).Count > 0)
            {
                LifecycleLog.ManifestChanged(logger, plan.Name, digest);
                done.Add(decision with { Action = RetentionAction.Skipped, Reason = "skipped: tagged or pushed again during the run" });
                continue;
            }

            await manifests.DeleteAsync(plan.Name, digest, cancellationToken);
            LifecycleLog.ManifestDeleted(logger, plan.Name, digest, decision.Reason);
            done.Add(decision);
            Deleted?.Invoke(decision);
        }

        return done;
    }

    /// <summary>A manifest's references, null when its content is missing.</summary>
    private async Task<ManifestReferences?> LoadAsync(Digest digest, CancellationToken cancellationToken)
    {
        try
        {
            return ManifestReferences.Extract(await driver.GetContentAsync(StoragePaths.BlobData(digest), ManifestStore.MaxManifestBytes, cancellationToken));
        }
        catch (StoragePathNotFoundException)
        {
            return null;
        }
        catch (StorageObjectTooLargeException)
        {
            return ManifestReferences.Opaque;
        }
    }
}
