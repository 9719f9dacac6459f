using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests.WebUi;

/// <summary>Deleting from the web UI where configuration forbids it: no Delete links, and a posted delete is refused.</summary>
public sealed class WebUiDeleteDisabledTests(DeleteDisabledRegistryFixture fixture) : IClassFixture<DeleteDisabledRegistryFixture>
{
    [Fact]
    public async Task Delete_StorageDeleteDisabled_NoLinksAndRefused()
    {
        var server = fixture.Server;
        var repository = Oci.UniqueRepository("uioff");
        var image = await server.Client.PushImageAsync(repository, "v1");

        await WebUiDeleteUnavailable.AssertRefusedAsync(server, repository, image, "storage.delete.enabled");
    }
}

public sealed class WebUiReadOnlyTests(ReadOnlyRegistryFixture fixture) : IClassFixture<ReadOnlyRegistryFixture>
{
    [Fact]
    public async Task Delete_ReadOnly_NoLinksAndRefused()
    {
        await WebUiDeleteUnavailable.AssertRefusedAsync(fixture.Server, ReadOnlyRegistryFixture.Repository, fixture.Image,
            "storage.maintenance.readonly");
    }
}

internal static class WebUiDeleteUnavailable
{
    public static async Task AssertRefusedAsync(BerthServer server, string repository, PushedImage image, string reason)
    {
        using var browser = new UiBrowser(server.CreateClient(), server.BaseAddress);

        var page = await browser.GetAsync($"/r/{repository}");
        var imagePage = await browser.GetAsync($"/r/{repository}:v1");
        var confirm = await browser.GetAsync($"/delete?repository={Uri.EscapeDataString(repository)}&tag=v1");
        var token = UiHtml.CsrfToken(page.Html) ?? UiHtml.CsrfToken(confirm.Html);
        var byTag = await browser.PostFormAsync("/delete", UiBrowser.Fields(("csrf", token ?? ""), ("repository", repository), ("tag", "v1")));
        var byDigest = await browser.PostFormAsync("/delete",
            UiBrowser.Fields(("csrf", token ?? ""), ("repository", repository), ("digest", image.Manifest.Digest)));

        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.DoesNotContain("href=\"/delete", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"/delete", imagePage.Html, StringComparison.Ordinal);
        Assert.Contains(reason, page.Html, StringComparison.Ordinal);
        Assert.Contains(reason, imagePage.Html, StringComparison.Ordinal);
        Assert.InRange((int)confirm.Status, 400, 499);
        Assert.InRange((int)byTag.Status, 400, 499);
        Assert.InRange((int)byDigest.Status, 400, 499);
        using var manifest = await server.Client.SendAsync(HttpMethod.Get, $"/v2/{repository}/manifests/v1", null, ("Accept", Oci.ImageManifest));
        Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
        Assert.Equal(image.Manifest.Digest, manifest.Header("Docker-Content-Digest"));
    }
}
