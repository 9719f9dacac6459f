using System.Diagnostics;
using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests.WebUi;

/// <summary>Paging of the repository list and of a repository with thousands of tags, filled through the API.</summary>
public sealed class WebUiScaleTests
{
    [Fact]
    public async Task RepositoriesPage_120Repositories_IsPagedBy50AndFiltered()
    {
        await using var server = await BerthServer.StartAsync();
        var image = await server.Client.PushImageAsync("seed/base", "v1");
        var names = Enumerable.Range(0, 120).Select(i => $"many/repo-{i:D3}").ToList();
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (name, _) =>
        {
            using var client = server.CreateClient();
            await MountAsync(client, name, image);
            await client.PushManifestAsync(name, "v1", Oci.ImageManifest, image.ManifestBytes);
        });
        using var browser = new UiBrowser(server.CreateClient(), server.BaseAddress);

        var first = await browser.GetAsync("/");
        var third = await browser.GetAsync("/?page=3");
        var beyond = await browser.GetAsync("/?page=99");
        var filtered = await browser.GetAsync("/?q=repo-11");
        var filteredUpper = await browser.GetAsync("/?q=REPO-11");
        var none = await browser.GetAsync("/?q=nothing-like-this");

        Assert.Equal(50, UiHtml.RepositoryRows(first.Html).Count);
        Assert.Contains("121 repositories", UiHtml.Text(first.Html), StringComparison.Ordinal);
        Assert.Contains("Page 1 of 3", first.Html, StringComparison.Ordinal);
        Assert.Contains("href=\"/?page=2\"", first.Html, StringComparison.Ordinal);
        Assert.Equal(21, UiHtml.RepositoryRows(third.Html).Count);
        Assert.Equal(UiHtml.RepositoryRows(third.Html), UiHtml.RepositoryRows(beyond.Html));
        Assert.Equal(Enumerable.Range(110, 10).Select(i => $"many/repo-{i:D3}"), UiHtml.RepositoryRows(filtered.Html).Order(StringComparer.Ordinal));
        Assert.Equal(UiHtml.RepositoryRows(filtered.Html), UiHtml.RepositoryRows(filteredUpper.Html));
        Assert.Empty(UiHtml.RepositoryRows(none.Html));
        Assert.Contains("No repository matches", UiHtml.Text(none.Html), StringComparison.Ordinal);
        var all = new HashSet<string>(StringComparer.Ordinal);
        for (var page = 1; page <= 3; page++)
        {
            all.UnionWith(UiHtml.RepositoryRows((await browser.GetAsync($"/?page={page}")).Html));
        }

        Assert.Equal(121, all.Count);
    }

    [Fact]
    public async Task RepositoryPage_5000Tags_IsPagedBy100AndSortsNewestFirst()
    {
        const int TagCount = 5000;
        await using var server = await BerthServer.StartAsync();
        const string repository = "big/tags";
        var image = await server.Client.PushImageAsync(repository, "t0000");
        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(1, TagCount - 2), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            using var response = await server.Client.PutManifestAsync(repository, $"t{i:D4}", Oci.ImageManifest, image.ManifestBytes);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        });

        // Pushed last, after every other tag's link was written: the newest.
        await Task.Delay(50);
        var newest = await server.Client.PushImageAsync(repository, "a-newest");
        var pushed = stopwatch.Elapsed;
        using var browser = new UiBrowser(server.CreateClient(), server.BaseAddress);

        stopwatch.Restart();
        var first = await browser.GetAsync($"/r/{repository}");
        var firstRender = stopwatch.Elapsed;
        var last = await browser.GetAsync($"/r/{repository}?page=50");
        var newestFirst = await browser.GetAsync($"/r/{repository}?sort=newest");
        var filtered = await browser.GetAsync($"/r/{repository}?q=t499");
        stopwatch.Restart();
        await browser.GetAsync($"/r/{repository}?page=7");
        var warmRender = stopwatch.Elapsed;

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Contains("5,000 tags", UiHtml.Text(first.Html), StringComparison.Ordinal);
        Assert.Contains("Page 1 of 50", first.Html, StringComparison.Ordinal);
        var firstRows = UiHtml.TagRows(first.Html, repository);
        Assert.Equal(100, firstRows.Count);
        Assert.Equal("a-newest", firstRows[0]);
        Assert.Equal("t0000", firstRows[1]);
        var lastRows = UiHtml.TagRows(last.Html, repository);
        Assert.Equal(100, lastRows.Count);
        Assert.Equal("t4998", lastRows[^1]);
        var newestRows = UiHtml.TagRows(newestFirst.Html, repository);
        Assert.Equal(100, newestRows.Count);
        Assert.Equal("a-newest", newestRows[0]);
        Assert.Contains(newest.Manifest.Digest[7..19], newestFirst.Html, StringComparison.Ordinal);
        Assert.Equal(["t4990", "t4991", "t4992", "t4993", "t4994", "t4995", "t4996", "t4997", "t4998"], UiHtml.TagRows(filtered.Html, repository));
        Assert.True(pushed < TimeSpan.FromSeconds(60), $"pushing {TagCount} tags took {pushed}");
        Assert.True(firstRender < TimeSpan.FromSeconds(10), $"first render of {TagCount} tags took {firstRender}");
        Assert.True(warmRender < TimeSpan.FromSeconds(2), $"a later page took {warmRender}");
    }

    /// <summary>Links the image's config and layer into <paramref name="repository"/> by a cross-repository mount (no upload).</summary>
    private static async Task MountAsync(HttpClient client, string repository, PushedImage image)
    {
        foreach (var digest in new[] { image.Config.Digest, image.Layer.Digest })
        {
            using var response = await client.SendAsync(HttpMethod.Post,
                $"/v2/{repository}/blobs/uploads/?mount={Uri.EscapeDataString(digest)}&from={Uri.EscapeDataString(image.Repository)}", RegistryClient.Bytes([]));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }
    }
}
