using System.Globalization;
using System.Net;
using Berth.EndToEnd.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// A real Berth with htpasswd users and access rules: alice owns <c>team-a/**</c>, bob may pull <c>team-b/**</c>,
/// anyone may pull <c>public/**</c>, and admin (who fills the registry) may do everything.
/// </summary>
public sealed class WebUiAccessFixture : IAsyncLifetime
{
    public const string AlicePassword = "alice-Pa55-word";
    public const string BobPassword = "bob-Pa55-word";
    private const string AdminPassword = "admin-Pa55-word";

    private TemporaryDirectory? _directory;

    public RegistryProcess Registry { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _directory = TemporaryDirectory.Create("web-ui-access");
        var htpasswd = _directory.Combine("htpasswd");
        await BerthCliAsync("htpasswd", "-Bbc", htpasswd, "admin", AdminPassword);
        await BerthCliAsync("htpasswd", "-Bb", htpasswd, "alice", AlicePassword);
        await BerthCliAsync("htpasswd", "-Bb", htpasswd, "bob", BobPassword);
        var storage = _directory.Combine("storage");
        Registry = await RegistryProcess.StartAsync(RegistryKind.Berth, "web-ui-access", storage, port => $"""
            version: 0.1
            storage:
              filesystem:
                rootdirectory: {storage}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}
              secret: berth-e2e-web-ui-access
            auth:
              htpasswd:
                realm: Berth UI
                path: {htpasswd}
            access:
              rules:
                - repositories: ["public/**"]
                  anonymous: [pull]
                - repositories: ["team-a/**"]
                  users: [alice]
                  actions: ["*"]
                - repositories: ["team-b/**"]
                  users: [bob]
                  actions: [pull]
                - repositories: ["**"]
                  users: [admin]
                  actions: ["*"]
            health:
              storagedriver:
                enabled: false

            """,
            new RegistryReadiness(port => new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/") },
                HttpStatusCode.Unauthorized));
        using var data = new RegistryTestData(Registry, new CollectingOutput(), new NetworkCredential("admin", AdminPassword));
        foreach (var repository in new[] { "public/base", "team-a/api", "team-a/web", "team-b/secret-project" })
        {
            await data.PushImageAsync(repository, "1.0");
        }
    }

    public async Task DisposeAsync()
    {
        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        _directory?.Dispose();
    }

    private static Task<CommandResult> BerthCliAsync(params string[] arguments) =>
        ExternalCommand.RunCheckedAsync(BuildOutput.DotnetHost, [BuildOutput.ServerAssemblySnapshot, .. arguments], null);
}

