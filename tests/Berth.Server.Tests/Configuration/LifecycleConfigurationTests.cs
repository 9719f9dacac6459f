using Berth.Core;
using Berth.Server.Configuration;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Configuration;

/// <summary><c>retention</c> and <c>immutabletags</c>: binding from the file and from <c>REGISTRY_*</c>, and bad values named.</summary>
public sealed class LifecycleConfigurationTests
{
    private const string Serving = """
        version: 0.1
        storage:
          inmemory: {}
          delete:
            enabled: true
          maintenance:
            garbagecollection:
              enabled: true

        """;

    private static readonly RepositoryName App = RepositoryName.Parse("team/app");

    [Fact]
    public void Load_RetentionAndImmutableTags_BindEveryKey()
    {
        var result = LoadYaml(Serving + """
            retention:
              enabled: true
              dryrun: true
              graceperiod: 2h
              pulltimes:
                flushinterval: 5m
                replica: berth-1
              rules:
                - repositories: ["team/**", "apps/*"]
                  keep:
                    latest: 10
                    pushedwithin: 720h
                    pulledwithin: 168h
                    tags: ["v*", "release-*"]
                  untagged: 48h
                - repositories: "**"
                  untagged: 24h
            immutabletags:
              - repositories: ["prod/**"]
                tags: ["v*"]
              - repositories: "team/**"
                tags: stable
            """);

        Assert.Empty(result.Warnings);
        var retention = result.Configuration.Retention;
        Assert.True(retention.Enabled);
        Assert.True(retention.DryRun);
        Assert.Equal(TimeSpan.FromHours(2), retention.GracePeriod);
        Assert.Equal(TimeSpan.FromMinutes(5), retention.PullTimesFlushInterval);
        Assert.Equal("berth-1", retention.PullTimesReplica);
        var first = retention.Rules[0];
        Assert.Equal(1, first.Index);
        Assert.Equal(["team/**", "apps/*"], first.Repositories.Patterns);
        Assert.True(first.Repositories.Matches("apps/web"));
        Assert.False(first.Repositories.Matches("apps/web/x"));
        Assert.Equal(10, first.KeepLatest);
        Assert.Equal(TimeSpan.FromDays(30), first.KeepPushedWithin);
        Assert.Equal(TimeSpan.FromDays(7), first.KeepPulledWithin);
        Assert.Equal(["v*", "release-*"], first.KeepTags!.Select(t => t.Text));
        Assert.Equal(TimeSpan.FromHours(48), first.UntaggedAfter);
        Assert.False(retention.Rules[1].RemovesTags);
        Assert.Equal(2, retention.Rules[1].Index);

        var immutable = result.Configuration.ImmutableTags;
        Assert.Equal(2, immutable.Rules.Count);
        Assert.Equal(2, immutable.RuleFor(App, "stable")!.Index);
        Assert.Null(immutable.RuleFor(App, "v1"));
        Assert.Equal(1, immutable.RuleFor(RepositoryName.Parse("prod/api"), "v1")!.Index);
        Assert.Equal("immutabletags[1] (repositories: prod/**; tags: v*)", immutable.Rules[0].Describe());
    }

    [Fact]
    public void Load_EnvironmentVariables_SetRetentionAndImmutableTags()
    {
        var result = LoadYaml(Serving, Environment(
            ("REGISTRY_RETENTION_ENABLED", "true"),
            ("REGISTRY_RETENTION_GRACEPERIOD", "30m"),
            ("REGISTRY_RETENTION_RULES", "[{repositories: ['team/**'], keep: {latest: 3}}]"),
            ("REGISTRY_RETENTION_PULLTIMES_FLUSHINTERVAL", "10s"),
            ("REGISTRY_IMMUTABLETAGS", "[{repositories: ['**'], tags: ['v*']}]")));

        var config = result.Configuration;
        Assert.True(config.Retention.Enabled);
        Assert.Equal(TimeSpan.FromMinutes(30), config.Retention.GracePeriod);
        Assert.Equal(3, Assert.Single(config.Retention.Rules).KeepLatest);
        Assert.Equal(TimeSpan.FromSeconds(10), config.Retention.PullTimesFlushInterval);
        Assert.NotNull(config.ImmutableTags.RuleFor(App, "v2"));
    }

