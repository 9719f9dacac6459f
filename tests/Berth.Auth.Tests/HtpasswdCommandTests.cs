namespace Berth.Auth.Tests;

public sealed class HtpasswdCommandTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static async Task<(int Code, string Output, string Error)> RunAsync(string stdin, Func<string, string?>? prompt, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await HtpasswdCommand.RunAsync(args, new StringReader(stdin), output, error, prompt);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Create_ThenAddUpdateDeleteVerify_WorksAsApacheHtpasswd()
    {
        var file = _directory.Combine("htpasswd");

        var created = await RunAsync("", null, "-Bbc", "-C", "4", file, "alice", "one");
        var added = await RunAsync("", null, "-bB", "-C4", file, "bob", "two");
        var updated = await RunAsync("", null, "-b", "-C", "4", file, "alice", "three");
        var verified = await RunAsync("", null, "-vb", file, "alice", "three");
        var wrong = await RunAsync("", null, "-vb", file, "alice", "one");
        var deleted = await RunAsync("", null, "-D", file, "bob");

        Assert.Equal((0, "Adding password for user alice"), (created.Code, created.Error.Trim()));
        Assert.Equal((0, "Adding password for user bob"), (added.Code, added.Error.Trim()));
        Assert.Equal((0, "Updating password for user alice"), (updated.Code, updated.Error.Trim()));
        Assert.Equal(0, verified.Code);
        Assert.Equal(3, wrong.Code);
        Assert.Equal((0, "Deleting password for user bob"), (deleted.Code, deleted.Error.Trim()));
        var parsed = HtpasswdFile.Load(file);
        Assert.Equal(["alice"], parsed.Users);
        Assert.True(HtpasswdAccessController.BcryptMatches("three", parsed.HashOf("alice")!));
        Assert.Equal(4, HtpasswdFile.CostOf(parsed.HashOf("alice")!));
    }

    [Fact]
    public async Task Print_WritesTheEntryToStdout()
    {
        var (code, output, _) = await RunAsync("", null, "-nbB", "-C", "5", "carol", "pw");

        var entry = output.Split('\n')[0];
        Assert.Equal(0, code);
        Assert.StartsWith("carol:$2", entry, StringComparison.Ordinal);
        Assert.True(HtpasswdAccessController.BcryptMatches("pw", entry["carol:".Length..]));
    }

    [Fact]
    public async Task Prompt_AsksTwiceAndRefusesAMismatch()
    {
        var file = _directory.Combine("htpasswd");
        var answers = new Queue<string>(["first", "second"]);

        var (code, _, error) = await RunAsync("", _ => answers.Dequeue(), "-c", file, "alice");

        Assert.Equal(3, code);
        Assert.Contains("verification error", error, StringComparison.Ordinal);
        Assert.False(File.Exists(file));
    }

    [Fact]
    public async Task Stdin_PasswordReadFromPipedInput()
    {
        var file = _directory.Combine("htpasswd");

        var (code, _, _) = await RunAsync("piped-secret\n", null, "-ic", "-C", "4", file, "alice");

        Assert.Equal(0, code);
        Assert.True(HtpasswdAccessController.BcryptMatches("piped-secret", HtpasswdFile.Load(file).HashOf("alice")!));
    }

    [Fact]
    public async Task ExistingMalformedFile_IsNotOverwrittenAndTheLineIsNamed()
    {
        var file = _directory.Combine("htpasswd");
        await File.WriteAllTextAsync(file, "alice plain\n");

        var (code, _, error) = await RunAsync("", null, "-b", file, "bob", "pw");

        Assert.Equal(1, code);
        Assert.Contains("line 1", error, StringComparison.Ordinal);
        Assert.Equal("alice plain\n", await File.ReadAllTextAsync(file));
    }

    [Fact]
    public async Task MissingFileWithoutCreate_SaysToUseMinusC()
    {
        var (code, _, error) = await RunAsync("", null, "-b", _directory.Combine("none"), "bob", "pw");

        Assert.Equal(1, code);
        Assert.Contains("-c", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, "-b", "file")]
    [InlineData(2, "-m", "file", "user")]
    [InlineData(2, "-C", "99", "file", "user")]
    [InlineData(2, "-bi", "file", "user", "pw")]
    [InlineData(2, "-x", "file", "user")]
    [InlineData(6, "-nb", "us:er", "pw")]
    [InlineData(3, "-nb", "user", "")]
    public async Task BadUsage_FailsWithApacheExitCodes(int expected, params string[] args) =>
        Assert.Equal(expected, (await RunAsync("", null, args)).Code);
}
