using Berth.Server.Configuration;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Configuration;

/// <summary><c>storage.maintenance.scrub</c>: the schedule of <c>berth scrub</c> inside <c>serve</c>.</summary>
public sealed class ScrubConfigurationTests
{
    [Fact]
    public void Load_NoScrubSection_IsOffWithWeeklyIntervalAnd50MiB()
    {
        var scrub = LoadEnvironment(NoEnvironment).Configuration.Storage.Maintenance.Scrub;

        Assert.False(scrub.Enabled);
        Assert.Equal(TimeSpan.FromHours(168), scrub.Interval);
        Assert.Equal(50L * 1024 * 1024, scrub.RateLimit);
        Assert.False(scrub.DryRun);
    }

    [Fact]
    public void Load_ScrubSection_ReadsEveryKey()
    {
        var result = LoadYaml("""
            version: 0.1
            storage:
              filesystem:
                rootdirectory: /srv/registry
              maintenance:
                scrub:
                  enabled: true
                  interval: 12h
                  ratelimit: 200MB
                  dryrun: true
            """);
        var scrub = result.Configuration.Storage.Maintenance.Scrub;

        Assert.Empty(result.Warnings);
        Assert.True(scrub.Enabled);
        Assert.Equal(TimeSpan.FromHours(12), scrub.Interval);
        Assert.Equal(200_000_000, scrub.RateLimit);
        Assert.True(scrub.DryRun);
    }

    [Fact]
    public void Load_ScrubVariables_OverrideTheFile()
    {
        var scrub = LoadYaml("""
            version: 0.1
            storage:
              maintenance:
                scrub:
                  enabled: false
                  ratelimit: 10MiB
            """, Environment(
                ("REGISTRY_STORAGE_MAINTENANCE_SCRUB_ENABLED", "true"),
                ("REGISTRY_STORAGE_MAINTENANCE_SCRUB_INTERVAL", "30m"),
                ("REGISTRY_STORAGE_MAINTENANCE_SCRUB_RATELIMIT", "0"),
                ("REGISTRY_STORAGE_MAINTENANCE_SCRUB_DRYRUN", "yes"))).Configuration.Storage.Maintenance.Scrub;

        Assert.True(scrub.Enabled);
        Assert.Equal(TimeSpan.FromMinutes(30), scrub.Interval);
        Assert.Equal(0, scrub.RateLimit);
        Assert.True(scrub.DryRun);
    }

    [Theory]
    [InlineData("ratelimit", "fast")]
    [InlineData("ratelimit", "50Mb")]
    [InlineData("ratelimit", "-1MiB")]
    [InlineData("ratelimit", "10 parsecs")]
    [InlineData("interval", "0s")]
    [InlineData("interval", "weekly")]
    [InlineData("enabled", "maybe")]
    public void Load_BadScrubValue_FailsNamingTheKey(string key, string value)
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadEnvironment(
            Environment(($"REGISTRY_STORAGE_MAINTENANCE_SCRUB_{key.ToUpperInvariant()}", value))));

        Assert.Contains($"storage.maintenance.scrub.{key}", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ScheduledWorkInReadOnlyMode_IsWarnedAboutNamingTheKey()
    {
        var result = LoadYaml("""
            version: 0.1
            storage:
              maintenance:
                readonly:
                  enabled: true
                garbagecollection:
                  enabled: true
                scrub:
                  enabled: true
            """);

        Assert.Contains(result.Warnings, warning => warning.StartsWith("storage.maintenance.garbagecollection: enabled, but does not run while storage.maintenance.readonly.enabled is true", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, warning => warning.StartsWith("storage.maintenance.scrub: enabled, but does not run while storage.maintenance.readonly.enabled is true", StringComparison.Ordinal));

        var writable = LoadYaml("""
            version: 0.1
            storage:
              maintenance:
                garbagecollection:
                  enabled: true
                scrub:
                  enabled: true
            """);
        Assert.DoesNotContain(writable.Warnings, warning => warning.Contains("readonly", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_UnknownScrubKey_IsWarnedAbout()
    {
        var result = LoadYaml("""
            version: 0.1
            storage:
              maintenance:
                scrub:
                  enabled: true
                  ratelimt: 5MiB
            """);

        Assert.Contains(result.Warnings, warning => warning.Contains("storage.maintenance.scrub.ratelimt", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("1048576", 1_048_576)]
    [InlineData("50MiB", 52_428_800)]
    [InlineData("50miB/s", 52_428_800)]
    [InlineData("1.5GB", 1_500_000_000)]
    [InlineData("64KiB", 65_536)]
    [InlineData("10kB", 10_000)]
    [InlineData("10B", 10)]
    public void ByteSizesRate_AcceptedSpellings_ParseToBytesPerSecond(string text, long expected)
    {
        Assert.True(ByteSizes.TryParseRate(text, out var bytesPerSecond));
        Assert.Equal(expected, bytesPerSecond);
    }

    [Theory]
    [InlineData("")]
    [InlineData("MiB")]
    [InlineData("5 b")]
    [InlineData("50mib")]
    [InlineData("1Gb")]
    [InlineData("-5")]
    [InlineData("5MB/s/s")]
    [InlineData("99999999999999999999GiB")]
    public void ByteSizesRate_OtherText_IsRefused(string text) => Assert.False(ByteSizes.TryParseRate(text, out _));
}
