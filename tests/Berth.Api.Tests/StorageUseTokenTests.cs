using System.Net;
using System.Text.Json;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>The usage endpoint under token authentication: a bearer token's pull grants decide what it shows.</summary>
public sealed class StorageUseTokenTests(TokenRegistryFixture fixture) : IClassFixture<TokenRegistryFixture>
{
    [Fact]
    public async Task Usage_WithABearerToken_ShowsOnlyWhatTheTokenMayPull_AndWithoutOneIsChallenged()
    {
        var visible = Oci.UniqueRepository("token");
        var hidden = Oci.UniqueRepository("token");
        using (var pusher = fixture.Server.BearerClient(fixture.Token([
            ("repository", visible, ["pull", "push"]), ("repository", hidden, ["pull", "push"])])))
        {
            await pusher.PushImageAsync(visible, "v1", layerSize: 2_000);
            await pusher.PushImageAsync(hidden, "v1", layerSize: 3_000);
        }

        using var reader = fixture.Server.BearerClient(fixture.Token([("repository", visible, ["pull"])]));
        using var response = await reader.GetAsync(new Uri("/api/v1/usage", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var usage = JsonDocument.Parse(text);
        var row = Assert.Single(usage.RootElement.GetProperty("repositories").EnumerateArray());
        Assert.Equal(visible, row.GetProperty("name").GetString());
        Assert.Equal(row.GetProperty("bytes").GetInt64(), usage.RootElement.GetProperty("total").GetProperty("bytes").GetInt64());

        using var anonymous = fixture.Server.Client();
        using var challenged = await anonymous.GetAsync(new Uri("/api/v1/usage", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, challenged.StatusCode);
        Assert.StartsWith("Bearer realm=\"" + TokenRegistryFixture.Realm + "\"", challenged.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal("UNAUTHORIZED", Assert.Single(await OciAssert.ErrorBodyAsync(challenged)).GetProperty("code").GetString());
    }
}
