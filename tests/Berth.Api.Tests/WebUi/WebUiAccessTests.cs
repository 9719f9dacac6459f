using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests.WebUi;

/// <summary>
/// htpasswd with access rules: anonymous pulls <c>public/**</c>; alice (group devs) pulls and pushes <c>team/**</c> but
/// may not delete; bob may do everything in <c>users/bob/**</c>; admin everything. The admin pushes the content.
/// </summary>
public sealed class UiPolicyFixture : IAsyncLifetime
{
    public static readonly string[] Seeded = ["public/app", "team/app", "team/other", "users/bob/tool", "secret/db"];

    private readonly AuthSandbox _sandbox = new();

    public AuthTestServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var path = _sandbox.WriteHtpasswd(("admin", "admin-pw"), ("alice", "alice-pw"), ("bob", "bob-pw"));
        Server = await _sandbox.StartAsync($"""
            auth:
              htpasswd:
                realm: UI Realm
                path: '{path}'
            access:
              groups:
                devs: [alice]
              rules:
                - repositories: ["public/**"]
                  anonymous: [pull]
                - repositories: ["team/**"]
                  groups: [devs]
                  actions: [pull, push]
                - repositories: ["users/bob/**"]
                  users: [bob]
                  actions: ["*"]
                - repositories: ["**"]
                  users: [admin]
                  actions: ["*"]
            """);
        using var admin = Server.Client("admin", "admin-pw");
        foreach (var repository in Seeded)
        {
            await admin.PushImageAsync(repository, "v1", layerSize: 2000);
        }
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        _sandbox.Dispose();
    }
}

public sealed class WebUiAccessTests(UiPolicyFixture fixture) : IClassFixture<UiPolicyFixture>
{
    private readonly AuthTestServer _server = fixture.Server;

    private UiBrowser Browser() => new(_server.Client(), _server.BaseAddress);

    private async Task<UiBrowser> SignedInAsync(string user)
    {
        var browser = Browser();
        var response = await browser.SignInAsync(user, user + "-pw");
        Assert.Equal(HttpStatusCode.Redirect, response.Status);
        return browser;
    }

    [Fact]
    public async Task RepositoriesPage_TwoUsers_SeeDifferentListsAndCounts()
    {
        using var alice = await SignedInAsync("alice");
        using var bob = await SignedInAsync("bob");

        var alicePage = await alice.GetAsync("/");
        var bobPage = await bob.GetAsync("/");

        // Anonymous rights (public/**) are everyone's.
        Assert.Equal(["public/app", "team/app", "team/other"], UiHtml.RepositoryRows(alicePage.Html).Order(StringComparer.Ordinal));
        Assert.Contains("3 repositories", UiHtml.Text(alicePage.Html), StringComparison.Ordinal);
        Assert.Contains("Signed in as <strong>alice</strong>", alicePage.Html, StringComparison.Ordinal);
        var bobRows = UiHtml.RepositoryRows(bobPage.Html);
        Assert.Contains("users/bob/tool", bobRows);
        Assert.All(bobRows, row => Assert.True(row == "public/app" || row.StartsWith("users/bob/", StringComparison.Ordinal), row));
        Assert.DoesNotContain("team/app", bobRows);
        Assert.DoesNotContain("secret", alicePage.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", bobPage.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RepositoriesPage_Admin_SeesEverything()
    {
        using var admin = await SignedInAsync("admin");

        var rows = UiHtml.RepositoryRows((await admin.GetAsync("/")).Html);

        Assert.All(UiPolicyFixture.Seeded, repository => Assert.Contains(repository, rows));
    }

    [Fact]
    public async Task RepositoriesPage_Anonymous_SeesOnlyWhatAnonymousRulesAllow()
    {
        using var anonymous = Browser();

        var page = await anonymous.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Equal(["public/app"], UiHtml.RepositoryRows(page.Html));
        Assert.Contains("1 repository", UiHtml.Text(page.Html), StringComparison.Ordinal);
        Assert.Contains("href=\"/sign-in?return=", page.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/r/public/app:v1")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/r/team/app")).Status);
    }

