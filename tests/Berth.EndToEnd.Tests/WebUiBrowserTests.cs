using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Berth.EndToEnd.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// A real Berth process (no authentication, deletes on), filled by skopeo and the registry API with a multi-arch index,
/// a signed image, an image with hostile labels, a repository of 5,000 tags and 60 small repositories; browsed in
/// Debian's chromium through Playwright.
/// </summary>
public sealed class WebUiRegistryFixture : IAsyncLifetime
{
    public const string ManyTags = "ui/many";
    public const int ManyTagsCount = 5000;

    private TemporaryDirectory? _root;

    public RegistryProcess Registry { get; private set; } = null!;

    public PushedIndex Multi { get; private set; } = null!;

    public PushedImage Signed { get; private set; } = null!;

    public PushedReferrer Signature { get; private set; } = null!;

    public PushedImage Hostile { get; private set; } = null!;

    public string FillLog { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _root = TemporaryDirectory.Create("web-ui-root");
        Registry = await RegistryProcess.StartAsync(RegistryKind.Berth, _root.Path);
        var log = new CollectingOutput();
        using var data = new RegistryTestData(Registry, log);
        Multi = await data.PushMultiArchIndexAsync("ui/multi");
        (Signed, Signature) = await data.PushImageWithReferrerAsync("ui/signed");
        Hostile = await data.PushHostileImageAsync("ui/hostile");
        await data.CreateRepositoriesAsync("ui/team", 60);
        await data.CreateTagsAsync(ManyTags, ManyTagsCount, concurrency: 16);
        FillLog = log.Text;
    }

    public async Task DisposeAsync()
    {
        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        _root?.Dispose();
    }
}

