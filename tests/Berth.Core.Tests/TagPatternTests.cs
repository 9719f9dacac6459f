using Berth.Core;

namespace Berth.Core.Tests;

public sealed class TagPatternTests
{
    [Theory]
    [InlineData("v*", "v1.2.3", true)]
    [InlineData("v*", "v", true)]
    [InlineData("v*", "release-1", false)]
    [InlineData("release-*", "release-2026.01", true)]
    [InlineData("release-*", "release", false)]
    [InlineData("*-rc?", "1.0-rc1", true)]
    [InlineData("*-rc?", "1.0-rc10", false)]
    [InlineData("latest", "latest", true)]
    [InlineData("latest", "Latest", false)]
    [InlineData("*", "anything_at.all-", true)]
    [InlineData("a*b*c", "axxbyyc", true)]
    [InlineData("a*b*c", "axxbyy", false)]
    public void Matches_Glob_MatchesTheWholeTag(string pattern, string tag, bool expected) =>
        Assert.Equal(expected, TagPattern.Parse(pattern).Matches(tag));

    [Theory]
    [InlineData("", "must not be empty")]
    [InlineData("v/1", "'/' cannot match a tag")]
    [InlineData("v[12]", "'[' cannot match a tag")]
    public void TryParse_Invalid_SaysWhy(string text, string reason)
    {
        Assert.False(TagPattern.TryParse(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Matches_PathologicalPattern_StaysLinear()
    {
        var pattern = TagPattern.Parse(string.Concat(Enumerable.Repeat("a*", 60)) + "b");
        Assert.False(pattern.Matches(new string('a', 128)));
    }
}