    [Fact]
    public async Task RepositoriesPage_SearchForAHiddenRepository_FindsNothing()
    {
        using var alice = await SignedInAsync("alice");

        var page = await alice.GetAsync("/?q=secret");

        Assert.Empty(UiHtml.RepositoryRows(page.Html));
        Assert.DoesNotContain("secret/db", page.Html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/r/secret/db", "/r/team/nonexistent")]
    [InlineData("/r/secret/db", "/r/nothing/here")]
    [InlineData("/r/secret/db:v1", "/r/nothing/here:v1")]
    [InlineData("/r/users/bob/tool", "/r/users/bob/nothing")]
    public async Task RepositoryPage_MayNotPull_IsThe404OfANonexistentRepository(string hidden, string nonexistent)
    {
        using var alice = await SignedInAsync("alice");

        var hiddenPage = await alice.GetAsync(hidden);
        var missingPage = await alice.GetAsync(nonexistent);

        Assert.Equal(HttpStatusCode.NotFound, hiddenPage.Status);
        Assert.Equal(HttpStatusCode.NotFound, missingPage.Status);
        Assert.Equal(missingPage.Html, hiddenPage.Html);
        Assert.Equal(missingPage.Response.Content.Headers.ContentLength, hiddenPage.Response.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task ImagePage_MayNotPullByDigest_Is404()
    {
        using var admin = _server.Client("admin", "admin-pw");
        using var head = await admin.SendAsync(HttpMethod.Head, "/v2/secret/db/manifests/v1", null, ("Accept", Oci.ImageManifest));
        var digest = head.Header("Docker-Content-Digest");
        using var alice = await SignedInAsync("alice");

        var page = await alice.GetAsync($"/r/secret/db@{digest}");

        Assert.Equal(HttpStatusCode.NotFound, page.Status);
        Assert.DoesNotContain(digest!, page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsagePage_MayNotPull_IsAbsent()
    {
        using var alice = await SignedInAsync("alice");

        var page = await UsageAsync(alice);

        Assert.Equal(["public/app", "team/app", "team/other"], UiHtml.RepositoryRows(page.Html).Order(StringComparer.Ordinal));
        Assert.DoesNotContain("secret", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("users/bob", page.Html, StringComparison.Ordinal);
    }

    /// <summary>
    /// The storage-use page states the registry-wide total ("N blobs for the whole registry"), which counts the blobs of
    /// repositories the visitor may not pull: an anonymous visitor learns how much hidden content there is.
    /// </summary>
    [Fact]
    public async Task UsagePage_Anonymous_TotalsCountOnlyVisibleRepositories()
    {
        using var anonymous = Browser();

        var page = await UsageAsync(anonymous);

        Assert.Equal(["public/app"], UiHtml.RepositoryRows(page.Html));
        // public/app links 3 blobs (config, layer, manifest); the registry holds at least 15.
        Assert.DoesNotContain("for the whole registry", page.Html, StringComparison.Ordinal);
        var total = System.Text.RegularExpressions.Regex.Match(page.Html, @"in (\d+) blobs? for the repositories you can see");
        Assert.True(total.Success, page.Html);
        Assert.Equal("3", total.Groups[1].Value);
    }

    [Fact]
    public async Task SignIn_WrongPassword_Is401PageWithoutCookie()
    {
        using var browser = Browser();
        var form = await browser.GetAsync("/sign-in");

        var response = await browser.PostFormAsync("/sign-in",
            UiBrowser.Fields(("csrf", form.CsrfToken), ("return", "/"), ("user", "alice"), ("password", "wrong")));

        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Equal("text/html", response.Response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Wrong user name or password.", response.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(browser.SetCookies, header => header.StartsWith("berth_session=", StringComparison.Ordinal));
        Assert.Null(response.Response.Headers.WwwAuthenticate.FirstOrDefault());
    }

    [Fact]
    public async Task SignIn_UnknownUser_IsTheSame401()
    {
        using var browser = Browser();
        var form = await browser.GetAsync("/sign-in");

        var response = await browser.PostFormAsync("/sign-in",
            UiBrowser.Fields(("csrf", form.CsrfToken), ("return", "/"), ("user", "mallory"), ("password", "x")));

        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Contains("Wrong user name or password.", response.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignIn_RightPassword_SetsAStrictHttpOnlySessionCookieAndRedirects()
    {
        using var browser = Browser();

        var response = await browser.SignInAsync("alice", "alice-pw", "/r/team/app");

        Assert.Equal(HttpStatusCode.Redirect, response.Status);
        Assert.Equal("/r/team/app", response.Location);
        var cookie = Assert.Single(response.Response.Headers.GetValues("Set-Cookie"), header => header.StartsWith("berth_session=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("; secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/r/team/app")).Status);
    }

    [Theory]
    [InlineData("//evil.example/")]
    [InlineData("https://evil.example/")]
    [InlineData("/\\evil.example")]
    [InlineData("/\t/evil.example")]
    public async Task SignIn_ForeignReturn_GoesHome(string returnTo)
    {
        using var browser = Browser();

        var response = await browser.SignInAsync("alice", "alice-pw", returnTo);

        Assert.Equal(HttpStatusCode.Redirect, response.Status);
        Assert.Equal("/", response.Location);
    }

    [Fact]
    public async Task SignIn_WithoutToken_Is403AndNoSession()
    {
        using var browser = Browser();
        await browser.GetAsync("/sign-in");

        var response = await browser.PostFormAsync("/sign-in", UiBrowser.Fields(("return", "/"), ("user", "alice"), ("password", "alice-pw")));

        Assert.Equal(HttpStatusCode.Forbidden, response.Status);
        Assert.DoesNotContain(browser.SetCookies, header => header.StartsWith("berth_session=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SignOut_WithToken_ClearsTheSession()
    {
        using var browser = await SignedInAsync("alice");
        var home = await browser.GetAsync("/");

        var response = await browser.PostFormAsync("/sign-out", UiBrowser.Fields(("csrf", home.CsrfToken)));

        Assert.Equal(HttpStatusCode.Redirect, response.Status);
        var cleared = Assert.Single(response.Response.Headers.GetValues("Set-Cookie"), header => header.StartsWith("berth_session=", StringComparison.Ordinal));
        Assert.StartsWith("berth_session=;", cleared, StringComparison.Ordinal);
        Assert.Contains("expires=Thu, 01 Jan 1970", cleared, StringComparison.OrdinalIgnoreCase);
        Assert.False(browser.Cookies.ContainsKey("berth_session"));
        Assert.Equal(["public/app"], UiHtml.RepositoryRows((await browser.GetAsync("/")).Html));
    }

    [Fact]
    public async Task SignOut_ForeignOrigin_Is403AndKeepsTheSession()
    {
        using var browser = await SignedInAsync("alice");
        var home = await browser.GetAsync("/");

        var response = await browser.PostFormAsync("/sign-out", UiBrowser.Fields(("csrf", home.CsrfToken)), origin: "https://evil.example");

        Assert.Equal(HttpStatusCode.Forbidden, response.Status);
        Assert.Contains("team/app", UiHtml.RepositoryRows((await browser.GetAsync("/")).Html));
    }

    [Fact]
    public async Task Session_ForgedCookie_IsAnonymous()
    {
        using var browser = Browser();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/", UriKind.Relative));
        var payload = System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes("9999999999\n\nadmin"));
        request.Headers.TryAddWithoutValidation("Cookie", "berth_session=" + payload + ".AAAA");

        using var response = await browser.Client.SendAsync(request);

        Assert.Equal(["public/app"], UiHtml.RepositoryRows(await response.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task Delete_UserWithoutTheDeleteRight_SeesNoLinksAndIsRefused()
    {
        using var alice = await SignedInAsync("alice");

        var page = await alice.GetAsync("/r/team/app");
        var image = await alice.GetAsync("/r/team/app:v1");
        var confirm = await alice.GetAsync("/delete?repository=team/app&tag=v1");
        var response = await alice.PostFormAsync("/delete", UiBrowser.Fields(("csrf", page.CsrfToken), ("repository", "team/app"), ("tag", "v1")));

        Assert.DoesNotContain("Delete tag", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"/delete", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"/delete", image.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, confirm.Status);
        Assert.Equal(HttpStatusCode.Forbidden, response.Status);
        Assert.Contains("alice may not delete from team/app.", response.Html, StringComparison.Ordinal);
        using var admin = _server.Client("admin", "admin-pw");
        using var manifest = await admin.SendAsync(HttpMethod.Head, "/v2/team/app/manifests/v1", null, ("Accept", Oci.ImageManifest));
        Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
    }

    [Fact]
    public async Task Delete_AnonymousOnPublic_IsRefused()
    {
        using var anonymous = Browser();
        var page = await anonymous.GetAsync("/r/public/app");
        var token = (await anonymous.GetAsync("/sign-in")).CsrfToken;

        var response = await anonymous.PostFormAsync("/delete", UiBrowser.Fields(("csrf", token), ("repository", "public/app"), ("tag", "v1")));

        Assert.Equal(HttpStatusCode.Forbidden, response.Status);
        Assert.DoesNotContain("href=\"/delete", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_HiddenRepository_IsThe404OfANonexistentOne()
    {
        using var alice = await SignedInAsync("alice");
        var token = (await alice.GetAsync("/")).CsrfToken;

        var hidden = await alice.PostFormAsync("/delete", UiBrowser.Fields(("csrf", token), ("repository", "secret/db"), ("tag", "v1")));
        var missing = await alice.PostFormAsync("/delete", UiBrowser.Fields(("csrf", token), ("repository", "nothing/here"), ("tag", "v1")));

        Assert.Equal(HttpStatusCode.NotFound, hidden.Status);
        Assert.Equal(missing.Html, hidden.Html);
    }

    [Fact]
    public async Task Delete_UserWithTheDeleteRight_DeletesWithTheSessionToken()
    {
        using var admin = _server.Client("admin", "admin-pw");
        var repository = Oci.UniqueRepository("users/bob");
        var image = await admin.PushImageAsync(repository, "v1");
        using var bob = Browser();
        var anonymousToken = (await bob.GetAsync("/sign-in")).CsrfToken;
        Assert.Equal(HttpStatusCode.Redirect, (await bob.SignInAsync("bob", "bob-pw")).Status);

        var stale = await bob.PostFormAsync("/delete", UiBrowser.Fields(("csrf", anonymousToken), ("repository", repository), ("tag", "v1")));
        var page = await bob.GetAsync($"/r/{repository}");
        var response = await bob.PostFormAsync("/delete", UiBrowser.Fields(("csrf", page.CsrfToken), ("repository", repository), ("tag", "v1")));

        Assert.Equal(HttpStatusCode.Forbidden, stale.Status);
        Assert.Contains("aria-label=\"Delete tag v1\"", page.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, response.Status);
        using var tag = await admin.SendAsync(HttpMethod.Head, $"/v2/{repository}/manifests/v1", null, ("Accept", Oci.ImageManifest));
        Assert.Equal(HttpStatusCode.NotFound, tag.StatusCode);
        using var byDigest = await admin.SendAsync(HttpMethod.Head, $"/v2/{repository}/manifests/{image.Manifest.Digest}", null, ("Accept", Oci.ImageManifest));
        Assert.Equal(HttpStatusCode.OK, byDigest.StatusCode);
    }

    private static async Task<UiPage> UsageAsync(UiBrowser browser)
    {
        var page = await browser.GetAsync("/usage");
        for (var attempt = 0; attempt < 50 && !page.Html.Contains("blobs for the whole registry", StringComparison.Ordinal); attempt++)
        {
            await Task.Delay(100);
            page = await browser.GetAsync("/usage");
        }

        Assert.Equal(HttpStatusCode.OK, page.Status);
        return page;
    }
}
