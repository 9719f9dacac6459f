using System.Text.Json.Nodes;
using Berth.EndToEnd.Tests.Infrastructure;
using Xunit.Sdk;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// The browser fixture end to end: Debian's chromium, driven by Playwright, loads a page of a real Berth, takes a
/// screenshot, reads what a copy button wrote to the clipboard, and the accessibility and keyboard helpers fail on a
/// page that deserves it. The web UI's tests build on these.
/// </summary>
public sealed class BrowserInfrastructureTests(BerthFixture berth, BrowserFixture browser, ITestOutputHelper log)
    : IClassFixture<BerthFixture>, IClassFixture<BrowserFixture>
{
    /// <summary>A page with one labelled and one unlabelled text input.</summary>
    private const string FormPage = """
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8"><title>Form</title></head>
        <body>
          <main>
            <h1>Repositories</h1>
            <label for="filter">Repository filter</label>
            <input id="filter" type="search" name="q">
            <input id="unlabelled" type="text" name="other">
            <button type="button" id="copy" onclick="navigator.clipboard.writeText('docker pull 127.0.0.1/demo/app:1')">Copy pull command</button>
          </main>
        </body>
        </html>
        """;

    [Fact]
    public async Task Browser_RegistryApiRoot_LoadsEmptyJsonAndSavesScreenshot()
    {
        await using var session = await browser.NewSessionAsync(berth.Registry);

        var response = await session.GotoAsync("/v2/");

        Assert.Equal("{}", (await response.TextAsync()).Trim());
        Assert.Equal("{}", (await session.Page.Locator("body").InnerTextAsync()).Trim());
        Assert.Equal($"http://{berth.Registry.Host}/v2/", session.Page.Url);
        var path = await Screenshots.SaveAsync(session.Page, "browser-infrastructure-v2-root", log);
        Assert.Equal(Path.Combine(Screenshots.Directory, "browser-infrastructure-v2-root.png"), path);
        var png = await File.ReadAllBytesAsync(path);
        Assert.True(png.Length > 100 && png.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }),
            $"{path} is not a PNG ({png.Length} bytes).");
        log.WriteLine($"chromium {browser.Version}, launched in {browser.LaunchTime.TotalSeconds:F1} s");
    }

    [Fact]
    public void EnsureChromiumInstalled_Missing_NamesTheFix()
    {
        var failure = Assert.Throws<InvalidOperationException>(() => BrowserFixture.EnsureChromiumInstalled("/nonexistent/chromium"));

        Assert.Contains("install chromium: sudo scripts/test.sh", failure.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/chromium", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Browser_CopyButton_PutsTextOnClipboard()
    {
        await using var session = await browser.NewSessionAsync(berth.Registry);
        // The registry's origin (http://127.0.0.1 is a secure context, as the clipboard API requires), then the test page in it.
        await session.GotoAsync("/v2/");
        await session.Page.SetContentAsync(FormPage);

        await session.Page.GetByRole(Microsoft.Playwright.AriaRole.Button, new() { Name = "Copy pull command" }).ClickAsync();

        Assert.Equal("docker pull 127.0.0.1/demo/app:1", await session.ReadClipboardAsync());
    }

    [Fact]
    public async Task Accessibility_UnlabelledInput_ReportedWithRuleImpactAndTarget()
    {
        await using var session = await browser.NewSessionAsync();
        await session.Page.SetContentAsync(FormPage);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var serious = await Accessibility.SeriousViolationsAsync(session.Page);
        log.WriteLine($"axe-core ran in {started.Elapsed.TotalSeconds:F1} s (chromium launched in {browser.LaunchTime.TotalSeconds:F1} s)");
        var failure = await Assert.ThrowsAsync<FailException>(() => Accessibility.AssertNoSeriousViolationsAsync(session.Page));

        var label = Assert.Single(serious, violation => violation.RuleId == "label");
        Assert.Equal("critical", label.Impact);
        Assert.Equal(["#unlabelled"], label.Targets);
        Assert.Contains("label (critical)", failure.Message, StringComparison.Ordinal);
        Assert.Contains("at #unlabelled", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("#filter", failure.Message, StringComparison.Ordinal);
        log.WriteLine(failure.Message);

        // The same page with the input labelled passes.
        await session.Page.Locator("#unlabelled").EvaluateAsync("e => e.setAttribute('aria-label', 'Other')");
        await Accessibility.AssertNoSeriousViolationsAsync(session.Page);
    }

    [Fact]
    public async Task Keyboard_TabThroughForm_NamesEachControlAndFindsTheUnlabelledOne()
    {
        await using var session = await browser.NewSessionAsync();
        await session.Page.SetContentAsync(FormPage);

        Assert.Equal(new FocusedElement("document", "", "body", null), await KeyboardNavigation.FocusedAsync(session.Page));
        Assert.Equal(new FocusedElement("searchbox", "Repository filter", "input", "filter"), await KeyboardNavigation.TabAsync(session.Page));
        Assert.Equal(new FocusedElement("textbox", "", "input", "unlabelled"), await KeyboardNavigation.TabAsync(session.Page));
        var walked = await KeyboardNavigation.TabUntilAsync(session.Page, element => element.Role == "button");
        Assert.Equal("Copy pull command", Assert.Single(walked).Name);
        Assert.Equal("filter", (await KeyboardNavigation.TabAsync(session.Page, times: 2, backwards: true)).Id);

        var unlabelled = Assert.Single(await KeyboardNavigation.UnlabelledControlsAsync(session.Page));
        Assert.Equal(new UnlabelledControl("input", "text", "unlabelled", "other"), unlabelled);
        await Assert.ThrowsAsync<TrueException>(() => KeyboardNavigation.AssertFormControlsLabelledAsync(session.Page));
    }
}

/// <summary>The data helpers the web UI's tests fill a real Berth with, checked through the registry API.</summary>
public sealed class BrowserTestDataTests(BerthFixture berth, ITestOutputHelper log) : IClassFixture<BerthFixture>, IDisposable
{
    private readonly RegistryTestData _data = new(berth.Registry, log);

    [Fact]
    public async Task PushMultiArchIndex_IndexServedWithTwoPlatforms()
    {
        var pushed = await _data.PushMultiArchIndexAsync(Unique("ui/multiarch"));

        var index = await _data.Api.GetManifestAsync(pushed.Repository, pushed.Tag);
        Assert.Equal(MediaTypes.OciIndex, index.ContentType);
        Assert.Equal(pushed.Index.Digest, index.DigestHeader);
        var platforms = (JsonNode.Parse(index.Content)!["manifests"] as JsonArray ?? [])
            .Select(entry => $"{entry!["platform"]?["os"]}/{entry["platform"]?["architecture"]}").Order();
        Assert.Equal(["linux/amd64", "linux/arm64"], platforms);
        foreach (var image in pushed.Images)
        {
            Assert.Equal(image.Manifest.Digest, (await _data.Api.GetManifestAsync(pushed.Repository, image.Manifest.Digest)).DigestHeader);
        }
    }

    [Fact]
    public async Task PushImageWithReferrer_ReferrersListsTheSignature()
    {
        var (image, referrer) = await _data.PushImageWithReferrerAsync(Unique("ui/signed"));
        var sbom = await _data.AttachReferrerAsync(image.Repository, image.Image.Manifest, ArtifactTypes.SpdxSbom);

        var referrers = await _data.Api.GetReferrersAsync(image.Repository, image.Digest);

        Assert.Equal(
            new[] { (referrer.Manifest.Digest, ArtifactTypes.CosignSignature), (sbom.Manifest.Digest, ArtifactTypes.SpdxSbom) }.Order(),
            referrers.Select(entry => ((string)entry["digest"]!, (string)entry["artifactType"]!)).Order());
        var signature = Assert.Single(await _data.Api.GetReferrersAsync(image.Repository, image.Digest, ArtifactTypes.CosignSignature));
        Assert.Equal(referrer.Manifest.Digest, (string?)signature["digest"]);
        Assert.Equal(["signed"], await _data.Api.ListTagsAsync(image.Repository));
    }

    [Fact]
    public async Task PushHostileImage_ConfigKeepsLabelsEnvEntrypointAndHistoryVerbatim()
    {
        var pushed = await _data.PushHostileImageAsync(Unique("ui/hostile"));

        var config = JsonNode.Parse(await _data.Api.GetBlobAsync(pushed.Repository, pushed.Image.Config.Digest))!;
        Assert.Equal(RegistryTestData.HostileScript, (string?)config["config"]?["Labels"]?["org.opencontainers.image.title"]);
        Assert.Equal(RegistryTestData.HostileAttribute, (string?)config["config"]?["Labels"]?["org.example.attribute"]);
        Assert.Contains($"GREETING={RegistryTestData.HostileScript}", (config["config"]?["Env"] as JsonArray ?? []).Select(e => (string?)e));
        Assert.Equal("/bin/sh", (string?)config["config"]?["Entrypoint"]?[0]);
        Assert.Equal(5, (config["history"] as JsonArray)?.Count);
        var manifest = JsonNode.Parse((await _data.Api.GetManifestAsync(pushed.Repository, pushed.Tag)).Content)!;
        Assert.Equal(RegistryTestData.HostileScript, (string?)manifest["annotations"]?["org.opencontainers.image.title"]);
    }

    [Fact]
    public async Task CreateTags_FiveThousand_TagsListHasThemAll()
    {
        var repository = Unique("ui/many-tags");

        var created = await _data.CreateTagsAsync(repository, 5000);

        log.WriteLine($"5,000 tags: {created}");
        var tags = await _data.Api.ListTagsAsync(repository);
        Assert.Equal(created.Names.Order(StringComparer.Ordinal), tags.Order(StringComparer.Ordinal));
        // Distinct manifests: the first and last tags name different digests.
        Assert.NotEqual((await _data.Api.GetManifestAsync(repository, tags[0])).DigestHeader, (await _data.Api.GetManifestAsync(repository, tags[^1])).DigestHeader);
    }

    [Fact]
    public async Task CreateRepositories_Many_CatalogListsEachWithItsTag()
    {
        var prefix = Unique("ui/repos");

        var created = await _data.CreateRepositoriesAsync(prefix, 200);

        log.WriteLine($"200 repositories: {created}");
        var catalog = await _data.Api.ListAllRepositoriesAsync(pageSize: 50);
        Assert.Equal(created.Names.Order(StringComparer.Ordinal), catalog.Where(name => name.StartsWith(prefix + "/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Equal(["latest"], await _data.Api.ListTagsAsync(created.Names[^1]));
    }

    public void Dispose() => _data.Dispose();

    private static string Unique(string name) => $"{name}-{Guid.NewGuid().ToString("N")[..8]}";
}