    [Fact]
    public void Load_EnvironmentVariable_OverridesOneKeyOfARule()
    {
        var result = LoadYaml(Serving + """
            retention:
              rules:
                - repositories: ["team/**"]
                  keep:
                    latest: 10
            """, Environment(("REGISTRY_RETENTION_RULES_0_KEEP_LATEST", "4")));

        Assert.Equal(4, Assert.Single(result.Configuration.Retention.Rules).KeepLatest);
    }

    [Theory]
    [InlineData("retention: {rules: [{repositories: ['team/**'], keep: {latest: 0}}]}", "retention.rules.0.keep.latest")]
    [InlineData("retention: {rules: [{repositories: ['team/**'], keep: {pushedwithin: -1h}}]}", "retention.rules.0.keep.pushedwithin")]
    [InlineData("retention: {rules: [{repositories: ['team/**'], keep: {pulledwithin: soon}}]}", "retention.rules.0.keep.pulledwithin")]
    [InlineData("retention: {rules: [{repositories: ['team/**'], keep: {tags: ['v/1']}}]}", "retention.rules.0.keep.tags.0")]
    [InlineData("retention: {rules: [{repositories: ['Team/**'], untagged: 1h}]}", "retention.rules.0.repositories.0")]
    [InlineData("retention: {rules: [{keep: {latest: 1}}]}", "retention.rules.0.repositories")]
    [InlineData("retention: {rules: [{repositories: ['team/**']}]}", "retention.rules.0")]
    [InlineData("retention: {rules: [{repositories: ['team/**'], untagged: 0s}]}", "retention.rules.0.untagged")]
    [InlineData("retention: {graceperiod: -5m}", "retention.graceperiod")]
    [InlineData("retention: {pulltimes: {flushinterval: 0s}}", "retention.pulltimes.flushinterval")]
    [InlineData("retention: {pulltimes: {replica: 'a/b'}}", "retention.pulltimes.replica")]
    [InlineData("immutabletags: [{repositories: ['prod/**']}]", "immutabletags.0.tags")]
    [InlineData("immutabletags: [{tags: ['v*']}]", "immutabletags.0.repositories")]
    [InlineData("immutabletags: {repositories: ['prod/**'], tags: ['v*']}", "immutabletags")]
    public void Load_BadValue_FailsNamingTheKey(string yaml, string key)
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml(Serving + yaml));
        Assert.Equal(key, exception.Key);
    }

    [Theory]
    [InlineData("storage: {inmemory: {}, delete: {enabled: true}}", "storage.maintenance.garbagecollection.enabled")]
    [InlineData("storage: {inmemory: {}, maintenance: {garbagecollection: {enabled: true}}}", "storage.delete.enabled")]
    public void Load_ScheduledRetentionWithoutItsPrerequisite_FailsNamingBothKeys(string storage, string prerequisite)
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml($$"""
            version: 0.1
            {{storage}}
            retention: {enabled: true, rules: [{repositories: ['**'], untagged: 1h}]}
            """));

        Assert.Equal("retention.enabled", exception.Key);
        Assert.Contains(prerequisite, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ScheduledDryRunWithoutDelete_IsAccepted()
    {
        var config = LoadYaml("""
            version: 0.1
            storage: {inmemory: {}, maintenance: {garbagecollection: {enabled: true}}}
            retention: {enabled: true, dryrun: true, rules: [{repositories: ['**'], untagged: 1h}]}
            """).Configuration;

        Assert.True(config.Retention.DryRun);
    }

    [Fact]
    public void Load_EnabledWithoutRules_FailsNamingTheRules()
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml(Serving + "retention: {enabled: true}"));
        Assert.Equal("retention.rules", exception.Key);
    }

    [Fact]
    public void Load_NoLifecycleSections_ChangesNothing()
    {
        var config = LoadYaml("version: 0.1\nstorage: {inmemory: {}}").Configuration;

        Assert.False(config.Retention.Enabled);
        Assert.Empty(config.Retention.Rules);
        Assert.True(config.ImmutableTags.IsEmpty);
    }
}
