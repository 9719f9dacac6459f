namespace Berth.Core.Tests;

public sealed class TagTests
{
    [Theory]
    [InlineData("latest")]
    [InlineData("v1.0.0")]
    [InlineData("1")]
    [InlineData("A")]
    [InlineData("_private")]
    [InlineData("a-b_c.d")]
    [InlineData("sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.sig")]
    [InlineData("UPPER_lower.123-x")]
    [InlineData("a..b")]
    [InlineData("a--")]
    public void IsValid_ValidTag_ReturnsTrue(string value)
    {
        Assert.True(Tag.IsValid(value));
    }

    [Fact]
    public void IsValid_128Characters_ReturnsTrue()
    {
        Assert.True(Tag.IsValid(new string('a', 128)));
        Assert.True(Tag.IsValid("_" + new string('.', 127)));
    }

    [Fact]
    public void IsValid_129Characters_ReturnsFalse()
    {
        Assert.False(Tag.IsValid(new string('a', 129)));
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData(".hidden")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("-dash")]
    [InlineData("-")]
    [InlineData("a/b")]
    [InlineData("a:b")]
    [InlineData("a b")]
    [InlineData("a+b")]
    [InlineData("a@b")]
    [InlineData("caf\u00e9")]
    public void IsValid_InvalidTag_ReturnsFalse(string? value)
    {
        Assert.False(Tag.IsValid(value));
    }

    /// <summary>
    /// The grammar ends in <c>$</c>, which in .NET also matches before a final newline, so a tag
    /// with a trailing line feed is accepted. The regex should end in <c>\z</c>.
    /// </summary>
    [Theory]
    [InlineData("latest\n")]
    [InlineData("v1\n")]
    public void IsValid_TrailingNewline_ReturnsFalse(string value)
    {
        Assert.False(Tag.IsValid(value));
    }
}
