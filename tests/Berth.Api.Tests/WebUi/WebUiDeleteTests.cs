using System.Net;
using System.Text.Json;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests.WebUi;

/// <summary>Deleting from the web UI on an open registry (everyone may delete): the confirmation, the form's defences, the effect.</summary>
public sealed class WebUiDeleteTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>
{
    private readonly BerthServer _server = fixture.Server;

    private UiBrowser Browser() => new(_server.CreateClient(), _server.BaseAddress);

    [Fact]
    public async Task RepositoryPage_DeleteAllowed_ShowsDeleteLinks()
    {
        var repository = Oci.UniqueRepository("uidel");
        await _server.Client.PushImageAsync(repository, "v1");
        using var browser = Browser();

        var page = await browser.GetAsync($"/r/{repository}");
        var image = await browser.GetAsync($"/r/{repository}:v1");

        Assert.Contains("aria-label=\"Delete tag v1\"", page.Html, StringComparison.Ordinal);
        Assert.Contains("Delete this manifest", image.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfirmDelete_Tag_NamesWhatGoesAndCarriesAToken()
    {
        var repository = Oci.UniqueRepository("uidel");
        var image = await _server.Client.PushImageAsync(repository, "v1");
        using var browser = Browser();

        var page = await browser.GetAsync($"/delete?repository={Uri.EscapeDataString(repository)}&tag=v1");

        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains($"Delete tag {repository}:v1?", UiHtml.Text(page.Html), StringComparison.Ordinal);
        Assert.Contains(image.Manifest.Digest, page.Html, StringComparison.Ordinal);
        Assert.Contains("garbage", page.Html, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(page.CsrfToken));
        Assert.Contains(browser.SetCookies, header => header.StartsWith("berth_csrf=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Delete_WithoutToken_Is403AndDeletesNothing()
    {
        var (repository, image, browser) = await PrepareAsync();
        using var _ = browser;

        var response = await browser.PostFormAsync("/delete", UiBrowser.Fields(("repository", repository), ("tag", "v1")));

        Assert.Equal(HttpStatusCode.Forbidden, response.Status);
        Assert.Contains("Form refused", response.Html, StringComparison.Ordinal);
        await AssertTaggedAsync(repository, "v1", image.Manifest.Digest);
    }

    [Theory]
    [InlineData("")]
    [InlineData("wrong")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task Delete_WrongToken_Is403AndDeletesNothing(string token)
    {
        var (repository, image, browser) = await PrepareAsync();
        using var _ = browser;

        var response = await browser.PostFormAsync("/delete", UiBrowser.Fields(("csrf", token), ("repository", repository), ("tag", "v1")));

        Assert.Equal(HttpStatusCode.Forbidden, response.Status);
        await AssertTaggedAsync(repository, "v1", image.Manifest.Digest);
    }

    [Theory]
    [InlineData("https://evil.example", "same-origin")]
    [InlineData("http://evil.example", null)]
    [InlineData(null, "cross-site")]
    [InlineData(null, "same-site")]
    public async Task Delete_ForeignOriginWithRightToken_Is403AndDeletesNothing(string? origin, string? fetchSite)
    {
        var (repository, image, browser) = await PrepareAsync();
        using var _ = browser;
        var token = (await browser.GetAsync($"/delete?repository={Uri.EscapeDataString(repository)}&tag=v1")).CsrfToken;

        var response = await browser.PostFormAsync("/delete", UiBrowser.Fields(("csrf", token), ("repository", repository), ("tag", "v1")),
            origin: origin, fetchSite: fetchSite);

        Assert.Equal(HttpStatusCode.Forbidden, response.Status);
        await AssertTaggedAsync(repository, "v1", image.Manifest.Digest);
    }

    [Fact]
    public async Task Delete_TokenOfAnotherBrowser_Is403AndDeletesNothing()
    {
        var (repository, image, victim) = await PrepareAsync();
        using var _ = victim;
        using var attacker = Browser();
        var attackersToken = (await attacker.GetAsync($"/delete?repository={Uri.EscapeDataString(repository)}&tag=v1")).CsrfToken;
        await victim.GetAsync("/");

        var response = await victim.PostFormAsync("/delete", UiBrowser.Fields(("csrf", attackersToken), ("repository", repository), ("tag", "v1")));

        Assert.Equal(HttpStatusCode.Forbidden, response.Status);
        await AssertTaggedAsync(repository, "v1", image.Manifest.Digest);
    }

    [Fact]
    public async Task Delete_RightToken_DeletesTheTagAndKeepsTheManifest()
    {
        var (repository, image, browser) = await PrepareAsync();
        using var _ = browser;
        await _server.Client.PushManifestAsync(repository, "v2", Oci.ImageManifest, image.ManifestBytes);
        var token = (await browser.GetAsync($"/delete?repository={Uri.EscapeDataString(repository)}&tag=v1")).CsrfToken;

        var response = await browser.PostFormAsync("/delete", UiBrowser.Fields(("csrf", token), ("repository", repository), ("tag", "v1")));

        Assert.Equal(HttpStatusCode.Redirect, response.Status);
        Assert.Equal($"/r/{repository}?deleted-tag=v1", response.Location);
        Assert.Equal(["v2"], await TagsAsync(repository));
        using var manifest = await _server.Client.SendAsync(HttpMethod.Get, $"/v2/{repository}/manifests/{image.Manifest.Digest}", null, ("Accept", Oci.ImageManifest));
        Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
        var after = await browser.GetAsync(response.Location!);
        Assert.Contains("Deleted tag v1.", after.Html, StringComparison.Ordinal);
        Assert.Equal(["v2"], UiHtml.TagRows(after.Html, repository));
    }

    [Fact]
    public async Task Delete_ByDigest_RemovesTheManifestAndEveryTagNamingIt()
    {
        var (repository, image, browser) = await PrepareAsync();
        using var _ = browser;
        await _server.Client.PushManifestAsync(repository, "also", Oci.ImageManifest, image.ManifestBytes);
        await _server.Client.PushImageAsync(repository, "other");
        var confirm = await browser.GetAsync($"/delete?repository={Uri.EscapeDataString(repository)}&digest={Uri.EscapeDataString(image.Manifest.Digest)}");
        Assert.Contains("<li><strong>also</strong></li>", confirm.Html, StringComparison.Ordinal);
        Assert.Contains("<li><strong>v1</strong></li>", confirm.Html, StringComparison.Ordinal);

        var response = await browser.PostFormAsync("/delete",
            UiBrowser.Fields(("csrf", confirm.CsrfToken), ("repository", repository), ("digest", image.Manifest.Digest)));

        Assert.Equal(HttpStatusCode.Redirect, response.Status);
        Assert.Equal(["other"], await TagsAsync(repository));
        using var manifest = await _server.Client.SendAsync(HttpMethod.Get, $"/v2/{repository}/manifests/{image.Manifest.Digest}", null, ("Accept", Oci.ImageManifest));
        Assert.Equal(HttpStatusCode.NotFound, manifest.StatusCode);
        using var kept = await _server.Client.SendAsync(HttpMethod.Get, $"/v2/{repository}/manifests/other", null, ("Accept", Oci.ImageManifest));
        Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync($"/r/{repository}@{image.Manifest.Digest}")).Status);
    }

    [Fact]
    public async Task Delete_UnknownTag_Is404AndChangesNothing()
    {
        var (repository, image, browser) = await PrepareAsync();
        using var _ = browser;
        var token = (await browser.GetAsync($"/delete?repository={Uri.EscapeDataString(repository)}&tag=v1")).CsrfToken;

        var response = await browser.PostFormAsync("/delete", UiBrowser.Fields(("csrf", token), ("repository", repository), ("tag", "nope")));

        Assert.Equal(HttpStatusCode.NotFound, response.Status);
        await AssertTaggedAsync(repository, "v1", image.Manifest.Digest);
    }

    [Theory]
    [InlineData(null, "")]
    [InlineData("text/plain", "csrf=x&repository=a&tag=v1")]
    [InlineData("application/json", "{\"repository\":\"a\"}")]
    public async Task Delete_NotAForm_IsRefusedNot500(string? contentType, string body)
    {
        var (repository, image, browser) = await PrepareAsync();
        using var _ = browser;
        var headers = new List<(string, string)> { ("Origin", browser.Origin) };
        if (contentType is not null)
        {
            headers.Add(("Content-Type", contentType));
        }

        var response = await RawHttp.SendAsync(_server.BaseAddress, "POST", "/delete", System.Text.Encoding.UTF8.GetBytes(body), [.. headers]);

        Assert.InRange(response.Status, 400, 499);
        await AssertTaggedAsync(repository, "v1", image.Manifest.Digest);
    }

    [Fact]
    public async Task SignInForm_OpenRegistry_RedirectsHome()
    {
        using var browser = Browser();

        var page = await browser.GetAsync("/sign-in");

        Assert.Equal(HttpStatusCode.Redirect, page.Status);
        Assert.Equal("/", page.Location);
    }

    private async Task<(string Repository, PushedImage Image, UiBrowser Browser)> PrepareAsync()
    {
        var repository = Oci.UniqueRepository("uidel");
        var image = await _server.Client.PushImageAsync(repository, "v1");
        var browser = Browser();
        await browser.GetAsync($"/r/{repository}");
        return (repository, image, browser);
    }

    private async Task<List<string>> TagsAsync(string repository)
    {
        using var response = await _server.Client.GetAsync(new Uri($"/v2/{repository}/tags/list", UriKind.Relative));
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return [];
        }

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("tags") is { ValueKind: JsonValueKind.Array } tags
            ? [.. tags.EnumerateArray().Select(tag => tag.GetString()!)]
            : [];
    }

    private async Task AssertTaggedAsync(string repository, string tag, string digest)
    {
        Assert.Contains(tag, await TagsAsync(repository));
        using var manifest = await _server.Client.SendAsync(HttpMethod.Get, $"/v2/{repository}/manifests/{tag}", null, ("Accept", Oci.ImageManifest));
        Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
        Assert.Equal(digest, manifest.Header("Docker-Content-Digest"));
    }
}
