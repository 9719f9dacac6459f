using System.Text;
using Berth.Core.Errors;

namespace Berth.Core.Tests;

public sealed class DigestTests
{
    private const string EmptySha256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private const string AbcSha256 = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    private const string AbcSha512 =
        "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

    [Fact]
    public void Parse_ValidSha256_ExposesAlgorithmAndEncoded()
    {
        var digest = Digest.Parse(AbcSha256);

        Assert.Equal(Digest.Sha256, digest.Algorithm);
        Assert.Equal(AbcSha256["sha256:".Length..], digest.Encoded);
        Assert.Equal(System.Security.Cryptography.HashAlgorithmName.SHA256, digest.HashAlgorithm);
        Assert.Equal(AbcSha256, digest.ToString());
    }

    [Fact]
    public void Parse_ValidSha512_ExposesAlgorithmAndEncoded()
    {
        var digest = Digest.Parse(AbcSha512);

        Assert.Equal(Digest.Sha512, digest.Algorithm);
        Assert.Equal(128, digest.Encoded.Length);
        Assert.Equal(System.Security.Cryptography.HashAlgorithmName.SHA512, digest.HashAlgorithm);
        Assert.Equal(AbcSha512, digest.ToString());
    }

    [Fact]
    public void Parse_SameText_IsEqualAndHashesEqual()
    {
        var a = Digest.Parse(AbcSha256);
        var b = Digest.Parse(AbcSha256);

        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, Digest.Parse(EmptySha256));
    }

    [Fact]
    public void Parse_UppercaseHex_ThrowsDigestInvalid()
    {
        var uppercase = "sha256:" + AbcSha256["sha256:".Length..].ToUpperInvariant();

        RegistryAssert.Throws(ErrorCode.DigestInvalid, () => Digest.Parse(uppercase));
    }

    [Fact]
    public void Parse_SingleUppercaseHexCharacter_ThrowsDigestInvalid()
    {
        var mixed = "sha256:B" + AbcSha256["sha256:b".Length..];

        RegistryAssert.Throws(ErrorCode.DigestInvalid, () => Digest.Parse(mixed));
    }

    [Fact]
    public void Parse_UppercaseAlgorithm_ThrowsDigestInvalid()
    {
        RegistryAssert.Throws(ErrorCode.DigestInvalid, () => Digest.Parse("SHA256" + AbcSha256["sha256".Length..]));
    }

    [Theory]
    [InlineData(63)]
    [InlineData(65)]
    [InlineData(1)]
    [InlineData(128)]
    public void Parse_Sha256WithWrongLength_ThrowsDigestInvalid(int length)
    {
        RegistryAssert.Throws(ErrorCode.DigestInvalid, () => Digest.Parse("sha256:" + new string('a', length)));
    }

    [Theory]
    [InlineData(64)]
    [InlineData(127)]
    [InlineData(129)]
    public void Parse_Sha512WithWrongLength_ThrowsDigestInvalid(int length)
    {
        RegistryAssert.Throws(ErrorCode.DigestInvalid, () => Digest.Parse("sha512:" + new string('a', length)));
    }

    [Theory]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("sha384:38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b")]
    [InlineData("sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709")]
    [InlineData("blake3:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public void Parse_UnknownAlgorithm_ThrowsDigestInvalid(string value)
    {
        RegistryAssert.Throws(ErrorCode.DigestInvalid, () => Digest.Parse(value));
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    public void Parse_Empty_ThrowsDigestInvalid(string? value)
    {
        RegistryAssert.Throws(ErrorCode.DigestInvalid, () => Digest.Parse(value));
    }

    [Theory]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("sha256")]
    [InlineData("sha256:")]
    [InlineData(":e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData(":")]
    public void Parse_MissingAlgorithmOrEncodedPart_ThrowsDigestInvalid(string value)
    {
        RegistryAssert.Throws(ErrorCode.DigestInvalid, () => Digest.Parse(value));
    }

    [Theory]
    [InlineData("sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85 ")]
    [InlineData(" sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b785:b855")]
    public void Parse_NonHexOrPaddedEncoded_ThrowsDigestInvalid(string value)
    {
        RegistryAssert.Throws(ErrorCode.DigestInvalid, () => Digest.Parse(value));
    }

    [Fact]
    public void TryParse_Invalid_ReturnsFalseWithReason()
    {
        Assert.False(Digest.TryParse("sha256:abc", out _, out var reason));
        Assert.False(string.IsNullOrEmpty(reason));
        Assert.False(Digest.TryParse("nope", out var digest));
        Assert.Equal(default, digest);
    }

    [Fact]
    public void TryParse_Valid_ReturnsTrueWithoutReason()
    {
        Assert.True(Digest.TryParse(EmptySha256, out var digest, out var reason));
        Assert.Null(reason);
        Assert.Equal(EmptySha256, digest.ToString());
    }

    [Fact]
    public void Parse_Invalid_ExceptionCarriesDetail()
    {
        var exception = RegistryAssert.Throws(ErrorCode.DigestInvalid, () => Digest.Parse("sha256:xyz"));

        Assert.NotNull(exception.Detail);
        Assert.Contains("invalid digest", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compute_DefaultAlgorithm_IsSha256OfContent()
    {
        Assert.Equal(EmptySha256, Digest.Compute([]).ToString());
        Assert.Equal(AbcSha256, Digest.Compute("abc"u8).ToString());
    }

    [Fact]
    public void Compute_Sha512_IsSha512OfContent()
    {
        Assert.Equal(AbcSha512, Digest.Compute("abc"u8, Digest.Sha512).ToString());
    }

    [Fact]
    public void Compute_Result_RoundTripsThroughParse()
    {
        var content = Encoding.UTF8.GetBytes("some layer bytes");
        foreach (var algorithm in new[] { Digest.Sha256, Digest.Sha512 })
        {
            var computed = Digest.Compute(content, algorithm);
            Assert.Equal(computed, Digest.Parse(computed.ToString()));
        }
    }

    [Fact]
    public void FromHash_LowercasesHex()
    {
        var hash = System.Security.Cryptography.SHA256.HashData("abc"u8);

        Assert.Equal(AbcSha256, Digest.FromHash(Digest.Sha256, hash).ToString());
    }

    [Theory]
    [InlineData("sha256", true)]
    [InlineData("sha512", true)]
    [InlineData("sha384", false)]
    [InlineData("SHA256", false)]
    [InlineData("", false)]
    public void IsSupportedAlgorithm_OnlySha256AndSha512(string algorithm, bool expected)
    {
        Assert.Equal(expected, Digest.IsSupportedAlgorithm(algorithm));
    }

    /// <summary>
    /// Every <see cref="Digest"/> value should be one <see cref="Digest.Parse"/> accepts. Compute with an
    /// algorithm it does not implement silently hashes with SHA-256 and labels the result with the
    /// requested name ("sha384:&lt;sha256 hex&gt;"), a digest that can never be verified or parsed back.
    /// </summary>
    [Theory]
    [InlineData("sha384")]
    [InlineData("md5")]
    [InlineData("SHA512")]
    public void Compute_UnsupportedAlgorithm_Throws(string algorithm)
    {
        Assert.ThrowsAny<ArgumentException>(() => Digest.Compute("abc"u8, algorithm));
    }

    [Fact]
    public void CompareTo_OrdersAsTheStringFormsOrderOrdinally()
    {
        var digests = Enumerable.Range(0, 40)
            .Select(i => Digest.Compute(BitConverter.GetBytes(i), i % 3 == 0 ? Digest.Sha512 : Digest.Sha256))
            .ToList();

        var byCompareTo = digests.Order().Select(d => d.ToString()).ToList();
        var byString = digests.Select(d => d.ToString()).Order(StringComparer.Ordinal).ToList();

        Assert.Equal(byString, byCompareTo);
        Assert.Equal(0, digests[1].CompareTo(Digest.Parse(digests[1].ToString())));
    }
}
