using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests.WebUi;

/// <summary>Sessions against the real htpasswd access controller: lifetime from config, ended by a password change.</summary>
public sealed class WebUiSessionTests
{
    [Fact]
    public async Task SignIn_SessionLifetimeConfigured_IsTheCookiesMaxAge()
    {
        using var sandbox = new AuthSandbox();
        var htpasswd = sandbox.WriteHtpasswd(("alice", "alice-pw"));
        await using var server = await sandbox.StartAsync($"auth:\n  htpasswd:\n    realm: UI\n    path: '{htpasswd}'\nui:\n  sessionlifetime: 30m\n");
        using var browser = new UiBrowser(server.Client(), server.BaseAddress);

        var response = await browser.SignInAsync("alice", "alice-pw");

        Assert.Equal(HttpStatusCode.Redirect, response.Status);
        var session = Assert.Single(browser.SetCookies, header => header.StartsWith("berth_session=", StringComparison.Ordinal));
        Assert.Contains("max-age=1800", session, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task SignIn_TooManyFailures_Is429OnTheFormAndTheApi()
    {
        using var sandbox = new AuthSandbox();
        var htpasswd = sandbox.WriteHtpasswd(("alice", "alice-pw"));
        await using var server = await sandbox.StartAsync(
            $"auth:\n  htpasswd:\n    realm: UI\n    path: '{htpasswd}'\naccess:\n  failedlogins:\n    limit: 3\n    threshold: 3\n");
        using var browser = new UiBrowser(server.Client(), server.BaseAddress);
        var token = (await browser.GetAsync("/sign-in")).CsrfToken;

        var failures = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            failures.Add((await browser.PostFormAsync("/sign-in",
                UiBrowser.Fields(("csrf", token), ("return", "/"), ("user", "alice"), ("password", "wrong-" + i)))).Status);
        }

        var throttled = await browser.PostFormAsync("/sign-in",
            UiBrowser.Fields(("csrf", token), ("return", "/"), ("user", "alice"), ("password", "alice-pw")));
        using var api = server.Client("alice", "alice-pw");
        using var v2 = await api.GetAsync(new Uri("/v2/", UriKind.Relative));

        Assert.All(failures, status => Assert.Equal(HttpStatusCode.Unauthorized, status));
        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.Status);
        Assert.Contains("Too many failed sign-ins", throttled.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(browser.SetCookies, header => header.StartsWith("berth_session=", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.TooManyRequests, v2.StatusCode);
    }

    [Fact]
    public async Task Session_PasswordChangedInTheFile_Ends()
    {
        using var sandbox = new AuthSandbox();
        var htpasswd = sandbox.WriteHtpasswd(("alice", "alice-pw"), ("bob", "bob-pw"));
        await using var server = await sandbox.StartAsync($"auth:\n  htpasswd:\n    realm: UI\n    path: '{htpasswd}'\n");
        using var alice = new UiBrowser(server.Client(), server.BaseAddress);
        using var bob = new UiBrowser(server.Client(), server.BaseAddress);
        Assert.Equal(HttpStatusCode.Redirect, (await alice.SignInAsync("alice", "alice-pw")).Status);
        Assert.Equal(HttpStatusCode.Redirect, (await bob.SignInAsync("bob", "bob-pw")).Status);
        Assert.Contains("Signed in as <strong>alice</strong>", (await alice.GetAsync("/")).Html, StringComparison.Ordinal);

        // A new password for alice, written beside and renamed over as htpasswd tools do; bob's entry is unchanged.
        var bobLine = (await File.ReadAllLinesAsync(htpasswd)).Single(line => line.StartsWith("bob:", StringComparison.Ordinal));
        var fresh = sandbox.Combine("htpasswd.new");
        await File.WriteAllTextAsync(fresh, $"alice:{BCrypt.Net.BCrypt.HashPassword("new-pw", 4)}\n{bobLine}\n");
        File.Move(fresh, htpasswd, overwrite: true);

        var ended = await Eventually.TrueAsync(async () =>
            !(await alice.GetAsync("/")).Html.Contains("Signed in as", StringComparison.Ordinal), TimeSpan.FromSeconds(15));

        Assert.True(ended, "alice's session outlived her password");
        Assert.Contains("Signed in as <strong>bob</strong>", (await bob.GetAsync("/")).Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, (await alice.SignInAsync("alice", "new-pw")).Status);
    }
}