/// <summary>
/// The web UI in a real browser: browse, filter as you type, page and sort 5,000 tags, open an index, an image, its
/// referrer; copy a pull command; delete a tag and see with skopeo that it is gone; hostile labels render as text;
/// every page passes axe-core's serious and critical rules and is usable from the keyboard. Screenshots of each page go
/// to TestResults/screenshots.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed partial class WebUiBrowserTests(WebUiRegistryFixture registry, BrowserFixture browser, ITestOutputHelper log)
    : IClassFixture<WebUiRegistryFixture>
{
    [Fact]
    public async Task Repositories_FilterAsYouType_ShowsOnlyMatchesAndKeepsTheFilterInTheAddress()
    {
        await using var session = await browser.NewSessionAsync(registry.Registry);
        await session.GotoAsync("/");
        Assert.Equal("Repositories", await session.Page.Locator("h1").InnerTextAsync());
        Assert.True(await RepositoryCountAsync(session.Page) >= 64);
        Assert.Equal(50, await session.Page.Locator("table.list tbody tr").CountAsync());
        await Screenshots.SaveAsync(session.Page, "web-ui-repositories", log);

        await session.Page.GetByLabel("Filter repositories").PressSequentiallyAsync("hosti", new() { Delay = 40 });

        await Assertions.Expect(session.Page.Locator("table.list tbody tr")).ToHaveCountAsync(1);
        Assert.Equal("ui/hostile", await session.Page.Locator("table.list tbody tr td a").First.InnerTextAsync());
        await Assertions.Expect(session.Page).ToHaveURLAsync(new Regex(@"\?q=hosti$"));

        await session.Page.GetByRole(AriaRole.Link, new() { Name = "ui/hostile" }).ClickAsync();
        await Assertions.Expect(session.Page.Locator("h1")).ToHaveTextAsync("ui/hostile");
    }

    [Fact]
    public async Task Repositories_Paging_SecondPageHoldsTheRest()
    {
        await using var session = await browser.NewSessionAsync(registry.Registry);
        await session.GotoAsync("/");
        var total = await RepositoryCountAsync(session.Page);

        await session.Page.GetByRole(AriaRole.Link, new() { Name = "Next →" }).ClickAsync();

        await Assertions.Expect(session.Page.Locator(".pager span")).ToHaveTextAsync("Page 2 of 2");
        Assert.Equal(total - 50, await session.Page.Locator("table.list tbody tr").CountAsync());
    }

    /// <summary>The N of "N repositories" above the list (other tests of the class may add repositories).</summary>
    private static async Task<int> RepositoryCountAsync(IPage page) =>
        int.Parse((await page.Locator(".count").InnerTextAsync()).Split(' ')[0], NumberStyles.AllowThousands, CultureInfo.InvariantCulture);

    [Fact]
    public async Task Repository_FiveThousandTags_PagedByHundredAndSortedNewestFirst()
    {
        await using var session = await browser.NewSessionAsync(registry.Registry);
        var started = System.Diagnostics.Stopwatch.StartNew();
        await session.GotoAsync("/r/" + WebUiRegistryFixture.ManyTags);
        log.WriteLine($"first view of {WebUiRegistryFixture.ManyTagsCount} tags: {started.ElapsedMilliseconds} ms in the browser");

        Assert.Contains("5,000 tags", await session.Page.Locator(".facts").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(100, await session.Page.Locator("table.list tbody tr").CountAsync());
        Assert.Equal("Page 1 of 50", await session.Page.Locator(".pager span").InnerTextAsync());
        Assert.Equal("build-00000", await session.Page.Locator("table.list tbody tr td a").First.InnerTextAsync());
        await Screenshots.SaveAsync(session.Page, "web-ui-repository", log);

        await session.Page.GetByRole(AriaRole.Link, new() { Name = "newest first" }).ClickAsync();
        await Assertions.Expect(session.Page.Locator(".count strong")).ToHaveTextAsync("newest first");
        var pushed = await session.Page.Locator("table.list tbody tr td:nth-child(6) time").EvaluateAllAsync<string[]>(
            "times => times.map(t => t.getAttribute('datetime'))");
        Assert.Equal(100, pushed.Length);
        var times = pushed.Select(text => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(times.OrderByDescending(time => time), times);

        await session.Page.GetByLabel("Filter tags").FillAsync("build-0499");
        await session.Page.GetByRole(AriaRole.Button, new() { Name = "Filter", Exact = true }).ClickAsync();
        await Assertions.Expect(session.Page.Locator("table.list tbody tr")).ToHaveCountAsync(10);
    }

    [Fact]
    public async Task Index_ListsBothPlatforms_AndEachOpensItsImage()
    {
        await using var session = await browser.NewSessionAsync(registry.Registry);
        await session.GotoAsync($"/r/{registry.Multi.Repository}:{registry.Multi.Tag}");

        var platforms = await session.Page.Locator("table.list tbody tr td:first-child").AllInnerTextsAsync();
        Assert.Equal(["linux/amd64", "linux/arm64/v8"], platforms.Order(StringComparer.Ordinal).ToArray());
        Assert.Contains("OCI image index", await session.Page.Locator(".facts-grid").First.InnerTextAsync(), StringComparison.Ordinal);
        await Screenshots.SaveAsync(session.Page, "web-ui-index", log);

        await session.Page.Locator("table.list tbody tr", new() { HasText = "linux/arm64" }).Locator("a").ClickAsync();

        await Assertions.Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "Layers" })).ToBeVisibleAsync();
        Assert.Contains("linux/arm64", await session.Page.Locator(".facts-grid").First.InnerTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Image_ListsItsSignature_WhichOpensAndRefersBack()
    {
        await using var session = await browser.NewSessionAsync(registry.Registry);
        await session.GotoAsync($"/r/{registry.Signed.Repository}:{registry.Signed.Tag}");
        await Screenshots.SaveAsync(session.Page, "web-ui-image", log);

        var referrers = session.Page.Locator("h2:text-is('Referrers') ~ h3");
        Assert.Contains(ArtifactTypes.CosignSignature, await referrers.First.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("signature", await referrers.First.InnerTextAsync(), StringComparison.Ordinal);

        await session.Page.Locator($"a[href$='@{registry.Signature.Manifest.Digest}']").ClickAsync();

        Assert.Contains(ArtifactTypes.CosignSignature, await session.Page.Locator(".facts-grid").First.InnerTextAsync(), StringComparison.Ordinal);
        await session.Page.Locator($".facts-grid a[href$='@{registry.Signed.Digest}']").First.ClickAsync();
        await Assertions.Expect(session.Page.Locator("h1")).ToContainTextAsync(registry.Signed.Repository + "@");
    }

    [Fact]
    public async Task Image_CopyButton_PutsThePullCommandOnTheClipboard()
    {
        await using var session = await browser.NewSessionAsync(registry.Registry);
        await session.GotoAsync($"/r/{registry.Signed.Repository}:{registry.Signed.Tag}");
        var expected = $"docker pull {registry.Registry.Host}/{registry.Signed.Repository}@{registry.Signed.Digest}";

        await session.Page.GetByRole(AriaRole.Button, new() { Name = "Copy: " + expected }).ClickAsync();

        Assert.Equal(expected, await session.ReadClipboardAsync());
        await Assertions.Expect(session.Page.GetByRole(AriaRole.Button, new() { Name = "Copy: " + expected })).ToHaveTextAsync("Copied");
    }

    [Fact]
    public async Task Image_HostileLabels_RenderAsTextAndRunNothing()
    {
        await using var session = await browser.NewSessionAsync(registry.Registry);
        var dialogs = new List<string>();
        session.Page.Dialog += (_, dialog) =>
        {
            dialogs.Add(dialog.Message);
            _ = dialog.DismissAsync();
        };

        await session.GotoAsync($"/r/{registry.Hostile.Repository}:{registry.Hostile.Tag}");
        await Screenshots.SaveAsync(session.Page, "web-ui-hostile-labels", log);

        var values = await session.Page.Locator("#labels tbody td:nth-child(2)").AllInnerTextsAsync();
        Assert.Contains(RegistryTestData.HostileScript, values);
        Assert.Contains(RegistryTestData.HostileAttribute, values);
        Assert.Equal(0, await session.Page.Locator("img").CountAsync());
        Assert.Equal(1, await session.Page.Locator("script").CountAsync());
        var html = await session.Page.ContentAsync();
        Assert.DoesNotContain("<script>alert(1)", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<img src=x", html, StringComparison.Ordinal);
        Assert.Empty(dialogs);
    }

    [Fact]
    public async Task DeleteTag_AfterConfirming_IsGoneForSkopeoAndTheOtherTagStays()
    {
        using var data = new RegistryTestData(registry.Registry, log);
        var kept = await data.PushImageAsync("ui/deleteme", "v2");
        await data.PushImageAsync("ui/deleteme", "v1");
        await using var session = await browser.NewSessionAsync(registry.Registry);
        await session.GotoAsync("/r/ui/deleteme");

        await session.Page.GetByRole(AriaRole.Link, new() { Name = "Delete tag v1" }).ClickAsync();
        await Assertions.Expect(session.Page.Locator("h1")).ToHaveTextAsync("Delete tag ui/deleteme:v1?");
        await Screenshots.SaveAsync(session.Page, "web-ui-delete-confirmation", log);
        await Accessibility.AssertNoSeriousViolationsAsync(session.Page);
        await session.Page.GetByRole(AriaRole.Button, new() { Name = "Delete tag" }).ClickAsync();

        await Assertions.Expect(session.Page.Locator(".notice")).ToHaveTextAsync("Deleted tag v1.");
        var skopeo = new Skopeo(log, registry.Registry);
        Assert.Equal(["v2"], await skopeo.ListTagsAsync($"docker://{registry.Registry.Host}/ui/deleteme"));
        var gone = await skopeo.TryRunAsync(["inspect", "--tls-verify=false", $"docker://{registry.Registry.Host}/ui/deleteme:v1"]);
        Assert.NotEqual(0, gone.ExitCode);
        Assert.Contains(kept.Digest, await skopeo.InspectAsync($"docker://{registry.Registry.Host}/ui/deleteme:v2"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryPage_PassesAxeSeriousAndCriticalRules_AndLabelsItsFormControls()
    {
        await using var session = await browser.NewSessionAsync(registry.Registry);
        string[] pages =
        [
            "/",
            "/r/" + WebUiRegistryFixture.ManyTags,
            $"/r/{registry.Multi.Repository}:{registry.Multi.Tag}",
            $"/r/{registry.Hostile.Repository}:{registry.Hostile.Tag}",
            $"/r/{registry.Signed.Repository}@{registry.Signature.Manifest.Digest}",
            "/usage",
            "/r/no/such/repository",
        ];
        foreach (var path in pages)
        {
            await session.Page.GotoAsync(path);
            await Accessibility.AssertNoSeriousViolationsAsync(session.Page);
            await KeyboardNavigation.AssertFormControlsLabelledAsync(session.Page);
        }

        await session.GotoAsync("/usage");
        await Screenshots.SaveAsync(session.Page, "web-ui-usage", log);
    }

    [Fact]
    public async Task Keyboard_FirstTabIsTheSkipLink_ThenTheFilterIsReachableAndFiltersOnEnter()
    {
        await using var session = await browser.NewSessionAsync(registry.Registry);
        await session.GotoAsync("/");

        var first = await KeyboardNavigation.TabAsync(session.Page);
        Assert.Equal("Skip to content", first.Name);
        await KeyboardNavigation.TabUntilAsync(session.Page, focused => focused.Name == "Filter repositories");
        await session.Page.Keyboard.TypeAsync("ui/team/0005");
        await session.Page.Keyboard.PressAsync("Enter");

        await Assertions.Expect(session.Page).ToHaveURLAsync(new Regex(@"q=ui%2Fteam%2F0005"));
        Assert.Equal(10, await session.Page.Locator("table.list tbody tr").CountAsync());
    }
}

/// <summary>Keeps what a fixture's helpers log, for a failure message.</summary>
internal sealed class CollectingOutput : ITestOutputHelper
{
    private readonly System.Text.StringBuilder _text = new();

    public string Text
    {
        get
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    public void WriteLine(string message)
    {
        lock (_text)
        {
            _text.AppendLine(message);
        }
    }

    public void WriteLine(string format, params object[] args) => WriteLine(string.Format(CultureInfo.InvariantCulture, format, args));
}
