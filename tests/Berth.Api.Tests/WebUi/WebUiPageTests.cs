using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests.WebUi;

/// <summary>The web UI's pages on an open registry (no authentication), against the real host.</summary>
public sealed class WebUiPageTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>
{
    private readonly BerthServer _server = fixture.Server;

    private UiBrowser Browser() => new(_server.CreateClient(), _server.BaseAddress);

    [Fact]
    public async Task Pages_OfAnImage_RenderAsHtml()
    {
        var repository = Oci.UniqueRepository("ui");
        var image = await _server.Client.PushImageAsync(repository, "v1");
        using var browser = Browser();

        foreach (var path in new[] { "/", $"/r/{repository}", $"/r/{repository}:v1", $"/r/{repository}@{image.Manifest.Digest}", "/usage", "/sign-in" })
        {
            var page = await browser.GetAsync(path);

            Assert.True(page.Status == HttpStatusCode.OK || (path == "/sign-in" && page.Status == HttpStatusCode.Redirect), $"{path}: {page.Status}\n{page.Html}");
            if (page.Status == HttpStatusCode.OK)
            {
                Assert.Equal("text/html", page.Response.Content.Headers.ContentType?.MediaType);
                Assert.StartsWith("<!DOCTYPE html>", page.Html.TrimStart(), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task RepositoryPage_Image_ShowsTagDigestAndPullCommands()
    {
        var repository = Oci.UniqueRepository("ui");
        var image = await _server.Client.PushImageAsync(repository, "v1");
        using var browser = Browser();

        var list = await browser.GetAsync("/");
        var page = await browser.GetAsync($"/r/{repository}");
        var imagePage = await browser.GetAsync($"/r/{repository}:v1");

        Assert.Contains(repository, UiHtml.RepositoryRows(list.Html));
        Assert.Equal(["v1"], UiHtml.TagRows(page.Html, repository));
        Assert.Contains($"docker pull {_server.BaseAddress.Authority}/{repository}:v1", UiHtml.Text(page.Html), StringComparison.Ordinal);
        Assert.Contains(image.Manifest.Digest, imagePage.Html, StringComparison.Ordinal);
        Assert.Contains($"podman pull {_server.BaseAddress.Authority}/{repository}@{image.Manifest.Digest}", UiHtml.Text(imagePage.Html), StringComparison.Ordinal);
        Assert.Contains("linux/amd64", imagePage.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImagePage_Index_ListsItsPlatformsWithLinks()
    {
        var repository = Oci.UniqueRepository("ui");
        var amd64 = await ManifestKinds.PushChildAsync(_server.Client, repository, Oci.ImageManifest, "amd64");
        var arm64 = await ManifestKinds.PushChildAsync(_server.Client, repository, Oci.ImageManifest, "arm64");
        var index = await _server.Client.PushManifestAsync(repository, "multi", Oci.ImageIndex, Oci.Index([amd64, arm64]));
        using var browser = Browser();

        var page = await browser.GetAsync($"/r/{repository}:multi");
        var byDigest = await browser.GetAsync($"/r/{repository}@{index.Digest}");
        var tags = await browser.GetAsync($"/r/{repository}");

        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains("OCI image index", page.Html, StringComparison.Ordinal);
        Assert.Contains("<td>linux/amd64</td>", page.Html, StringComparison.Ordinal);
        Assert.Contains("<td>linux/arm64</td>", page.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/r/{repository}@{amd64.Digest}\"", page.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/r/{repository}@{arm64.Digest}\"", page.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, byDigest.Status);
        Assert.Contains("linux/amd64, linux/arm64", tags.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync($"/r/{repository}@{amd64.Digest}")).Status);
    }

    [Fact]
    public async Task ImagePage_Referrer_IsListedByArtifactTypeAndOpens()
    {
        var repository = Oci.UniqueRepository("ui");
        var image = await _server.Client.PushImageAsync(repository, "v1");
        var signature = await UiImages.PushReferrerAsync(_server.Client, repository, image.Manifest, "application/vnd.dev.cosign.artifact.sig.v1+json");
        var sbom = await UiImages.PushReferrerAsync(_server.Client, repository, image.Manifest, "application/spdx+json");
        using var browser = Browser();

        var page = await browser.GetAsync($"/r/{repository}:v1");
        var opened = await browser.GetAsync($"/r/{repository}@{signature.Digest}");

        var text = UiHtml.Text(page.Html);
        Assert.Contains($"href=\"/r/{repository}@{signature.Digest}\"", page.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/r/{repository}@{sbom.Digest}\"", page.Html, StringComparison.Ordinal);
        Assert.Contains("application/vnd.dev.cosign.artifact.sig.v1+json", text, StringComparison.Ordinal);
        Assert.Contains("(signature)", text, StringComparison.Ordinal);
        Assert.Contains("(SBOM)", text, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, opened.Status);
        Assert.Contains("OCI artifact", opened.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/r/{repository}@{image.Manifest.Digest}\"", opened.Html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<script>alert(1)</script>")]
    [InlineData("\"><img src=x onerror=alert(1)>")]
    [InlineData("'><svg/onload=alert(1)>")]
    public async Task ImagePage_HostileLabel_IsEncodedNeverRaw(string hostile)
    {
        var repository = Oci.UniqueRepository("ui");
        await UiImages.PushLabelledAsync(_server.Client, repository, "evil", new Dictionary<string, string> { ["org.example.hostile"] = hostile });
        using var browser = Browser();

        var page = await browser.GetAsync($"/r/{repository}:evil");

        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.DoesNotContain(hostile, page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert", page.Html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img src=x", page.Html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<svg", page.Html, StringComparison.OrdinalIgnoreCase);
        // Shown as text: label, annotation and history step.
        Assert.True(CountOf(UiHtml.Text(page.Html), hostile) >= 3, page.Html);
    }

    [Fact]
    public async Task Pages_SecurityHeaders_AreSet()
    {
        var repository = Oci.UniqueRepository("ui");
        await _server.Client.PushImageAsync(repository, "v1");
        using var browser = Browser();

        foreach (var path in new[] { "/", $"/r/{repository}", $"/r/{repository}:v1", "/usage", "/r/no/such/repository" })
        {
            var page = await browser.GetAsync(path);

            var csp = page.Header("Content-Security-Policy");
            Assert.NotNull(csp);
            Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
            Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
            Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
            Assert.Equal("DENY", page.Header("X-Frame-Options"));
            Assert.Equal("nosniff", page.Header("X-Content-Type-Options"));
            Assert.Equal("no-store", page.Header("Cache-Control"));
        }
    }

    [Fact]
    public async Task Pages_InlineScriptsAndStyles_AreAbsent()
    {
        var repository = Oci.UniqueRepository("ui");
        await _server.Client.PushImageAsync(repository, "v1");
        using var browser = Browser();

        var page = await browser.GetAsync($"/r/{repository}:v1");

        // The CSP forbids inline code, so a page that had any would break: every script and style is a file.
        Assert.DoesNotContain("<script>", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<style", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(" style=\"", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(" onclick=", page.Html, StringComparison.Ordinal);
        var css = await browser.Client.GetAsync(new Uri("/_ui/berth.css", UriKind.Relative));
        var js = await browser.Client.GetAsync(new Uri("/_ui/berth.js", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, css.StatusCode);
        Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, js.StatusCode);
        Assert.Equal("text/javascript", js.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.Client.GetAsync(new Uri("/_ui/nothing.css", UriKind.Relative))).StatusCode);
    }

    [Theory]
    [InlineData("/r/no/such/repository")]
    [InlineData("/r/no/such/repository:latest")]
    [InlineData("/r/no/such/repository@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("/r/")]
    [InlineData("/r/UPPER")]
    [InlineData("/r/a//b")]
    [InlineData("/r/a%2F..%2Fb")]
    [InlineData("/r/x:bad!tag")]
    [InlineData("/r/x:")]
    [InlineData("/r/x@sha256:bad")]
    [InlineData("/r/x@")]
    [InlineData("/r/x@@")]
    [InlineData("/r/x%0d%0ay")]
    [InlineData("/r/%ff%fe")]
    public async Task RepositoryOrImage_UnknownOrBadPath_Is404Page(string path)
    {
        using var browser = Browser();

        var page = await browser.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, page.Status);
        Assert.Equal("text/html", page.Response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Not found", page.Html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/r/a/../b")]
    [InlineData("/r/../../etc/passwd")]
    [InlineData("/r/a/./b")]
    [InlineData("/r/a/%2e%2e/b")]
    [InlineData("/r/%2e%2e/%2e%2e/etc/passwd")]
    [InlineData("/r/x%00y")]
    [InlineData("/r/x%0a")]
    public async Task RepositoryOrImage_RawDotSegments_AreNever500(string target)
    {
        var response = await RawHttp.SendAsync(_server.BaseAddress, "GET", target);

        Assert.True(response.Status is 404 or 400 or 200, response.ToString());
        Assert.DoesNotContain("passwd", response.Header("Location") ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImagePage_KnownRepositoryUnknownReference_Is404Page()
    {
        var repository = Oci.UniqueRepository("ui");
        await _server.Client.PushImageAsync(repository, "v1");
        using var browser = Browser();

        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync($"/r/{repository}:v2")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync($"/r/{repository}@{Oci.AbsentDigest()}")).Status);
    }

    [Theory]
    [InlineData("/delete")]
    [InlineData("/delete?repository=no/such&tag=v1")]
    [InlineData("/delete?repository=UPPER&tag=v1")]
    [InlineData("/delete?repository=x&digest=sha256:bad")]
    [InlineData("/delete?repository=x&tag=bad!tag")]
    public async Task ConfirmDelete_UnknownTarget_Is404Page(string path)
    {
        using var browser = Browser();

        var page = await browser.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, page.Status);
        Assert.Equal("text/html", page.Response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task RepositoryPage_OddQuery_IsClampedNot500()
    {
        var repository = Oci.UniqueRepository("ui");
        await _server.Client.PushImageAsync(repository, "v1");
        using var browser = Browser();

        foreach (var query in new[] { "?page=0", "?page=-1", "?page=99999999999", "?page=abc", "?sort=bogus", "?q=%3Cscript%3E", "?q=" + new string('x', 5000) })
        {
            Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync($"/r/{repository}{query}")).Status);
            Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync($"/{query}")).Status);
        }

        var filtered = await browser.GetAsync($"/r/{repository}?q=%3Cscript%3Ealert(1)%3C/script%3E");
        Assert.DoesNotContain("<script>alert(1)", filtered.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RepositoriesPage_EmptyRegistry_SaysHowToPush()
    {
        await using var server = await BerthServer.StartAsync();
        using var browser = new UiBrowser(server.CreateClient(), server.BaseAddress);

        var page = await browser.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains("docker push", page.Html, StringComparison.Ordinal);
        Assert.Empty(UiHtml.RepositoryRows(page.Html));
    }

    [Fact]
    public async Task UsagePage_SharedLayer_IsCountedOnceForTheRegistry()
    {
        await using var server = await BerthServer.StartAsync();
        var shared = Oci.RandomBytes(40_000);
        foreach (var repository in new[] { "usage/one", "usage/two" })
        {
            var config = await server.Client.PushBlobAsync(repository, Oci.ConfigJson(), Oci.ImageConfig);
            var layer = await server.Client.PushBlobAsync(repository, shared, Oci.ImageLayer);
            await server.Client.PushManifestAsync(repository, "v1", Oci.ImageManifest, Oci.Manifest(config, [layer]));
        }

        using var browser = new UiBrowser(server.CreateClient(), server.BaseAddress);
        var page = await browser.GetAsync("/usage");
        for (var attempt = 0; attempt < 50 && !page.Html.Contains("<table", StringComparison.Ordinal); attempt++)
        {
            await Task.Delay(100);
            page = await browser.GetAsync("/usage");
        }

        Assert.Equal(["usage/one", "usage/two"], UiHtml.RepositoryRows(page.Html).Order(StringComparer.Ordinal));
        Assert.Contains("in 5 blobs for the whole registry", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RepositoryPage_UsageMeasured_ShowsItsSizeAndWhatDeletingItFrees()
    {
        await using var server = await BerthServer.StartAsync();
        await server.Client.PushImageAsync("usage/alone", "v1", layerSize: 30_000);
        using var browser = new UiBrowser(server.CreateClient(), server.BaseAddress);
        var usage = await browser.GetAsync("/usage");
        for (var attempt = 0; attempt < 50 && !usage.Html.Contains("<table", StringComparison.Ordinal); attempt++)
        {
            await Task.Delay(100);
            usage = await browser.GetAsync("/usage");
        }

        var page = await browser.GetAsync("/r/usage/alone");

        Assert.Equal(["usage/alone"], UiHtml.RepositoryRows(usage.Html));
        Assert.Contains("in 3 blobs", UiHtml.Text(page.Html), StringComparison.Ordinal);
        Assert.Contains("deleting it would free", page.Html, StringComparison.Ordinal);
    }

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
