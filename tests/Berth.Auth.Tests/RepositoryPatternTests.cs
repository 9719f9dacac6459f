namespace Berth.Auth.Tests;

public sealed class RepositoryPatternTests
{
    [Theory]
    [InlineData("public/**", "public/app", true)]
    [InlineData("public/**", "public/a/b/c", true)]
    [InlineData("public/**", "public", false)]
    [InlineData("public/**", "publicity/app", false)]
    [InlineData("public/**", "other/public/app", false)]
    [InlineData("team/*", "team/app", true)]
    [InlineData("team/*", "team/app/sub", false)]
    [InlineData("team/*/base", "team/x/base", true)]
    [InlineData("**", "anything/at/all", true)]
    [InlineData("*", "top", true)]
    [InlineData("*", "a/b", false)]
    [InlineData("app-?", "app-1", true)]
    [InlineData("app-?", "app-12", false)]
    [InlineData("library/ubuntu", "library/ubuntu", true)]
    [InlineData("library/ubuntu", "library/ubuntu2", false)]
    [InlineData("my.app", "myxapp", false)]
    [InlineData("**/base", "a/b/base", true)]
    public void Matches(string pattern, string repository, bool expected) =>
        Assert.Equal(expected, RepositoryPattern.Parse(pattern).Matches(repository));

    [Theory]
    [InlineData("")]
    [InlineData("Team/**")]
    [InlineData("team/[ab]")]
    [InlineData("team/***")]
    [InlineData("team/(x)")]
    public void TryParse_Invalid_ExplainsWhy(string pattern)
    {
        Assert.False(RepositoryPattern.TryParse(pattern, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }
}
