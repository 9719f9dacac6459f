using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests.WebUi;

/// <summary>
/// The web UI behind a TLS-terminating reverse proxy, the usual way registry:2 is deployed: the browser's forms carry
/// the public origin (https://registry.example.com), which the registry learns from <c>http.host</c> or from
/// <c>X-Forwarded-Proto</c>/<c>X-Forwarded-Host</c>, as its API's absolute URLs do.
/// </summary>
public sealed class WebUiProxiedTests
{
    private const string PublicOrigin = "https://registry.example.com";

    [Fact]
    public async Task SignIn_BehindProxyWithForwardedHeaders_Works()
    {
        using var sandbox = new AuthSandbox();
        var htpasswd = sandbox.WriteHtpasswd(("alice", "alice-pw"));
        await using var server = await sandbox.StartAsync($"auth:\n  htpasswd:\n    realm: Proxied\n    path: '{htpasswd}'\n");
        using var browser = new UiBrowser(server.Client(), server.BaseAddress);
        browser.Client.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        browser.Client.DefaultRequestHeaders.Add("X-Forwarded-Host", "registry.example.com");
        var form = await browser.GetAsync("/sign-in");

        var response = await browser.PostFormAsync("/sign-in",
            UiBrowser.Fields(("csrf", form.CsrfToken), ("return", "/"), ("user", "alice"), ("password", "alice-pw")), origin: PublicOrigin);

        Assert.Equal(HttpStatusCode.Redirect, response.Status);
        Assert.Contains(browser.SetCookies, header => header.StartsWith("berth_session=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SignIn_BehindProxyWithHttpHost_Works()
    {
        using var sandbox = new AuthSandbox();
        var htpasswd = sandbox.WriteHtpasswd(("alice", "alice-pw"));
        await using var server = await sandbox.StartAsync($"auth:\n  htpasswd:\n    realm: Proxied\n    path: '{htpasswd}'\n",
            $"  host: {PublicOrigin}\n");
        using var browser = new UiBrowser(server.Client(), server.BaseAddress);
        var form = await browser.GetAsync("/sign-in");

        var response = await browser.PostFormAsync("/sign-in",
            UiBrowser.Fields(("csrf", form.CsrfToken), ("return", "/"), ("user", "alice"), ("password", "alice-pw")), origin: PublicOrigin);
        var foreign = await browser.PostFormAsync("/sign-out", UiBrowser.Fields(("csrf", form.CsrfToken)), origin: "https://evil.example");

        Assert.Equal(HttpStatusCode.Redirect, response.Status);
        Assert.Equal(HttpStatusCode.Forbidden, foreign.Status);
    }
}
