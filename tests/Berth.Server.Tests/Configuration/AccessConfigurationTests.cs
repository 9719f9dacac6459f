using Berth.Auth;
using Berth.Server.Configuration;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Configuration;

public sealed class AccessConfigurationTests
{
    private const string Htpasswd = "auth:\n  htpasswd:\n    realm: r\n    path: /etc/htpasswd\n";

    [Fact]
    public void Load_AccessSection_BindsGroupsRulesCatalogAndLimiter()
    {
        var config = LoadYaml("""
            version: 0.1
            auth:
              htpasswd:
                realm: Registry Realm
                path: /auth/htpasswd
            access:
              groups:
                devs: [alice, bob]
                ops: carol
              rules:
                - repositories: ["public/**"]
                  anonymous: [pull]
                - repositories: ["team/**", "shared"]
                  groups: [devs]
                  users: [dave]
                  actions: [pull, push, delete]
                - repositories: "**"
                  groups: ops
                  actions: ["*"]
                - repositories: ["docs/**"]
                  authenticated: [pull]
              catalog:
                anonymous: false
                authenticated: false
                groups: [ops]
              failedlogins:
                threshold: 3
                limit: 8
                window: 10m
                maxdelay: 1s
                trustedproxies: [10.0.0.0/8, 192.0.2.1]
            """).Configuration;

        var access = config.Access;
        Assert.True(access.HasPolicy);
        Assert.Equal(["alice", "bob"], access.Groups["devs"]);
        Assert.Equal(["carol"], access.Groups["ops"]);
        Assert.Equal(4, access.Rules.Count);
        Assert.Equal(RepositoryActions.Pull, access.Rules[0].Anonymous);
        Assert.Equal(["team/**", "shared"], access.Rules[1].Repositories.Select(p => p.Text));
        Assert.Equal(RepositoryActions.All, access.Rules[1].Actions);
        Assert.Equal(["dave"], access.Rules[1].Users);
        Assert.Equal(["ops"], access.Rules[2].Groups);
        Assert.Equal(RepositoryActions.Pull, access.Rules[3].Authenticated);
        Assert.False(access.Catalog.Authenticated);
        Assert.Equal(new FailedLoginLimits
        {
            Threshold = 3,
            Limit = 8,
            Window = TimeSpan.FromMinutes(10),
            MaxDelay = TimeSpan.FromSeconds(1),
            TrustedProxies = access.FailedLogins.TrustedProxies,
        }, access.FailedLogins);
        Assert.Equal(2, access.FailedLogins.TrustedProxies.Count);

        var policy = access.ToPolicy();
        Assert.True(policy.Allows(null, AccessRequest.Repository("public/x", "pull")));
        Assert.True(policy.Allows("bob", AccessRequest.Repository("team/x", "pull", "push")));
        Assert.True(policy.Allows("carol", AccessRequest.Catalog()));
        Assert.False(policy.Allows("bob", AccessRequest.Catalog()));
    }

    [Fact]
    public void Load_NoAccessSection_DefaultsToRegistry2Behaviour()
    {
        var access = LoadYaml("version: 0.1\n" + Htpasswd).Configuration.Access;

        Assert.False(access.HasPolicy);
        Assert.True(access.ToPolicy().IsDefault);
        Assert.Equal((5, 10, TimeSpan.FromMinutes(5)), (access.FailedLogins.Threshold, access.FailedLogins.Limit, access.FailedLogins.Window));
        Assert.Empty(access.FailedLogins.TrustedProxies);
    }

    [Fact]
    public void Load_EnvironmentVariables_SetAccessKeys()
    {
        var access = LoadYaml("version: 0.1\n" + Htpasswd, Environment(
            ("REGISTRY_ACCESS_RULES_0_REPOSITORIES", "[\"public/**\"]"),
            ("REGISTRY_ACCESS_RULES_0_ANONYMOUS", "[pull]"),
            ("REGISTRY_ACCESS_FAILEDLOGINS_LIMIT", "0"))).Configuration.Access;

        Assert.Single(access.Rules);
        Assert.Equal(RepositoryActions.Pull, access.Rules[0].Anonymous);
        Assert.False(access.FailedLogins.Enabled);
    }

    [Theory]
    [InlineData("access:\n  rules:\n    - repositories: [a]\n      anonymous: [write]", "access.rules.0.anonymous.0", "'write' is not an action")]
    [InlineData("access:\n  rules:\n    - repositories: [a]\n      groups: [devs]\n      actions: [pull]", "access.rules.0.groups.0", "unknown group 'devs'")]
    [InlineData("access:\n  rules:\n    - repositories: [a]", "access.rules.0", "the rule grants nothing")]
    [InlineData("access:\n  rules:\n    - anonymous: [pull]", "access.rules.0.repositories", "required")]
    [InlineData("access:\n  rules:\n    - repositories: [a]\n      actions: [pull]", "access.rules.0.actions", "name them")]
    [InlineData("access:\n  rules:\n    - repositories: [a]\n      users: [x]", "access.rules.0.actions", "required when users or groups")]
    [InlineData("access:\n  rules:\n    - repositories: [Team/**]\n      anonymous: [pull]", "access.rules.0.repositories.0", "cannot match a repository name")]
    [InlineData("access:\n  rules:\n    - repositories: [a]\n      anonymous: [pull]\n      colour: blue", null, null)]
    [InlineData("access:\n  groups:\n    devs: ['a:b']", "access.groups.devs.0", "cannot contain ':'")]
    [InlineData("access:\n  failedlogins:\n    limit: 3\n    threshold: 5", "access.failedlogins.threshold", "must not exceed")]
    [InlineData("access:\n  failedlogins:\n    maxdelay: 5m", "access.failedlogins.maxdelay", "at most 30s")]
    [InlineData("access:\n  failedlogins:\n    trustedproxies: [proxy.local]", "access.failedlogins.trustedproxies.0", "expected an IP address")]
    public void Load_InvalidAccessValue_ThrowsNamingTheKey(string yaml, string? key, string? detail)
    {
        if (key is null)
        {
            // Unknown keys are warnings, as everywhere else.
            var result = LoadYaml("version: 0.1\n" + Htpasswd + yaml + "\n");
            Assert.Contains(result.Warnings, w => w.StartsWith("access.rules.0.colour: unknown configuration key", StringComparison.Ordinal));
            return;
        }

        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml("version: 0.1\n" + Htpasswd + yaml + "\n"));

        Assert.Equal(key, exception.Key);
        Assert.Contains(detail!, exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "need auth.htpasswd")]
    [InlineData("auth:\n  token:\n    realm: https://a/token\n    service: s\n    issuer: i\n    rootcertbundle: /c.pem\n", "the token server decides")]
    public void Load_AccessRulesWithoutHtpasswd_AreRefused(string auth, string detail)
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml(
            "version: 0.1\n" + auth + "access:\n  rules:\n    - repositories: [a]\n      anonymous: [pull]\n"));

        Assert.Equal("access", exception.Key);
        Assert.Contains(detail, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_LimiterAloneWithTokenAuth_IsAccepted()
    {
        var config = LoadYaml("""
            version: 0.1
            auth:
              token: {realm: "https://a/token", service: s, issuer: i, rootcertbundle: /c.pem}
            access:
              failedlogins: {limit: 20}
            """).Configuration;

        Assert.Equal(20, config.Access.FailedLogins.Limit);
    }
}
