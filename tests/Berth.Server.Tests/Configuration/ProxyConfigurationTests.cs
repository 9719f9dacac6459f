using Berth.Server.Configuration;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Configuration;

/// <summary>The <c>proxy</c> section: what it accepts, what it refuses naming the key, and what it warns about.</summary>
public sealed class ProxyConfigurationTests
{
    [Fact]
    public void Load_Upstreams_InheritTheSectionsDefaultsAndDockerHubAnswersToDockerIo()
    {
        var loaded = LoadYaml("""
            version: 0.1
            proxy:
              ttl: 24h
              tagcheckinterval: 1m
              upstreams:
                - prefix: hub
                  remoteurl: https://registry-1.docker.io
                - prefix: ghcr
                  remoteurl: https://ghcr.io
                  ttl: 1h
            """);

        var upstreams = loaded.Configuration.Proxy.Upstreams;
        Assert.Equal(["docker.io", "registry-1.docker.io"], upstreams[0].Hosts);
        Assert.Equal(TimeSpan.FromHours(24), upstreams[0].Ttl);
        Assert.Equal(TimeSpan.FromHours(1), upstreams[1].Ttl);
        Assert.Equal(TimeSpan.FromMinutes(1), upstreams[1].TagCheckInterval);
        Assert.Equal("ghcr", upstreams[1].Name);
        Assert.Empty(loaded.Warnings);
    }

    [Theory]
    [InlineData("  remoteurl: https://r.example\n  username: u\n  password: p\n  exec:\n    command: docker-credential-x\n", "proxy.username")]
    [InlineData("  upstreams:\n    - prefix: hub\n      remoteurl: https://r.example\n      password: p\n      exec:\n        command: docker-credential-x\n", "proxy.upstreams.0.password")]
    public void Load_FixedCredentialsBesideAHelper_WarnsNamingTheKey(string proxyYaml, string key)
    {
        var loaded = LoadYaml("version: 0.1\nproxy:\n" + proxyYaml);

        Assert.Contains(loaded.Warnings, w => w.StartsWith(key + ":", StringComparison.Ordinal) && w.Contains("exec", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("  remoteurl: https://r.example\n  requesttimeout: 0s\n", "proxy.requesttimeout")]
    [InlineData("  remoteurl: https://r.example\n  requesttimeout: 2h\n", "proxy.requesttimeout")]
    [InlineData("  remoteurl: https://r.example\n  cachewritetimeout: 8760h\n", "proxy.cachewritetimeout")]
    [InlineData("  remoteurl: https://r.example\n  tagcheckinterval: -1s\n", "proxy.tagcheckinterval")]
    [InlineData("  upstreams:\n    - prefix: hub\n      remoteurl: https://r.example\n      requesttimeout: 5h\n", "proxy.upstreams.0.requesttimeout")]
    [InlineData("  upstreams:\n    - remoteurl: https://r.example\n", "proxy.upstreams.0.prefix")]
    [InlineData("  upstreams:\n    - prefix: Hub!\n      remoteurl: https://r.example\n", "proxy.upstreams.0.prefix")]
    [InlineData("  upstreams:\n    - prefix: a\n      remoteurl: https://a.example\n      hosts: [x.io]\n    - prefix: b\n      remoteurl: https://b.example\n      hosts: [x.io]\n", "proxy.upstreams.1.hosts")]
    [InlineData("  upstreams:\n    - prefix: a\n      remoteurl: https://a.example\n      default: true\n    - prefix: b\n      remoteurl: https://b.example\n      default: true\n", "proxy.upstreams.1.default")]
    [InlineData("  remoteurl: https://r.example\n  upstreams:\n    - prefix: a\n      remoteurl: https://a.example\n", "proxy.upstreams")]
    public void Load_UnusableProxySettings_AreRefusedNamingTheKey(string proxyYaml, string key)
    {
        var error = Assert.Throws<ConfigurationException>(() => LoadYaml("version: 0.1\nproxy:\n" + proxyYaml));

        Assert.StartsWith(key + ":", error.Message, StringComparison.Ordinal);
    }
}
