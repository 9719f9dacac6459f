using Berth.Core.Errors;

namespace Berth.Core.Tests;

public sealed class RepositoryNameTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("0")]
    [InlineData("ubuntu")]
    [InlineData("library/ubuntu")]
    [InlineData("a/b/c/d/e")]
    [InlineData("my-org/team/app")]
    [InlineData("foo.bar")]
    [InlineData("foo_bar")]
    [InlineData("foo__bar")]
    [InlineData("foo-bar")]
    [InlineData("foo--bar")]
    [InlineData("foo---bar")]
    [InlineData("a.b.c/d_e/f__g/h-i/j--k")]
    [InlineData("123/456")]
    [InlineData("v1.2/x")]
    public void TryParse_ValidName_Succeeds(string value)
    {
        Assert.True(RepositoryName.TryParse(value, out var name));
        Assert.Equal(value, name.Value);
        Assert.Equal(value, name.ToString());
    }

    [Fact]
    public void Parse_ValidNestedName_ReturnsName()
    {
        var name = RepositoryName.Parse("library/nested/ubuntu");

        Assert.Equal("library/nested/ubuntu", name.Value);
    }

    [Fact]
    public void TryParse_ExactlyMaxLength_Succeeds()
    {
        var value = new string('a', 127) + "/" + new string('b', 127);
        Assert.Equal(RepositoryName.MaxLength, value.Length);

        Assert.True(RepositoryName.TryParse(value, out _));
    }

    [Fact]
    public void TryParse_LongerThanMaxLength_Fails()
    {
        var value = new string('a', 128) + "/" + new string('b', 127);
        Assert.Equal(RepositoryName.MaxLength + 1, value.Length);

        Assert.False(RepositoryName.TryParse(value, out _));
        RegistryAssert.Throws(ErrorCode.NameInvalid, () => RepositoryName.Parse(value));
    }

    [Fact]
    public void TryParse_SingleComponentLongerThanMaxLength_Fails()
    {
        Assert.False(RepositoryName.TryParse(new string('a', 256), out _));
    }

    [Theory]
    [InlineData("Library/ubuntu")]
    [InlineData("UBUNTU")]
    [InlineData("library/Ubuntu")]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("a..b")]
    [InlineData("a/../b")]
    [InlineData("../a")]
    [InlineData("a/..")]
    [InlineData("a/./b")]
    [InlineData("%2e")]
    [InlineData("%2e%2e/a")]
    [InlineData("a/%2e%2e/b")]
    [InlineData("a%2fb")]
    [InlineData("a//b")]
    [InlineData("/a")]
    [InlineData("a/")]
    [InlineData("/")]
    [InlineData("_a")]
    [InlineData("a/_b")]
    [InlineData("_manifests")]
    [InlineData("-a")]
    [InlineData("a/-b")]
    [InlineData("a-")]
    [InlineData("a_")]
    [InlineData("a.")]
    [InlineData(".a")]
    [InlineData("a___b")]
    [InlineData("a._b")]
    [InlineData("a.-b")]
    [InlineData("a b")]
    [InlineData("a:b")]
    [InlineData("a@b")]
    [InlineData("a\\b")]
    [InlineData("caf\u00e9")]
    [InlineData("")]
    public void TryParse_InvalidName_Fails(string value)
    {
        Assert.False(RepositoryName.TryParse(value, out var name));
        Assert.Null(name);
    }

    [Theory]
    [InlineData("Upper/case")]
    [InlineData("a//b")]
    [InlineData("a/../b")]
    [InlineData("")]
    public void Parse_InvalidName_ThrowsNameInvalid(string value)
    {
        RegistryAssert.Throws(ErrorCode.NameInvalid, () => RepositoryName.Parse(value));
    }

    [Fact]
    public void TryParse_Null_Fails()
    {
        Assert.False(RepositoryName.TryParse(null, out _));
    }

    /// <summary>
    /// The grammar ends in <c>$</c>, which in .NET also matches before a final newline, so a name
    /// with a trailing line feed passes. The regex should end in <c>\z</c>.
    /// </summary>
    [Theory]
    [InlineData("library/ubuntu\n")]
    [InlineData("a\n")]
    public void TryParse_TrailingNewline_Fails(string value)
    {
        Assert.False(RepositoryName.TryParse(value, out _));
    }

    [Fact]
    public void Equality_IsOrdinalOnValue()
    {
        var a = RepositoryName.Parse("library/ubuntu");
        var b = RepositoryName.Parse("library/ubuntu");
        var c = RepositoryName.Parse("library/debian");

        Assert.Equal(a, b);
        Assert.True(a.Equals((object)b));
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, c);
        Assert.False(a.Equals(null));
    }
}
