using Berth.Core;
using Berth.Server.Configuration;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Configuration;

public sealed class QuotaConfigurationTests
{
    [Fact]
    public void Load_QuotasAndUsage_BindRulesInOrderWithSizes()
    {
        var config = LoadYaml("""
            version: 0.1
            quotas:
              - repositories: ["team/**", "shared"]
                limit: 10GiB
              - repositories: "**"
                limit: 500MB
            usage:
              maxage: 2m
              metrics:
                repositories: 20
            """).Configuration;

        Assert.Equal(2, config.Quotas.Count);
        Assert.Equal("quotas.0", config.Quotas[0].Key);
        Assert.Equal(10L * 1024 * 1024 * 1024, config.Quotas[0].LimitBytes);
        Assert.Equal(["team/**", "shared"], config.Quotas[0].Repositories.Select(pattern => pattern.Text));
        Assert.Equal(500_000_000, config.Quotas[1].LimitBytes);
        Assert.Equal(TimeSpan.FromMinutes(2), config.Usage.MaxAge);
        Assert.Equal(20, config.Usage.Metrics.Repositories);

        var rule = config.Quotas[0].ToRule();
        Assert.True(rule.Applies(RepositoryName.Parse("team/app/web")));
        Assert.True(rule.Applies(RepositoryName.Parse("shared")));
        Assert.False(rule.Applies(RepositoryName.Parse("other/app")));
    }

    [Fact]
    public void Load_NoQuotasOrUsage_DefaultsToNoneAndAHundredSeries()
    {
        var config = LoadYaml("version: 0.1\n").Configuration;

        Assert.Empty(config.Quotas);
        Assert.Null(config.Usage.MaxAge);
        Assert.Equal(100, config.Usage.Metrics.Repositories);
    }

    [Fact]
    public void Load_EnvironmentVariables_SetQuotaAndUsageKeys()
    {
        var config = LoadYaml("version: 0.1\nquotas:\n  - repositories: [a]\n    limit: 1GiB\n", Environment(
            ("REGISTRY_QUOTAS_0_LIMIT", "2GiB"),
            ("REGISTRY_QUOTAS_1_REPOSITORIES", "[\"team/**\"]"),
            ("REGISTRY_QUOTAS_1_LIMIT", "1.5MiB"),
            ("REGISTRY_USAGE_MAXAGE", "30s"),
            ("REGISTRY_USAGE_METRICS_REPOSITORIES", "0"))).Configuration;

        Assert.Equal(2, config.Quotas.Count);
        Assert.Equal(2L << 30, config.Quotas[0].LimitBytes);
        Assert.Equal("a", Assert.Single(config.Quotas[0].Repositories).Text);
        Assert.Equal("team/**", Assert.Single(config.Quotas[1].Repositories).Text);
        Assert.Equal(1_572_864, config.Quotas[1].LimitBytes);
        Assert.Equal(TimeSpan.FromSeconds(30), config.Usage.MaxAge);
        Assert.Equal(0, config.Usage.Metrics.Repositories);
    }

    [Theory]
    [InlineData("1048576", 1_048_576)]
    [InlineData("512KB", 512_000)]
    [InlineData("512kiB", 524_288)]
    [InlineData("10 GB", 10_000_000_000)]
    [InlineData("1.5GiB", 1_610_612_736)]
    [InlineData("2Ti", 2_199_023_255_552)]
    [InlineData("100B", 100)]
    public void ByteSizes_TryParse_ReadsUnits(string text, long expected)
    {
        Assert.True(ByteSizes.TryParse(text, out var bytes, out var problem), problem);
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("quotas:\n  - repositories: [a]\n    limit: 10 gallons", "quotas.0.limit", "expected a size")]
    [InlineData("quotas:\n  - repositories: [a]\n    limit: -5GiB", "quotas.0.limit", "expected a size")]
    [InlineData("quotas:\n  - repositories: [a]\n    limit: 10Gb", "quotas.0.limit", "expected a size")]
    [InlineData("quotas:\n  - repositories: [a]\n    limit: 0", "quotas.0.limit", "at least 1 byte")]
    [InlineData("quotas:\n  - repositories: [a]\n    limit: 99999999999PiB", "quotas.0.limit", "at most")]
    [InlineData("quotas:\n  - repositories: [a]", "quotas.0.limit", "required")]
    [InlineData("quotas:\n  - limit: 1GiB", "quotas.0.repositories", "required")]
    [InlineData("quotas:\n  - repositories: [a]\n    limit: 1GiB\n  - repositories: [Team/**]\n    limit: 1GiB", "quotas.1.repositories.0", "cannot match a repository name")]
    [InlineData("quotas:\n  repositories: [a]", "quotas", "expected a list")]
    [InlineData("usage:\n  maxage: 100ms", "usage.maxage", "at least 1s")]
    [InlineData("usage:\n  metrics:\n    repositories: -1", "usage.metrics.repositories", null)]
    public void Load_InvalidQuotaOrUsageValue_ThrowsNamingTheKey(string yaml, string key, string? detail)
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml("version: 0.1\n" + yaml + "\n"));

        Assert.Equal(key, exception.Key);
        if (detail is not null)
        {
            Assert.Contains(detail, exception.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Load_UnknownKeyInAQuota_IsWarnedAboutByName()
    {
        var result = LoadYaml("version: 0.1\nquotas:\n  - repositories: [a]\n    limit: 1GiB\n    size: 2GiB\n");

        Assert.Contains(result.Warnings, warning => warning.StartsWith("quotas.0.size: unknown configuration key", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_BadSizeFromEnvironment_NamesTheKeyAndVariable()
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml("version: 0.1\n", Environment(
            ("REGISTRY_QUOTAS_0_REPOSITORIES", "[a]"),
            ("REGISTRY_QUOTAS_0_LIMIT", "lots"))));

        Assert.Equal("quotas.0.limit", exception.Key);
        Assert.Contains("REGISTRY_QUOTAS_0_LIMIT", exception.Message, StringComparison.Ordinal);
    }
}
