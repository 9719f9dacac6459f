using Berth.Core.Errors;

namespace Berth.Core.Tests;

public sealed class ReferenceTests
{
    private const string SomeDigest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    [Fact]
    public void Parse_Tag_ReturnsTagReference()
    {
        var reference = Reference.Parse("v1.2.3");

        Assert.False(reference.IsDigest);
        Assert.Equal("v1.2.3", reference.Tag);
        Assert.Null(reference.Digest);
        Assert.Equal("v1.2.3", reference.ToString());
    }

    [Fact]
    public void Parse_Digest_ReturnsDigestReference()
    {
        var reference = Reference.Parse(SomeDigest);

        Assert.True(reference.IsDigest);
        Assert.Null(reference.Tag);
        Assert.Equal(Digest.Parse(SomeDigest), reference.Digest);
        Assert.Equal(SomeDigest, reference.ToString());
    }

    [Fact]
    public void Parse_Sha512Digest_ReturnsDigestReference()
    {
        var digest = Digest.Compute("x"u8, Digest.Sha512);

        var reference = Reference.Parse(digest.ToString());

        Assert.Equal(digest, reference.Digest);
    }

    [Theory]
    [InlineData("sha256:xyz")]
    [InlineData("sha256:")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("latest:1")]
    public void Parse_ValueWithColonThatIsNotADigest_ThrowsDigestInvalid(string value)
    {
        RegistryAssert.Throws(ErrorCode.DigestInvalid, () => Reference.Parse(value));
    }

    [Theory]
    [InlineData("")]
    [InlineData(".hidden")]
    [InlineData("-dash")]
    [InlineData("a/b")]
    [InlineData("a b")]
    public void Parse_InvalidTag_ThrowsTagInvalid(string value)
    {
        RegistryAssert.Throws(ErrorCode.TagInvalid, () => Reference.Parse(value));
    }

    /// <summary>Fails while <see cref="Tag"/>'s grammar ends in <c>$</c> (matches before a final newline).</summary>
    [Fact]
    public void Parse_TagWithTrailingNewline_ThrowsTagInvalid()
    {
        RegistryAssert.Throws(ErrorCode.TagInvalid, () => Reference.Parse("latest\n"));
    }

    [Fact]
    public void Parse_TagOf129Characters_ThrowsTagInvalid()
    {
        RegistryAssert.Throws(ErrorCode.TagInvalid, () => Reference.Parse(new string('a', 129)));
    }

    [Fact]
    public void Parse_TagOf128Characters_Succeeds()
    {
        var tag = new string('a', 128);

        Assert.Equal(tag, Reference.Parse(tag).Tag);
    }

    [Fact]
    public void Parse_SameTag_IsEqual()
    {
        Assert.Equal(Reference.Parse("latest"), Reference.Parse("latest"));
        Assert.NotEqual(Reference.Parse("latest"), Reference.Parse("other"));
    }
}
