using Berth.Core;
using Berth.Storage.Drivers;
using Berth.Storage.Lifecycle;
using Berth.Storage.Tests.Maintenance;
using Microsoft.Extensions.Logging.Abstractions;
using static Berth.Storage.Tests.Maintenance.MaintenanceHarness;

namespace Berth.Storage.Tests.Lifecycle;

/// <summary>
/// Rule evaluation and deletion over the real stores on the in-memory driver, with modification times that follow a
/// manual clock: a tag's push time is its current link's time, as on a registry:2 volume.
/// </summary>
public sealed class RetentionEngineTests
{
    private static readonly RepositoryName App = Name("team/app");
    private static readonly RepositoryName Untouched = Name("other/app");

    private readonly MaintenanceHarness _h = new(new InMemoryDriver());

    private static RepositorySelector Team => new(["team/**"], name => name.StartsWith("team/", StringComparison.Ordinal));

    private static RetentionPolicy Policy(RetentionRule rule, ImmutableTagPolicy? immutable = null, TimeSpan? grace = null) =>
        new([rule], immutable ?? ImmutableTagPolicy.None, grace ?? TimeSpan.Zero);

    private RetentionEngine Engine(PullTimes? pulls = null) =>
        new(_h.Driver, _h.Tags, _h.Manifests, _h.Time, NullLogger<RetentionEngine>.Instance, pulls);

    /// <summary>Pushes one image per tag, an hour apart, oldest first.</summary>
    private async Task<Dictionary<string, PushedImage>> PushHourlyAsync(RepositoryName repository, params string[] tags)
    {
        var images = new Dictionary<string, PushedImage>();
        foreach (var tag in tags)
        {
            images[tag] = await _h.PushImageAsync(repository, tag, $"{repository}:{tag}");
            _h.Clock.Advance(TimeSpan.FromHours(1));
        }

        return images;
    }

    private async Task<bool> ManifestExistsAsync(RepositoryName repository, Digest digest) => await _h.Manifests.ExistsAsync(repository, digest, Ct);

