using Berth.Core;

namespace Berth.Ui.Tests;

public sealed class WebUiEndpointsTests
{
    private const string Hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Theory]
    [InlineData("nginx", "nginx")]
    [InlineData("library/nginx", "library/nginx")]
    [InlineData("a/b/c/d", "a/b/c/d")]
    [InlineData("team/app-1_x.y", "team/app-1_x.y")]
    [InlineData("library/nginx/", "library/nginx")]
    public void TryParseTarget_Name_GivesTheRepositoryWithoutReference(string path, string expected)
    {
        Assert.True(WebUiEndpoints.TryParseTarget(path, out var name, out var tag, out var digest));
        Assert.Equal(expected, name.Value);
        Assert.Null(tag);
        Assert.Null(digest);
    }

    [Theory]
    [InlineData("nginx:latest", "nginx", "latest")]
    [InlineData("library/nginx:1.25.3-alpine", "library/nginx", "1.25.3-alpine")]
    [InlineData("a/b/c:_v1", "a/b/c", "_v1")]
    public void TryParseTarget_NameAndTag_SplitsAtTheLastColon(string path, string expectedName, string expectedTag)
    {
        Assert.True(WebUiEndpoints.TryParseTarget(path, out var name, out var tag, out var digest));
        Assert.Equal(expectedName, name.Value);
        Assert.Equal(expectedTag, tag);
        Assert.Null(digest);
    }

    [Theory]
    [InlineData("nginx")]
    [InlineData("a/b/c")]
    public void TryParseTarget_NameAndDigest_GivesTheDigest(string repository)
    {
        Assert.True(WebUiEndpoints.TryParseTarget($"{repository}@sha256:{Hex}", out var name, out var tag, out var digest));
        Assert.Equal(repository, name.Value);
        Assert.Null(tag);
        Assert.Equal(Digest.Parse("sha256:" + Hex), digest);
    }

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("Nginx")]
    [InlineData("a//b")]
    [InlineData("-a")]
    [InlineData("a b")]
    [InlineData("a:")]
    [InlineData("a:-tag")]
    [InlineData("a:tag!")]
    [InlineData("a:.tag")]
    [InlineData("a@")]
    [InlineData("a@sha256:abc")]
    [InlineData("a@sha256:" + Hex + "0")]
    [InlineData("a@md5:" + "0123456789abcdef0123456789abcdef")]
    [InlineData("a@SHA256:" + Hex)]
    [InlineData("a:tag@sha256:" + Hex)]
    [InlineData("localhost:5000/a")]
    public void TryParseTarget_Invalid_IsRefused(string path)
    {
        Assert.False(WebUiEndpoints.TryParseTarget(path, out _, out _, out _));
    }

    [Theory]
    [InlineData("a/../b")]
    [InlineData("../a")]
    [InlineData("a/..")]
    [InlineData("a/./b")]
    [InlineData("./a")]
    [InlineData("a/%2e%2e/b")]
    [InlineData("a\\..\\b")]
    [InlineData("a/../b:tag")]
    [InlineData("../../etc/passwd")]
    public void TryParseTarget_Traversal_IsRefused(string path)
    {
        Assert.False(WebUiEndpoints.TryParseTarget(path, out _, out _, out _));
    }

    [Fact]
    public void TryParseTarget_LongTag_IsRefused()
    {
        Assert.True(WebUiEndpoints.TryParseTarget("a:" + new string('t', 128), out _, out var tag, out _));
        Assert.Equal(128, tag!.Length);
        Assert.False(WebUiEndpoints.TryParseTarget("a:" + new string('t', 129), out _, out _, out _));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/r/library/nginx")]
    [InlineData("/r/library/nginx:latest?sort=newest&page=2")]
    [InlineData("/usage")]
    public void LocalReturn_LocalPath_IsKept(string value)
    {
        Assert.Equal(value, WebUiEndpoints.LocalReturn(value));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("//evil.example")]
    [InlineData("//evil.example/r/x")]
    [InlineData("/\\evil.example")]
    [InlineData("https://evil.example/")]
    [InlineData("http:evil.example")]
    [InlineData("javascript:alert(1)")]
    [InlineData("evil.example")]
    [InlineData("r/x")]
    [InlineData("\\\\evil.example")]
    public void LocalReturn_ElsewhereOrEmpty_IsTheStartPage(string? value)
    {
        Assert.Equal("/", WebUiEndpoints.LocalReturn(value));
    }

    [Fact]
    public void LocalReturn_TooLong_IsTheStartPage()
    {
        Assert.Equal("/", WebUiEndpoints.LocalReturn("/" + new string('a', 2048)));
    }

    /// <summary>
    /// Browsers drop ASCII tabs and newlines from a URL before resolving it (WHATWG URL parsing), so
    /// <c>/&lt;TAB&gt;/evil.example</c> in a Location header leads to <c>//evil.example</c>, another host.
    /// A CR or LF in a Location header would also make the server fail the response instead of redirecting.
    /// </summary>
    [Theory]
    [InlineData("/\t/evil.example")]
    [InlineData("/\n/evil.example")]
    [InlineData("/\r/evil.example")]
    [InlineData("/\r\n/evil.example")]
    [InlineData("/\t\\evil.example")]
    public void LocalReturn_ControlCharacterBeforeSecondSlash_IsTheStartPage(string value)
    {
        Assert.Equal("/", WebUiEndpoints.LocalReturn(value));
    }
}
