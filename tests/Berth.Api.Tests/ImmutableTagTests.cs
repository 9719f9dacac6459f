using System.Net;
using System.Text.Json;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>A registry whose <c>prod/**</c> repositories have immutable <c>v*</c> and <c>stable</c> tags.</summary>
public sealed class ImmutableTagRegistry : IAsyncLifetime
{
    public BerthServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await BerthServer.StartAsync(new BerthServerOptions
    {
        ExtraYaml = """
            immutabletags:
              - repositories: ["team/**"]
                tags: ["pinned"]
              - repositories: ["prod/**"]
                tags: ["v*", "stable"]
            """,
    });

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>Immutable tags over real HTTP: moves and deletes are 403 DENIED naming the rule, re-pushing the same digest is fine.</summary>
public sealed class ImmutableTagTests(ImmutableTagRegistry registry) : IClassFixture<ImmutableTagRegistry>
{
    private readonly HttpClient _client = registry.Server.Client;
    private readonly string _prod = "prod/" + Oci.UniqueRepository("immutable").Replace('/', '-');

    private static async Task<JsonElement> DeniedAsync(HttpResponseMessage response)
    {
        var errors = await OciAssert.ErrorAsync(response, HttpStatusCode.Forbidden, "DENIED");
        return Assert.Single(errors);
    }

    private async Task<string?> DigestOfTagAsync(string repository, string tag)
    {
        using var response = await _client.SendAsync(HttpMethod.Head, $"/v2/{repository}/manifests/{tag}", null, ("Accept", ManifestKinds.AcceptAll));
        return response.StatusCode == HttpStatusCode.OK ? response.Header("Docker-Content-Digest") : null;
    }

    [Fact]
    public async Task PutManifest_MovingAnImmutableTag_Is403DeniedNamingTheRuleRepositoryAndTag()
    {
        var first = await _client.PushImageAsync(_prod, "v1.0");
        var second = await _client.PushImageAsync(_prod);

        using var response = await _client.PutManifestAsync(_prod, "v1.0", Oci.ImageManifest, second.ManifestBytes);

        var error = await DeniedAsync(response);
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains($"{_prod}:v1.0 is immutable", message, StringComparison.Ordinal);
        Assert.Contains("immutabletags[2] (repositories: prod/**; tags: v*, stable)", message, StringComparison.Ordinal);
        var detail = error.GetProperty("detail");
        Assert.Equal(_prod, detail.GetProperty("repository").GetString());
        Assert.Equal("v1.0", detail.GetProperty("tag").GetString());
        Assert.Equal(2, detail.GetProperty("rule").GetInt32());
        Assert.Equal(["prod/**"], detail.GetProperty("repositories").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(first.Manifest.Digest, await DigestOfTagAsync(_prod, "v1.0"));
    }

    [Fact]
    public async Task PutManifest_SameDigestAgain_IsAccepted()
    {
        var image = await _client.PushImageAsync(_prod, "stable");

        var again = await _client.PushManifestAsync(_prod, "stable", Oci.ImageManifest, image.ManifestBytes);

        Assert.Equal(image.Manifest.Digest, again.Digest);
    }

    [Fact]
    public async Task DeleteTag_Immutable_Is403AndTheTagStays()
    {
        var image = await _client.PushImageAsync(_prod, "v2");

        using var response = await _client.DeleteAsync($"/v2/{_prod}/manifests/v2");

        var error = await DeniedAsync(response);
        Assert.Contains("cannot delete it", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(image.Manifest.Digest, await DigestOfTagAsync(_prod, "v2"));
    }

    [Fact]
    public async Task DeleteManifest_NamedByAnImmutableTag_Is403AndNamesTheTag()
    {
        var image = await _client.PushImageAsync(_prod, "v3");
        await _client.PushManifestAsync(_prod, "latest", Oci.ImageManifest, image.ManifestBytes);

        using var response = await _client.DeleteAsync($"/v2/{_prod}/manifests/{image.Manifest.Digest}");

        var error = await DeniedAsync(response);
        Assert.Equal("v3", error.GetProperty("detail").GetProperty("tag").GetString());
        Assert.Equal(image.Manifest.Digest, await DigestOfTagAsync(_prod, "latest"));
    }

    [Fact]
    public async Task MutableTags_AndOtherRepositories_MoveAndDeleteAsUsual()
    {
        await _client.PushImageAsync(_prod, "latest");
        var second = await _client.PushImageAsync(_prod);
        await _client.PushManifestAsync(_prod, "latest", Oci.ImageManifest, second.ManifestBytes);
        var team = Oci.UniqueRepository("team");
        await _client.PushImageAsync(team, "v1");
        var teamNext = await _client.PushImageAsync(team);
        await _client.PushManifestAsync(team, "v1", Oci.ImageManifest, teamNext.ManifestBytes);

        using (var deleteTag = await _client.DeleteAsync($"/v2/{_prod}/manifests/latest"))
        {
            await OciAssert.StatusAsync(deleteTag, HttpStatusCode.Accepted);
        }

        using var deleteManifest = await _client.DeleteAsync($"/v2/{team}/manifests/{teamNext.Manifest.Digest}");
        await OciAssert.StatusAsync(deleteManifest, HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task ATagThatDoesNotExistYet_CanBeCreated()
    {
        var image = await _client.PushImageAsync(_prod, "v9");

        Assert.Equal(image.Manifest.Digest, await DigestOfTagAsync(_prod, "v9"));
    }
}
