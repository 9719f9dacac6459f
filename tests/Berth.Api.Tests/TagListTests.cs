using System.Net;
using System.Text.Json;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>Spec "Listing Tags" (end-8a, end-8b): order, <c>n</c>, <c>last</c> and the <c>Link</c> header.</summary>
public sealed class TagListTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private static readonly string[] PushOrder = ["v2", "latest", "1.0", "v10", "alpha", "beta", "1.1"];
    private static readonly string[] Sorted = ["1.0", "1.1", "alpha", "beta", "latest", "v10", "v2"];

    private readonly HttpClient _client = registry.Client;

    private async Task<string> RepositoryWithTagsAsync(params string[] tags)
    {
        var repository = Oci.UniqueRepository("tags");
        var image = await _client.PushImageAsync(repository);
        foreach (var tag in tags)
        {
            await _client.PushManifestAsync(repository, tag, Oci.ImageManifest, image.ManifestBytes);
        }

        return repository;
    }

    private static async Task<(string Name, string[] Tags)> ReadAsync(HttpResponseMessage response)
    {
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var tags = document.RootElement.GetProperty("tags");
        return (document.RootElement.GetProperty("name").GetString()!,
            tags.ValueKind == JsonValueKind.Null ? [] : [.. tags.EnumerateArray().Select(t => t.GetString()!)]);
    }

    /// <summary>The target of <c>Link: &lt;target&gt;; rel="next"</c>, or null.</summary>
    internal static string? NextLink(HttpResponseMessage response)
    {
        var link = response.Header("Link");
        if (link is null)
        {
            return null;
        }

        Assert.Matches("^<[^>]+>; rel=\"next\"$", link);
        return link[1..link.IndexOf('>', StringComparison.Ordinal)];
    }

    [Fact]
    public async Task List_Returns200WithNameAndAllTagsInLexicalOrder()
    {
        var repository = await RepositoryWithTagsAsync(PushOrder);

        using var response = await _client.GetAsync($"/v2/{repository}/tags/list");
        var (name, tags) = await ReadAsync(response);

        Assert.Equal(repository, name);
        Assert.Equal(Sorted, tags);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        OciAssert.HasApiVersion(response);
    }

    [Fact]
    public async Task List_WithoutN_HasNoLinkHeader()
    {
        var repository = await RepositoryWithTagsAsync(PushOrder);

        using var response = await _client.GetAsync($"/v2/{repository}/tags/list");

        Assert.Null(response.Header("Link"));
    }

    [Fact]
    public async Task List_WithN_ReturnsFirstNTags()
    {
        var repository = await RepositoryWithTagsAsync(PushOrder);

        using var response = await _client.GetAsync($"/v2/{repository}/tags/list?n=3");
        var (_, tags) = await ReadAsync(response);

        Assert.Equal(Sorted[..3], tags);
    }

    [Fact]
    public async Task List_WithNSmallerThanTotal_HasNextLink()
    {
        var repository = await RepositoryWithTagsAsync(PushOrder);

        using var response = await _client.GetAsync($"/v2/{repository}/tags/list?n=3");

        Assert.Equal($"<{$"/v2/{repository}/tags/list?n=3&last=alpha"}>; rel=\"next\"", response.Header("Link"));
    }

    [Fact]
    public async Task List_FollowingLinks_ReturnsEveryTagOnceInOrder()
    {
        var repository = await RepositoryWithTagsAsync(PushOrder);
        var collected = new List<string>();
        string? next = $"/v2/{repository}/tags/list?n=2";
        var pages = 0;

        while (next is not null)
        {
            using var response = await _client.GetAsync(next);
            var (_, tags) = await ReadAsync(response);
            Assert.True(tags.Length <= 2);
            collected.AddRange(tags);
            next = NextLink(response);
            Assert.True(++pages <= Sorted.Length, "pagination does not terminate");
        }

        Assert.Equal(Sorted, collected);
    }

    [Fact]
    public async Task List_WithNCoveringTheRest_HasNoLink()
    {
        var repository = await RepositoryWithTagsAsync(PushOrder);

        using var exact = await _client.GetAsync($"/v2/{repository}/tags/list?n={Sorted.Length}");
        using var more = await _client.GetAsync($"/v2/{repository}/tags/list?n=1000");

        Assert.Equal(Sorted, (await ReadAsync(exact)).Tags);
        Assert.Equal(Sorted, (await ReadAsync(more)).Tags);
        Assert.Null(exact.Header("Link"));
        Assert.Null(more.Header("Link"));
    }

    [Fact]
    public async Task List_WithNZero_ReturnsEmptyListWithoutLink()
    {
        // Spec: "When n is zero, this endpoint MUST return an empty list, and MUST NOT include a Link header."
        var repository = await RepositoryWithTagsAsync(PushOrder);

        using var response = await _client.GetAsync($"/v2/{repository}/tags/list?n=0");

        Assert.Empty((await ReadAsync(response)).Tags);
        Assert.Null(response.Header("Link"));
    }

    [Fact]
    public async Task List_WithNAndLast_ReturnsUpToNTagsAfterLast()
    {
        var repository = await RepositoryWithTagsAsync(PushOrder);

        using var response = await _client.GetAsync($"/v2/{repository}/tags/list?n=2&last=alpha");

        Assert.Equal(["beta", "latest"], (await ReadAsync(response)).Tags);
    }

    [Fact]
    public async Task List_WithLastOnly_ReturnsAllTagsAfterLast()
    {
        // Spec: "When using the last query parameter, the n parameter is OPTIONAL."
        var repository = await RepositoryWithTagsAsync(PushOrder);

        using var response = await _client.GetAsync($"/v2/{repository}/tags/list?last=latest");

        Assert.Equal(["v10", "v2"], (await ReadAsync(response)).Tags);
    }

    [Fact]
    public async Task List_WithLastBetweenTags_StartsAfterItsPosition()
    {
        var repository = await RepositoryWithTagsAsync(PushOrder);

        using var response = await _client.GetAsync($"/v2/{repository}/tags/list?last=b");

        Assert.Equal(["beta", "latest", "v10", "v2"], (await ReadAsync(response)).Tags);
    }

    [Fact]
    public async Task List_WithLastAfterEverything_ReturnsEmptyList()
    {
        var repository = await RepositoryWithTagsAsync(PushOrder);

        using var response = await _client.GetAsync($"/v2/{repository}/tags/list?n=5&last=zzz");

        Assert.Empty((await ReadAsync(response)).Tags);
        Assert.Null(response.Header("Link"));
    }

    [Fact]
    public async Task List_MixedCaseTags_PaginationReturnsEachTagOnce()
    {
        string[] tags = ["b", "A", "a", "B", "_x", "Z9", "z9"];
        var repository = await RepositoryWithTagsAsync(tags);
        var collected = new List<string>();
        string? next = $"/v2/{repository}/tags/list?n=3";

        while (next is not null && collected.Count <= tags.Length)
        {
            using var response = await _client.GetAsync(next);
            collected.AddRange((await ReadAsync(response)).Tags);
            next = NextLink(response);
        }

        Assert.Equal(tags.Order(StringComparer.Ordinal), collected.Order(StringComparer.Ordinal));
        Assert.Equal(collected.Count, collected.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task List_RepositoryWithoutTags_Returns200WithEmptyList()
    {
        // Spec: "Assuming a repository is found, this request MUST return a 200 OK response code. The list of tags MAY be empty."
        var repository = Oci.UniqueRepository("tags");
        await _client.PushImageAsync(repository, tag: null);

        using var response = await _client.GetAsync($"/v2/{repository}/tags/list");

        var (name, tags) = await ReadAsync(response);
        Assert.Equal(repository, name);
        Assert.Empty(tags);
    }

    [Fact]
    public async Task List_AfterDeletingTheOnlyTag_Returns200WithEmptyList()
    {
        var repository = await RepositoryWithTagsAsync("only");
        using (var delete = await _client.DeleteAsync($"/v2/{repository}/manifests/only"))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        using var response = await _client.GetAsync($"/v2/{repository}/tags/list");

        Assert.Empty((await ReadAsync(response)).Tags);
    }

    [Fact]
    public async Task List_UnknownRepository_Returns404NameUnknown()
    {
        using var response = await _client.GetAsync($"/v2/{Oci.UniqueRepository("tags")}/tags/list");

        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("99999999999999999999999")]
    [InlineData("0x10")]
    public async Task List_WithInvalidN_Returns400PaginationNumberInvalid(string n)
    {
        var repository = await RepositoryWithTagsAsync("v1");

        using var response = await _client.GetAsync($"/v2/{repository}/tags/list?n={Uri.EscapeDataString(n)}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "PAGINATION_NUMBER_INVALID");
    }

    [Fact]
    public async Task List_HeadRequest_Returns200WithoutBody()
    {
        var repository = await RepositoryWithTagsAsync("v1");

        using var response = await _client.SendAsync(HttpMethod.Head, $"/v2/{repository}/tags/list");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }
}
