using System.Net;
using System.Text.RegularExpressions;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests.WebUi;

/// <summary>
/// With online garbage collection scheduled once a day, a delete from the web UI that asks for a collection gets one
/// right away: the deleted image's only layer leaves storage within seconds; without the request it stays.
/// </summary>
public sealed partial class CollectNowTests
{
    private static readonly string[] DailyCollection =
    [
        "garbagecollection:",
        "  enabled: true",
        "  interval: 24h",
        "  graceperiod: 0s",
        "uploadpurging:",
        "  enabled: false",
    ];

    [Fact]
    public async Task Delete_WithCollectNow_CollectsTheFreedLayerAtOnce()
    {
        await using var server = await BerthServer.StartAsync(new BerthServerOptions { MaintenanceYaml = DailyCollection });
        var image = await server.Client.PushImageAsync("gc/now", "v1", layerSize: 64 * 1024);

        var response = await DeleteThroughUiAsync(server, image, collectNow: true);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.True(await Eventually.TrueAsync(() => !File.Exists(BlobData(server, image.Layer.Digest)), TimeSpan.FromSeconds(30)),
            "the layer only the deleted image used is still in storage 30 s after a delete that asked for a collection");
    }

    [Fact]
    public async Task Delete_WithoutCollectNow_LeavesTheLayerForTheScheduledRun()
    {
        await using var server = await BerthServer.StartAsync(new BerthServerOptions { MaintenanceYaml = DailyCollection });
        var image = await server.Client.PushImageAsync("gc/later", "v1", layerSize: 64 * 1024);

        var response = await DeleteThroughUiAsync(server, image, collectNow: false);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync($"/v2/gc/later/manifests/{image.Manifest.Digest}")).StatusCode);
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.True(File.Exists(BlobData(server, image.Layer.Digest)));
    }

    /// <summary>Opens the confirmation page as a browser would (keeping its cookie) and posts its form.</summary>
    private static async Task<HttpResponseMessage> DeleteThroughUiAsync(BerthServer server, PushedImage image, bool collectNow)
    {
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false })
        {
            BaseAddress = server.BaseAddress,
        };
        var page = await browser.GetStringAsync($"/delete?repository={image.Repository}&digest={Uri.EscapeDataString(image.Manifest.Digest)}");
        Assert.Contains("Collect garbage right after", page, StringComparison.Ordinal);
        var token = CsrfToken().Match(page).Groups["token"].Value;
        var fields = new Dictionary<string, string> { ["csrf"] = token, ["repository"] = image.Repository, ["digest"] = image.Manifest.Digest };
        if (collectNow)
        {
            fields["collect"] = "now";
        }

        return await browser.PostAsync("/delete", new FormUrlEncodedContent(fields));
    }

    private static string BlobData(BerthServer server, string digest)
    {
        var hex = digest["sha256:".Length..];
        return Path.Combine(server.StorageRoot, "docker/registry/v2/blobs/sha256", hex[..2], hex, "data");
    }

    [GeneratedRegex("name=\"csrf\" value=\"(?<token>[^\"]+)\"")]
    private static partial Regex CsrfToken();
}