/// <summary>
/// The web UI shows each visitor what the access rules let them pull, and nothing else: two users see different lists,
/// an anonymous visitor sees only the public repository, a hidden repository's page looks like a missing one, and the
/// delete link appears only for a user with the delete right.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class WebUiAccessBrowserTests(WebUiAccessFixture registry, BrowserFixture browser, ITestOutputHelper log)
    : IClassFixture<WebUiAccessFixture>
{
    [Fact]
    public async Task Anonymous_SeesOnlyThePublicRepository()
    {
        await using var session = await browser.NewSessionAsync(registry.Registry);
        await session.GotoAsync("/");

        Assert.Equal(["public/base"], await RepositoryNamesAsync(session.Page));
        Assert.Contains("1 repository", await session.Page.Locator(".count").InnerTextAsync(), StringComparison.Ordinal);
        await Assertions.Expect(session.Page.GetByRole(AriaRole.Link, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await session.GotoAsync("/r/team-a/api", expectedStatus: 404);
    }

    [Fact]
    public async Task TwoUsers_SeeDifferentRepositories_AndHiddenOnesAnswerAsMissing()
    {
        await using var alice = await SignedInAsync("alice", WebUiAccessFixture.AlicePassword);
        Assert.Equal(["public/base", "team-a/api", "team-a/web"], await RepositoryNamesAsync(alice.Page));
        Assert.Contains("Signed in as alice", await alice.Page.Locator("header .who").InnerTextAsync(), StringComparison.Ordinal);
        await Screenshots.SaveAsync(alice.Page, "web-ui-signed-in-alice", log);
        var hidden = await (await alice.GotoAsync("/r/team-b/secret-project", expectedStatus: 404)).TextAsync();
        var missing = await alice.GotoAsync("/r/team-b/no-such-project", expectedStatus: 404);
        Assert.Equal(hidden, await missing.TextAsync());
        await alice.GotoAsync("/");
        await alice.Page.GetByLabel("Filter repositories").FillAsync("secret");
        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Filter", Exact = true }).ClickAsync();
        await Assertions.Expect(alice.Page.Locator("#results")).ToContainTextAsync("No repository matches");

        await using var bob = await SignedInAsync("bob", WebUiAccessFixture.BobPassword);
        Assert.Equal(["public/base", "team-b/secret-project"], await RepositoryNamesAsync(bob.Page));
    }

    [Fact]
    public async Task DeleteLinks_OnlyForAUserWithTheDeleteRight()
    {
        await using var alice = await SignedInAsync("alice", WebUiAccessFixture.AlicePassword);
        await alice.GotoAsync("/r/team-a/api");
        Assert.Equal(1, await alice.Page.GetByRole(AriaRole.Link, new() { Name = "Delete tag 1.0" }).CountAsync());

        await using var bob = await SignedInAsync("bob", WebUiAccessFixture.BobPassword);
        await bob.GotoAsync("/r/team-b/secret-project");
        Assert.Equal(0, await bob.Page.GetByRole(AriaRole.Link, new() { Name = "Delete tag 1.0" }).CountAsync());
        await bob.GotoAsync("/delete?repository=team-b/secret-project&tag=1.0", expectedStatus: 403);
    }

    [Fact]
    public async Task SignIn_WrongPassword_SaysSoAndSignsNobodyIn()
    {
        await using var session = await browser.NewSessionAsync(registry.Registry);
        await session.GotoAsync("/sign-in");
        await session.Page.GetByLabel("User name").FillAsync("alice");
        await session.Page.GetByLabel("Password").FillAsync("not-her-password");
        await session.Page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        await Assertions.Expect(session.Page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("Wrong user name or password.");
        await Accessibility.AssertNoSeriousViolationsAsync(session.Page);
        Assert.DoesNotContain(await session.Context.CookiesAsync(), cookie => cookie.Name == "berth_session");
    }

    [Fact]
    public async Task SignOut_EndsTheSession()
    {
        await using var alice = await SignedInAsync("alice", WebUiAccessFixture.AlicePassword);
        var cookie = Assert.Single(await alice.Context.CookiesAsync(), candidate => candidate.Name == "berth_session");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);

        await alice.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();

        await Assertions.Expect(alice.Page.GetByRole(AriaRole.Link, new() { Name = "Sign in" })).ToBeVisibleAsync();
        Assert.Equal(["public/base"], await RepositoryNamesAsync(alice.Page));
    }

    /// <summary>Signs in through the form, as a person does, and lands on the repository list.</summary>
    private async Task<BrowserSession> SignedInAsync(string user, string password)
    {
        var session = await browser.NewSessionAsync(registry.Registry);
        await session.GotoAsync("/");
        await session.Page.GetByRole(AriaRole.Link, new() { Name = "Sign in" }).ClickAsync();
        await session.Page.GetByLabel("User name").FillAsync(user);
        await session.Page.GetByLabel("Password").FillAsync(password);
        await session.Page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(session.Page.Locator("header .who")).ToContainTextAsync("Signed in as " + user);
        return session;
    }

    private static async Task<string[]> RepositoryNamesAsync(IPage page) =>
        [.. await page.Locator("table.list tbody tr td:first-child a").AllInnerTextsAsync()];
}
