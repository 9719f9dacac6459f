using System.Net;
using Berth.Api.Tests.Infrastructure;
using Berth.Server;
using Berth.Server.Configuration;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Api.Tests.WebUi;

/// <summary>What turns the UI off, and what the registry answers then.</summary>
public sealed class WebUiConfigurationTests(TokenRegistryFixture tokenFixture) : IClassFixture<TokenRegistryFixture>
{
    [Fact]
    public async Task UiDisabled_Root_IsRegistry2sEmpty200AndPagesAre404()
    {
        await using var server = await BerthServer.StartAsync(new BerthServerOptions { ExtraYaml = "ui:\n  enabled: false\n" });
        await server.Client.PushImageAsync("off/app", "v1");

        await AssertUiOffAsync(server.Client);
    }

    [Fact]
    public async Task UiDisabledByEnvironment_Root_IsRegistry2sEmpty200AndPagesAre404()
    {
        var sandbox = Path.Combine(Path.GetTempPath(), "berth-ui-env-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(sandbox);
        try
        {
            var config = Path.Combine(sandbox, "config.yml");
            await File.WriteAllTextAsync(config, $"""
                version: 0.1
                log:
                  level: error
                storage:
                  filesystem:
                    rootdirectory: '{Path.Combine(sandbox, "storage")}'
                http:
                  addr: 127.0.0.1:0
                  secret: ui-env-tests
                """);
            var environment = new Dictionary<string, string>(StringComparer.Ordinal) { ["REGISTRY_UI_ENABLED"] = "false" };

            var loaded = ConfigurationLoader.Load(config, environment);
            Assert.False(loaded.Configuration.Ui.Enabled);
            await using var app = RegistryHost.Build(loaded.Configuration, loaded.Warnings);
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
                .First(a => a.StartsWith("http://127.0.0.1:", StringComparison.Ordinal));
            using var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(address) };

            await AssertUiOffAsync(client);
            await app.StopAsync();
        }
        finally
        {
            Directory.Delete(sandbox, recursive: true);
        }
    }

    [Fact]
    public async Task TokenAuth_Pages_Are404SayingTheUiIsOff_WhileV2Works()
    {
        var server = tokenFixture.Server;
        using var browser = new UiBrowser(server.Client(), server.BaseAddress);

        foreach (var path in new[] { "/", "/r/team/app", "/usage", "/sign-in", "/delete?repository=team/app&tag=v1" })
        {
            var page = await browser.GetAsync(path);

            Assert.Equal(HttpStatusCode.NotFound, page.Status);
            Assert.Equal("text/html", page.Response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("The web UI is off", page.Html, StringComparison.Ordinal);
            Assert.Equal("DENY", page.Header("X-Frame-Options"));
        }

        foreach (var path in new[] { "/sign-in", "/sign-out", "/delete" })
        {
            var post = await browser.PostFormAsync(path, UiBrowser.Fields(("user", "x"), ("password", "y")));
            Assert.Equal(HttpStatusCode.NotFound, post.Status);
        }

        using var challenge = await server.Client().GetAsync(new Uri("/v2/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, challenge.StatusCode);
        using var authorized = server.BearerClient(tokenFixture.Token([]));
        using var v2 = await authorized.GetAsync(new Uri("/v2/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, v2.StatusCode);
    }

    [Fact]
    public async Task Https_SessionCookie_IsSecure()
    {
        using var sandbox = new AuthSandbox();
        using var pki = new AuthPki();
        pki.WriteServerCertificate(sandbox.Directory, "server");
        var htpasswd = sandbox.WriteHtpasswd(("alice", "alice-pw"));
        await using var server = await sandbox.StartAsync(
            $"auth:\n  htpasswd:\n    realm: TLS\n    path: '{htpasswd}'\n",
            $"  tls:\n    certificate: '{sandbox.Combine("server.crt")}'\n    key: '{sandbox.Combine("server.key")}'\n");
        using var browser = new UiBrowser(server.Client(pki.Ca), server.BaseAddress);

        var response = await browser.SignInAsync("alice", "alice-pw");

        Assert.Equal(HttpStatusCode.Redirect, response.Status);
        var session = Assert.Single(browser.SetCookies, header => header.StartsWith("berth_session=", StringComparison.Ordinal));
        Assert.Contains("; secure", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", session, StringComparison.OrdinalIgnoreCase);
        Assert.All(browser.SetCookies.Where(header => header.StartsWith("berth_csrf=", StringComparison.Ordinal)),
            header => Assert.Contains("; secure", header, StringComparison.OrdinalIgnoreCase));
        Assert.Contains("Signed in as <strong>alice</strong>", (await browser.GetAsync("/")).Html, StringComparison.Ordinal);
    }

    private static async Task AssertUiOffAsync(HttpClient client)
    {
        using var root = await client.GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, root.StatusCode);
        Assert.Empty(await root.Content.ReadAsByteArrayAsync());
        foreach (var path in new[] { "/r/x", "/r/off/app", "/usage", "/sign-in", "/_ui/berth.css" })
        {
            using var page = await client.GetAsync(new Uri(path, UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
            Assert.NotEqual("text/html", page.Content.Headers.ContentType?.MediaType);
        }

        using var v2 = await client.GetAsync(new Uri("/v2/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, v2.StatusCode);
    }
}
