namespace Berth.Auth.Tests;

public sealed class ControllersTests
{
    [Fact]
    public async Task AllowAll_GrantsEverythingAnonymously()
    {
        var decision = await AllowAllAccessController.Instance.AuthorizeAsync(Requests.Context(), [Requests.Delete("x"), AccessRequest.Catalog()], default);

        Assert.Equal(AccessOutcome.Granted, decision.Outcome);
        Assert.Null(decision.Subject);
        Assert.True(decision.Grant!.Allows(Requests.Push("anything")));
    }

    [Fact]
    public async Task Silly_AnyAuthorizationHeaderIsEnough_OthersGetABearerChallenge()
    {
        var silly = new SillyAccessController("https://auth", "svc");

        var without = await silly.AuthorizeAsync(Requests.Context(), [Requests.Pull("a")], default);
        var with = await silly.AuthorizeAsync(Requests.Context("Bearer whatever"), [Requests.Pull("a")], default);

        Assert.Equal("Bearer realm=\"https://auth\",service=\"svc\",scope=\"repository:a:pull\"", without.Challenge);
        Assert.Equal(AccessOutcome.Granted, with.Outcome);
    }

    [Fact]
    public void Challenges_QuoteAndKeepHeadersAscii()
    {
        Assert.Equal("Basic realm=\"My \\\"Realm\\\" \\\\ x\"", Challenges.Basic("My \"Realm\" \\ x"));
        Assert.Equal("Bearer realm=\"r\",service=\"s\",scope=\"repository:caf?/\\\"x:pull\"",
            Challenges.Bearer("r", "s", [AccessRequest.Repository("café/\"x", "pull")], null));
        Assert.Equal("Basic realm=\"a?b\"", Challenges.Basic("a\nb"));
    }
}
