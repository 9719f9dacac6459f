using System.Net.Http.Headers;

namespace Berth.Proxy.Tests;

public sealed class ChallengeTests
{
    [Fact]
    public void Parse_DockerHubBearerChallenge_ReadsRealmServiceAndScope()
    {
        var challenge = UpstreamAuthenticator.Challenge.Parse(AuthenticationHeaderValue.Parse(
            "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/alpine:pull\""));

        Assert.NotNull(challenge);
        Assert.Equal("bearer", challenge.Scheme);
        Assert.Equal(new Uri("https://auth.docker.io/token"), challenge.Realm);
        Assert.Equal("registry.docker.io", challenge.Service);
        Assert.Equal("repository:library/alpine:pull", challenge.Scope);
    }

    [Fact]
    public void ParseParameters_QuotedCommasAndEscapes_AreKept()
    {
        var parameters = UpstreamAuthenticator.Challenge.ParseParameters(
            "realm=\"https://auth.example/token\", scope=\"repository:a/b:pull,push\", error=\"say \\\"hi\\\"\",service=plain");

        Assert.Equal("repository:a/b:pull,push", parameters["scope"]);
        Assert.Equal("say \"hi\"", parameters["error"]);
        Assert.Equal("plain", parameters["service"]);
    }

    [Theory]
    [InlineData("Basic realm=\"Registry\"", "basic")]
    [InlineData("Bearer service=\"no-realm\"", null)]
    [InlineData("Bearer realm=\"file:///etc/passwd\"", null)]
    [InlineData("Negotiate", null)]
    public void Parse_OtherChallenges_AreBasicOrUnusable(string header, string? scheme)
    {
        Assert.Equal(scheme, UpstreamAuthenticator.Challenge.Parse(AuthenticationHeaderValue.Parse(header))?.Scheme);
    }
}
