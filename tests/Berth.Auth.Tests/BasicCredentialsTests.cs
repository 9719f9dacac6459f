using System.Text;
using Microsoft.Extensions.Primitives;

namespace Berth.Auth.Tests;

public sealed class BasicCredentialsTests
{
    [Fact]
    public void Parse_UserAndPassword_SplitsAtTheFirstColon()
    {
        var credentials = BasicCredentials.Parse(Requests.Basic("alice", "pa:ss wörd"));

        Assert.Equal(CredentialsKind.Basic, credentials.Kind);
        Assert.Equal("alice", credentials.User);
        Assert.Equal("pa:ss wörd", credentials.Password);
        Assert.DoesNotContain("pa:ss", credentials.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("basic YWxpY2U6cHc=")]
    [InlineData("BASIC   YWxpY2U6cHc=")]
    [InlineData("  Basic YWxpY2U6cHc=  ")]
    public void Parse_SchemeCaseAndSpacing_AreTolerated(string header) =>
        Assert.Equal(new BasicCredentials(CredentialsKind.Basic, "alice", "pw"), BasicCredentials.Parse(header));

    [Fact]
    public void Parse_EmptyUserAndPassword_IsAnonymous() =>
        // podman and skopeo send "Basic Og==" when they have no credentials for the registry.
        Assert.Equal(CredentialsKind.Anonymous, BasicCredentials.Parse("Basic Og==").Kind);

    [Fact]
    public void Parse_NoHeader_IsNone()
    {
        Assert.Equal(CredentialsKind.None, BasicCredentials.Parse(StringValues.Empty).Kind);
        Assert.Equal(CredentialsKind.None, BasicCredentials.Parse("").Kind);
    }

    [Theory]
    [InlineData("Bearer abc.def.ghi")]
    [InlineData("Digest username=\"a\"")]
    [InlineData("Negotiate")]
    public void Parse_OtherScheme_IsOtherScheme(string header) => Assert.Equal(CredentialsKind.OtherScheme, BasicCredentials.Parse(header).Kind);

    [Theory]
    [InlineData("Basic")]
    [InlineData("Basic ")]
    [InlineData("Basic !!!!")]
    [InlineData("Basic YWxpY2U=")]
    [InlineData("Basic OnB3")]
    [InlineData(" ")]
    public void Parse_Malformed_IsMalformed(string header) => Assert.Equal(CredentialsKind.Malformed, BasicCredentials.Parse(header).Kind);

    [Fact]
    public void Parse_InvalidUtf8_IsMalformed()
    {
        var token = Convert.ToBase64String([0x61, 0x3a, 0xff, 0xfe]);

        Assert.Equal(CredentialsKind.Malformed, BasicCredentials.Parse("Basic " + token).Kind);
    }

    [Fact]
    public void Parse_HugeToken_IsMalformedWithoutDecoding()
    {
        var token = Convert.ToBase64String(Encoding.UTF8.GetBytes("a:" + new string('x', 10_000)));

        Assert.Equal(CredentialsKind.Malformed, BasicCredentials.Parse("Basic " + token).Kind);
    }

    [Fact]
    public void Parse_TwoHeaders_IsMalformed() =>
        Assert.Equal(CredentialsKind.Malformed, BasicCredentials.Parse(new StringValues([Requests.Basic("a", "b"), Requests.Basic("c", "d")])).Kind);
}