    [Fact]
    public async Task Run_KeepLatest_KeepsTheNewestTagsAndDeletesTheRestWithTheirManifests()
    {
        var images = await PushHourlyAsync(App, "a", "b", "c", "d");
        var rule = new RetentionRule(1, Team, KeepLatest: 2);

        var report = await Engine().RunAsync(Policy(rule), new RetentionRunOptions(), Ct);

        Assert.Equal(["c", "d"], await _h.Tags.ListAsync(App, Ct));
        Assert.False(await ManifestExistsAsync(App, images["a"].Manifest));
        Assert.False(await ManifestExistsAsync(App, images["b"].Manifest));
        Assert.True(await ManifestExistsAsync(App, images["c"].Manifest));
        Assert.Equal(2, report.TagsDeleted);
        Assert.Equal(2, report.ManifestsDeleted);
        var lines = report.Decisions.Select(d => d.Format()).ToList();
        Assert.Equal($"delete rule=1 team/app:a age=4h not kept: #4 of latest 2", lines[0]);
        Assert.Equal($"keep rule=1 team/app:d age=1h kept: latest 2 (#1)", lines[3]);
        Assert.StartsWith("delete rule=1 team/app@sha256:", lines[4], StringComparison.Ordinal);
        Assert.EndsWith("last tag removed (a)", lines.Single(l => l.Contains(images["a"].Manifest.ToString(), StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_DryRun_ReportsTheSameDecisionsAndChangesNothing()
    {
        await PushHourlyAsync(App, "a", "b", "c");
        var rule = new RetentionRule(1, Team, KeepLatest: 1);
        var before = await _h.SnapshotAsync();

        var dry = await Engine().RunAsync(Policy(rule), new RetentionRunOptions { DryRun = true }, Ct);

        Assert.Equal(before, await _h.SnapshotAsync());
        var real = await Engine().RunAsync(Policy(rule), new RetentionRunOptions(), Ct);
        Assert.Equal(dry.Decisions.Select(d => d.Format()), real.Decisions.Select(d => d.Format()));
        Assert.Equal("retention (dry run) at 2025-03-01T15:00:00Z: 1 repositories, 3 tags (1 kept, 2 to delete), 2 manifests to delete, 0 skipped", dry.Summary());
    }

    [Fact]
    public async Task Run_SeveralKeepClauses_ATagSurvivesWhenAnyClauseKeepsIt()
    {
        await PushHourlyAsync(App, "v1.0", "release-1", "build-1", "build-2", "build-3");
        _h.Clock.Advance(TimeSpan.FromDays(10));
        await PushHourlyAsync(App, "build-4");
        var rule = new RetentionRule(1, Team, KeepLatest: 1, KeepPushedWithin: TimeSpan.FromDays(30), KeepTags: [TagPattern.Parse("v*"), TagPattern.Parse("release-*")]);

        // Thirty-five days later only the patterns and "latest 1" still keep anything.
        var report = await Engine().RunAsync(Policy(rule), new RetentionRunOptions { Now = _h.Clock.GetUtcNow().AddDays(35) }, Ct);

        Assert.Equal(["build-4", "release-1", "v1.0"], await _h.Tags.ListAsync(App, Ct));
        var reasons = report.Decisions.Where(d => d.Tag is not null).ToDictionary(d => d.Tag!, d => d.Reason);
        Assert.Equal("kept: tag pattern v*", reasons["v1.0"]);
        Assert.Equal("kept: tag pattern release-*", reasons["release-1"]);
        Assert.Equal("kept: latest 1 (#1)", reasons["build-4"]);
        Assert.Equal("not kept: #2 of latest 1; pushed 45d ago, not within 30d; matches none of v*, release-*", reasons["build-3"]);
    }

    [Fact]
    public async Task Run_PushedWithin_IsMeasuredFromTheChosenInstant()
    {
        await PushHourlyAsync(App, "old");
        _h.Clock.Advance(TimeSpan.FromDays(20));
        await PushHourlyAsync(App, "new");
        var rule = new RetentionRule(1, Team, KeepPushedWithin: TimeSpan.FromDays(7));

        var atPush = await Engine().RunAsync(Policy(rule), new RetentionRunOptions { DryRun = true }, Ct);
        var later = await Engine().RunAsync(Policy(rule), new RetentionRunOptions { DryRun = true, Now = _h.Clock.GetUtcNow().AddDays(30) }, Ct);

        Assert.Equal(["old"], atPush.Decisions.Where(d => d.Tag is not null && d.Action == RetentionAction.Delete).Select(d => d.Tag));
        Assert.Equal(2, later.TagsDeleted);
    }

    [Fact]
    public async Task Run_ImmutableTags_AreNeverRemoved()
    {
        await PushHourlyAsync(App, "stable", "build-1", "build-2");
        var immutable = new ImmutableTagPolicy([new ImmutableTagRule(1, Team, [TagPattern.Parse("stable")])]);
        var rule = new RetentionRule(1, Team, KeepLatest: 1);

        var report = await Engine().RunAsync(Policy(rule, immutable), new RetentionRunOptions(), Ct);

        Assert.Equal(["build-2", "stable"], await _h.Tags.ListAsync(App, Ct));
        Assert.Equal("kept: immutable (immutabletags[1])", report.Decisions.Single(d => d.Tag == "stable").Reason);
    }

    [Fact]
    public async Task Run_RepositoryNoRuleMatches_IsUntouched()
    {
        await PushHourlyAsync(Untouched, "a", "b");
        var rule = new RetentionRule(1, Team, KeepLatest: 1, UntaggedAfter: TimeSpan.FromMinutes(1));

        var report = await Engine().RunAsync(Policy(rule), new RetentionRunOptions(), Ct);

        Assert.Equal(0, report.Repositories);
        Assert.Equal(["a", "b"], await _h.Tags.ListAsync(Untouched, Ct));
    }

    [Fact]
    public async Task Run_TheFirstMatchingRuleDecides()
    {
        await PushHourlyAsync(App, "a", "b", "c");
        var everything = new RepositorySelector(["**"], _ => true);
        var policy = new RetentionPolicy([new RetentionRule(1, Team, KeepLatest: 3), new RetentionRule(2, everything, KeepLatest: 1)], ImmutableTagPolicy.None,
            TimeSpan.Zero);

        var report = await Engine().RunAsync(policy, new RetentionRunOptions(), Ct);

        Assert.Equal(0, report.TagsDeleted);
        Assert.All(report.Decisions, d => Assert.Equal(1, d.Rule));
    }

    [Fact]
    public async Task Run_ManifestWithAKeptTagAndARemovedTag_IsKept()
    {
        var image = await _h.PushImageAsync(App, "old-name", "shared");
        _h.Clock.Advance(TimeSpan.FromHours(1));
        await _h.Tags.SetAsync(App, "v2", image.Manifest, Ct);
        _h.Clock.Advance(TimeSpan.FromHours(1));
        var rule = new RetentionRule(1, Team, KeepTags: [TagPattern.Parse("v*")]);

        var report = await Engine().RunAsync(Policy(rule), new RetentionRunOptions(), Ct);

        Assert.Equal(["v2"], await _h.Tags.ListAsync(App, Ct));
        Assert.True(await ManifestExistsAsync(App, image.Manifest));
        Assert.Equal(0, report.ManifestsDeleted);
    }

    [Fact]
    public async Task Run_IndexLosesItsLastTag_ItsChildrenAndReferrersGoWithIt()
    {
        var amd64 = await _h.PushImageAsync(App, null, "amd64");
        var arm64 = await _h.PushImageAsync(App, null, "arm64");
        var index = await _h.PushIndexAsync(App, "build-1", amd64, arm64);
        var signature = await _h.PushImageAsync(App, null, "signature of build-1", subject: index, subjectMediaType: MediaTypes.OciIndex);
        var sbomOfChild = await _h.PushImageAsync(App, null, "sbom of amd64", subject: amd64.Manifest);
        _h.Clock.Advance(TimeSpan.FromHours(1));
        var kept = await _h.PushImageAsync(App, "v1", "release");
        var keptSignature = await _h.PushImageAsync(App, null, "signature of v1", subject: kept.Manifest);
        _h.Clock.Advance(TimeSpan.FromHours(1));
        var rule = new RetentionRule(1, Team, KeepTags: [TagPattern.Parse("v*")]);

        var report = await Engine().RunAsync(Policy(rule), new RetentionRunOptions(), Ct);

        foreach (var gone in new[] { index, amd64.Manifest, arm64.Manifest, signature.Manifest, sbomOfChild.Manifest })
        {
            Assert.False(await ManifestExistsAsync(App, gone), $"{gone} should be deleted");
        }

        Assert.True(await ManifestExistsAsync(App, kept.Manifest));
        Assert.True(await ManifestExistsAsync(App, keptSignature.Manifest));
        var reasons = report.Decisions.Where(d => d.Tag is null).ToDictionary(d => d.Digest!.Value, d => d.Reason);
        Assert.Equal("last tag removed (build-1)", reasons[index]);
        Assert.Equal($"child of deleted {index}", reasons[amd64.Manifest]);
        Assert.Equal($"referrer of deleted {index}", reasons[signature.Manifest]);
        Assert.Equal($"referrer of deleted {amd64.Manifest}", reasons[sbomOfChild.Manifest]);
        Assert.Equal([keptSignature.Manifest], await _h.Referrers.ListAsync(App, kept.Manifest, Ct));
    }

    [Fact]
    public async Task Run_UntaggedClause_DeletesOldUntaggedManifestsButNotChildrenOfAKeptIndex()
    {
        var orphan = await _h.PushImageAsync(App, null, "orphan");
        var child = await _h.PushImageAsync(App, null, "child");
        var index = await _h.PushIndexAsync(App, "v1", child);
        _h.Clock.Advance(TimeSpan.FromDays(10));
        var young = await _h.PushImageAsync(App, null, "young");
        _h.Clock.Advance(TimeSpan.FromHours(1));
        var rule = new RetentionRule(1, Team, UntaggedAfter: TimeSpan.FromDays(7));

        var report = await Engine().RunAsync(Policy(rule), new RetentionRunOptions(), Ct);

        Assert.False(await ManifestExistsAsync(App, orphan.Manifest));
        Assert.True(await ManifestExistsAsync(App, child.Manifest));
        Assert.True(await ManifestExistsAsync(App, index));
        Assert.True(await ManifestExistsAsync(App, young.Manifest));
        var only = Assert.Single(report.Decisions, d => d.Action == RetentionAction.Delete);
        Assert.Equal("untagged, older than 7d", only.Reason);
        Assert.Equal("kept: the rule has no keep clause, so it removes no tags", report.Decisions.Single(d => d.Tag == "v1").Reason);
    }

    [Fact]
    public async Task Run_WithoutUntaggedClause_KeepsUntaggedManifests()
    {
        var orphan = await _h.PushImageAsync(App, null, "orphan");
        await PushHourlyAsync(App, "a", "b");
        _h.Clock.Advance(TimeSpan.FromDays(100));

        await Engine().RunAsync(Policy(new RetentionRule(1, Team, KeepLatest: 1)), new RetentionRunOptions(), Ct);

        Assert.True(await ManifestExistsAsync(App, orphan.Manifest));
    }

    [Fact]
    public async Task Run_GracePeriod_KeepsWhatWasJustWrittenWhateverTheEvaluationInstant()
    {
        await PushHourlyAsync(App, "old");
        _h.Clock.Advance(TimeSpan.FromDays(1));
        var fresh = await _h.PushImageAsync(App, "fresh", "fresh");
        var untagged = await _h.PushImageAsync(App, null, "untagged child in flight");
        var rule = new RetentionRule(1, Team, KeepPushedWithin: TimeSpan.FromDays(1), UntaggedAfter: TimeSpan.FromHours(1));

        var report = await Engine().RunAsync(Policy(rule, grace: TimeSpan.FromHours(1)),
            new RetentionRunOptions { Now = _h.Clock.GetUtcNow().AddYears(1) }, Ct);

        Assert.Equal(["fresh"], await _h.Tags.ListAsync(App, Ct));
        Assert.True(await ManifestExistsAsync(App, fresh.Manifest));
        Assert.True(await ManifestExistsAsync(App, untagged.Manifest));
        Assert.Equal("kept: pushed within the grace period (1h)", report.Decisions.Single(d => d.Tag == "fresh").Reason);
    }

    [Fact]
    public async Task Run_PulledWithin_KeepsTagsWhoseImageOrPlatformManifestWasPulled()
    {
        var images = await PushHourlyAsync(App, "pulled", "idle");
        var child = await _h.PushImageAsync(App, null, "platform");
        var index = await _h.PushIndexAsync(App, "multi", child);
        _h.Clock.Advance(TimeSpan.FromDays(40));
        var pulls = new PullTimes(_h.Driver, _h.Time, "replica-a");
        pulls.Record(App, images["pulled"].Manifest);
        pulls.Record(App, child.Manifest);
        _h.Clock.Advance(TimeSpan.FromDays(2));
        var rule = new RetentionRule(1, Team, KeepPulledWithin: TimeSpan.FromDays(7));

        var report = await Engine(pulls).RunAsync(Policy(rule), new RetentionRunOptions(), Ct);

        Assert.Equal(["multi", "pulled"], await _h.Tags.ListAsync(App, Ct));
        Assert.Equal("kept: pulled within 7d (2d ago)", report.Decisions.Single(d => d.Tag == "pulled").Reason);
        Assert.Equal("not kept: never pulled", report.Decisions.Single(d => d.Tag == "idle").Reason);
        Assert.True(await ManifestExistsAsync(App, index));
    }

    [Fact]
    public async Task Run_OutputOrder_IsStable()
    {
        await PushHourlyAsync(App, "z", "a", "m");
        await PushHourlyAsync(Name("team/b"), "x");
        var rule = new RetentionRule(1, Team, KeepLatest: 1);

        var report = await Engine().RunAsync(Policy(rule), new RetentionRunOptions { DryRun = true }, Ct);

        var subjects = report.Decisions.Select(d => $"{d.Repository}:{d.Tag ?? "@"}").ToList();
        Assert.Equal(["team/app:a", "team/app:m", "team/app:z", "team/app:@", "team/app:@", "team/b:x"], subjects);
    }
}
