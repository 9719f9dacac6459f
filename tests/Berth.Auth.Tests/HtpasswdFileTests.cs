namespace Berth.Auth.Tests;

public sealed class HtpasswdFileTests
{
    [Fact]
    public void Parse_BcryptEntriesCommentsAndBlankLines_ReadsEveryUser()
    {
        var alice = Hashes.Of("a");
        var bob = Hashes.Of("b").Replace("$2a$", "$2y$", StringComparison.Ordinal);
        var file = HtpasswdFile.Parse($"# registry users\n\nalice:{alice}\r\n  bob:{bob}  \n", "/etc/htpasswd");

        Assert.Equal(["alice", "bob"], file.Users.Order(StringComparer.Ordinal));
        Assert.Equal(alice, file.HashOf("alice"));
        Assert.Equal(bob, file.HashOf("bob"));
        Assert.Null(file.HashOf("carol"));
    }

    [Fact]
    public void Parse_PlainUserPasswordLine_FailsNamingTheLineAndTheFixWithoutEchoingIt()
    {
        var text = $"{Hashes.Line("alice", "a")}\n# comment\nbob hunter2\n";

        var ex = Assert.Throws<HtpasswdFormatException>(() => HtpasswdFile.Parse(text, "/etc/registry/htpasswd"));

        Assert.Equal(3, ex.Line);
        Assert.StartsWith("/etc/registry/htpasswd line 3: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("berth htpasswd -B /etc/registry/htpasswd", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("carol:$apr1$abcdefgh$0123456789abcdefghijkl", "Apache MD5")]
    [InlineData("carol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "SHA-1")]
    [InlineData("carol:plaintext", "plain-text")]
    [InlineData("carol:", "empty")]
    [InlineData("carol:$2a$10$tooShort", "damaged bcrypt")]
    [InlineData("carol:$6$salt$hash", "SHA-crypt")]
    public void Parse_NonBcryptHash_FailsNamingUserLineAndHashKind(string line, string kind)
    {
        var ex = Assert.Throws<HtpasswdFormatException>(() => HtpasswdFile.Parse($"# x\n{line}\n", "pw"));

        Assert.Equal(2, ex.Line);
        Assert.Contains("user 'carol'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(kind, ex.Message, StringComparison.Ordinal);
        Assert.Contains("berth htpasswd -B pw carol", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DuplicateUser_FailsOnTheSecondEntry()
    {
        var ex = Assert.Throws<HtpasswdFormatException>(() => HtpasswdFile.Parse($"{Hashes.Line("a", "1")}\n{Hashes.Line("a", "2")}\n", "pw"));

        Assert.Equal(2, ex.Line);
        Assert.Contains("appears twice", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EmptyUserName_Fails()
    {
        var ex = Assert.Throws<HtpasswdFormatException>(() => HtpasswdFile.Parse($":{Hashes.Of("x")}\n", "pw"));

        Assert.Equal(1, ex.Line);
    }

    [Fact]
    public void Load_MissingFile_SaysHowToCreateIt()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("htpasswd");

        var ex = Assert.Throws<HtpasswdFormatException>(() => HtpasswdFile.Load(path));

        Assert.Equal(0, ex.Line);
        Assert.Contains($"berth htpasswd -B -c {path} USER", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithUserAndWithoutUser_KeepCommentsAndOrder()
    {
        var file = HtpasswdFile.Parse($"# header\n{Hashes.Line("alice", "a")}\n{Hashes.Line("bob", "b")}\n", "pw");
        var newHash = Hashes.Of("new");

        var updated = file.WithUser("alice", newHash).WithUser("carol", newHash).WithoutUser("bob");
        var reparsed = HtpasswdFile.Parse(updated.ToString(), "pw");

        var lines = updated.ToString().Split('\n');
        Assert.Equal("# header", lines[0]);
        Assert.Equal($"alice:{newHash}", lines[1]);
        Assert.Equal($"carol:{newHash}", lines[2]);
        Assert.Equal(["alice", "carol"], reparsed.Users.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", true)]
    [InlineData("$2y$04$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", true)]
    [InlineData("$2b$31$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", true)]
    [InlineData("$2a$03$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", false)]
    [InlineData("$2c$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", false)]
    [InlineData("$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhW!", false)]
    [InlineData("$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWyy", false)]
    public void IsBcrypt_ChecksPrefixCostAndAlphabet(string hash, bool expected) => Assert.Equal(expected, HtpasswdFile.IsBcrypt(hash));

    [Fact]
    public void BcryptMatches_ApacheStyle2yHashes_Verify()
    {
        // Apache's htpasswd -B writes $2y$; registry:2 accepts it, so must Berth.
        var hash = Hashes.Of("secret").Replace("$2a$", "$2y$", StringComparison.Ordinal);

        Assert.True(HtpasswdAccessController.BcryptMatches("secret", hash));
        Assert.False(HtpasswdAccessController.BcryptMatches("Secret", hash));
        Assert.False(HtpasswdAccessController.BcryptMatches("secret", "not-a-hash"));
    }
}
