using Berth.Core;

namespace Berth.Proxy.Tests;

public sealed class ProxyRouterTests
{
    private static readonly TimeProvider Clock = TimeProvider.System;

    [Theory]
    [InlineData("hub/library/alpine", null, "hub", "hub/library/alpine", "library/alpine")]
    [InlineData("hub/alpine", null, "hub", "hub/library/alpine", "library/alpine")]
    [InlineData("ghcr/owner/app", null, "ghcr", "ghcr/owner/app", "owner/app")]
    [InlineData("library/alpine", "docker.io", "hub", "hub/library/alpine", "library/alpine")]
    [InlineData("alpine", "docker.io", "hub", "hub/library/alpine", "library/alpine")]
    [InlineData("owner/app", "GHCR.IO", "ghcr", "ghcr/owner/app", "owner/app")]
    public void Route_PrefixOrNamespace_FindsTheUpstreamAndItsName(string name, string? ns, string upstream, string local, string remote)
    {
        var router = TwoUpstreams();

        var routed = router.Route(RepositoryName.Parse(name), ns);

        Assert.NotNull(routed);
        Assert.Equal(upstream, routed.Upstream.Options.Name);
        Assert.Equal(local, routed.LocalName.Value);
        Assert.Equal(remote, routed.RemoteName);
    }

    [Theory]
    [InlineData("team/app", null)]
    [InlineData("hub", null)]
    [InlineData("hubx/library/alpine", null)]
    [InlineData("library/alpine", "quay.io")]
    public void Route_NameNoUpstreamClaims_IsLocal(string name, string? ns)
    {
        Assert.Null(TwoUpstreams().Route(RepositoryName.Parse(name), ns));
    }

    [Fact]
    public void Route_Registry2Mode_EveryNameIsTheUpstreamsAsItIs()
    {
        var router = new ProxyRouter([Upstream("upstream", prefix: null, "https://registry.example")]);

        var routed = router.Route(RepositoryName.Parse("team/app"), null);

        Assert.True(router.MirrorsEverything);
        Assert.Equal("team/app", routed!.LocalName.Value);
        Assert.Equal("team/app", routed.RemoteName);
    }

    [Fact]
    public void RouteToDefault_BareDockerHubName_IsCachedUnderThePrefix()
    {
        var router = new ProxyRouter([Upstream("hub", "hub", "https://registry-1.docker.io", isDefault: true)]);

        var routed = router.RouteToDefault(RepositoryName.Parse("nginx"));

        Assert.Equal("hub/library/nginx", routed!.LocalName.Value);
        Assert.Equal("library/nginx", routed.RemoteName);
    }

    [Fact]
    public void Constructor_TwoRootUpstreams_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => new ProxyRouter([Upstream("a", null, "https://a.example"), Upstream("b", null, "https://b.example")]));
    }

    private static ProxyRouter TwoUpstreams() => new(
    [
        Upstream("hub", "hub", "https://registry-1.docker.io", hosts: ["docker.io"]),
        Upstream("ghcr", "ghcr", "https://ghcr.io", hosts: ["ghcr.io"]),
    ]);

    private static UpstreamRegistry Upstream(string name, string? prefix, string url, string[]? hosts = null, bool isDefault = false) => new(
        new UpstreamOptions { Name = name, Prefix = prefix, RemoteUrl = new Uri(url), Hosts = hosts ?? [], IsDefault = isDefault }, Clock);
}
