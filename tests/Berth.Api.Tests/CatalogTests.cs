using System.Net;
using System.Text.Json;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// <c>GET /v2/_catalog</c> (registry:2's catalog API) with <c>n</c>, <c>last</c> and <c>Link</c>.
/// Each test starts its own Berth so that the catalog holds exactly what the test pushed.
/// </summary>
public sealed class CatalogTests
{
    private static readonly string[] Repositories = ["zeta", "alpha", "library/ubuntu", "library/alpine", "a/b/c", "mid-dle", "m2"];
    private static readonly string[] Sorted = [.. Repositories.Order(StringComparer.Ordinal)];

    private static async Task<BerthServer> StartWithRepositoriesAsync(IEnumerable<string> repositories)
    {
        var server = await BerthServer.StartAsync();
        foreach (var repository in repositories)
        {
            await server.Client.PushImageAsync(repository, "latest");
        }

        return server;
    }

    private static async Task<string[]> ReadAsync(HttpResponseMessage response)
    {
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var repositories = document.RootElement.GetProperty("repositories");
        return repositories.ValueKind == JsonValueKind.Null ? [] : [.. repositories.EnumerateArray().Select(r => r.GetString()!)];
    }

    [Fact]
    public async Task Catalog_EmptyRegistry_Returns200WithEmptyList()
    {
        await using var server = await BerthServer.StartAsync();

        using var response = await server.Client.GetAsync("/v2/_catalog");

        Assert.Empty(await ReadAsync(response));
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        OciAssert.HasApiVersion(response);
    }

    [Fact]
    public async Task Catalog_ListsEveryRepositoryInLexicalOrder()
    {
        await using var server = await StartWithRepositoriesAsync(Repositories);

        using var response = await server.Client.GetAsync("/v2/_catalog");

        Assert.Equal(Sorted, await ReadAsync(response));
        Assert.Null(response.Header("Link"));
    }

    [Fact]
    public async Task Catalog_ListsBlobOnlyRepositoriesAsRegistry2Does_ButNotUploadsInProgress()
    {
        await using var server = await StartWithRepositoriesAsync(["with-manifest"]);
        await server.Client.PushBlobAsync("blobs-only", Oci.RandomBytes(10));
        await server.Client.StartUploadAsync("upload-only");

        using var response = await server.Client.GetAsync("/v2/_catalog");

        Assert.Equal(["blobs-only", "with-manifest"], await ReadAsync(response));
    }

    [Fact]
    public async Task Catalog_WithN_ReturnsFirstNAndNextLink()
    {
        await using var server = await StartWithRepositoriesAsync(Repositories);

        using var response = await server.Client.GetAsync("/v2/_catalog?n=2");

        Assert.Equal(Sorted[..2], await ReadAsync(response));
        Assert.Equal($"</v2/_catalog?n=2&last={Uri.EscapeDataString(Sorted[1])}>; rel=\"next\"", response.Header("Link"));
    }

    [Fact]
    public async Task Catalog_FollowingLinks_ReturnsEveryRepositoryOnce()
    {
        await using var server = await StartWithRepositoriesAsync(Repositories);
        var collected = new List<string>();
        string? next = "/v2/_catalog?n=3";
        var pages = 0;

        while (next is not null)
        {
            using var response = await server.Client.GetAsync(next);
            var page = await ReadAsync(response);
            Assert.True(page.Length <= 3);
            collected.AddRange(page);
            next = TagListTests.NextLink(response);
            Assert.True(++pages <= Sorted.Length, "pagination does not terminate");
        }

        Assert.Equal(Sorted, collected);
    }

    [Fact]
    public async Task Catalog_WithLast_ReturnsRepositoriesAfterIt()
    {
        await using var server = await StartWithRepositoriesAsync(Repositories);

        using var response = await server.Client.GetAsync("/v2/_catalog?n=100&last=library%2Fubuntu");

        Assert.Equal(Sorted.SkipWhile(r => r != "library/ubuntu").Skip(1), await ReadAsync(response));
    }

    [Fact]
    public async Task Catalog_WithNCoveringAll_HasNoLink()
    {
        await using var server = await StartWithRepositoriesAsync(Repositories);

        using var response = await server.Client.GetAsync($"/v2/_catalog?n={Sorted.Length}");

        Assert.Equal(Sorted, await ReadAsync(response));
        Assert.Null(response.Header("Link"));
    }

    [Fact]
    public async Task Catalog_WithNZero_ReturnsEmptyListWithoutLink()
    {
        await using var server = await StartWithRepositoriesAsync(["one", "two"]);

        using var response = await server.Client.GetAsync("/v2/_catalog?n=0");

        Assert.Empty(await ReadAsync(response));
        Assert.Null(response.Header("Link"));
    }

    [Theory]
    [InlineData("100000")]
    [InlineData("99999999999999999999999")]
    [InlineData("-1")]
    [InlineData("ten")]
    public async Task Catalog_WithHugeOrInvalidN_Returns400PaginationNumberInvalid(string n)
    {
        await using var server = await BerthServer.StartAsync();

        using var response = await server.Client.GetAsync($"/v2/_catalog?n={n}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "PAGINATION_NUMBER_INVALID");
    }

    [Fact]
    public async Task Catalog_WithNAtTheDefaultMaximum_Returns200()
    {
        // catalog.maxentries defaults to 1000 in registry:2.
        await using var server = await StartWithRepositoriesAsync(["one"]);

        using var atMax = await server.Client.GetAsync("/v2/_catalog?n=1000");
        using var aboveMax = await server.Client.GetAsync("/v2/_catalog?n=1001");

        Assert.Equal(["one"], await ReadAsync(atMax));
        await OciAssert.ErrorAsync(aboveMax, System.Net.HttpStatusCode.BadRequest, "PAGINATION_NUMBER_INVALID");
    }

    [Fact]
    public async Task Catalog_WithTrailingSlash_Returns200()
    {
        await using var server = await StartWithRepositoriesAsync(["one"]);

        using var response = await server.Client.GetAsync("/v2/_catalog/");

        Assert.Equal(["one"], await ReadAsync(response));
    }
}
