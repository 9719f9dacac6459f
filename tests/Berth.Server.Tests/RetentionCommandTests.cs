namespace Berth.Server.Tests;

/// <summary><c>berth retention</c>'s refusals: they come before anything is opened, and name the key to change.</summary>
public sealed class RetentionCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("berth-retention-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private async Task<(int Code, string Output, string Error)> RunAsync(string storageYaml, params string[] flags)
    {
        var config = Path.Combine(_directory, "config.yml");
        await File.WriteAllTextAsync(config, $$"""
            version: 0.1
            storage:
              filesystem:
                rootdirectory: {{Path.Combine(_directory, "storage")}}
            {{storageYaml}}
            retention:
              rules:
                - repositories: ["**"]
                  keep: {latest: 1}
            """);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await RetentionCommand.RunAsync([.. flags, config], new Dictionary<string, string>(), output, error, CancellationToken.None);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Run_DeleteDisabled_RefusesNamingTheKey()
    {
        var (code, _, error) = await RunAsync("");

        Assert.Equal(1, code);
        Assert.Contains("storage.delete.enabled", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ReadOnly_RefusesNamingTheKey()
    {
        var (code, _, error) = await RunAsync("  delete: {enabled: true}\n  maintenance: {readonly: {enabled: true}}");

        Assert.Equal(1, code);
        Assert.Contains("storage.maintenance.readonly.enabled", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_DryRunOfAnEmptyRegistry_PrintsTheSummaryAtTheChosenInstant()
    {
        var (code, output, error) = await RunAsync("", "--dry-run", "--now", "2027-01-01T00:00:00Z");

        Assert.True(code == 0, error);
        Assert.Equal("retention (dry run) at 2027-01-01T00:00:00Z: 0 repositories, 0 tags (0 kept, 0 to delete), 0 manifests to delete, 0 skipped",
            output.Trim());
    }

    [Theory]
    [InlineData("--now", "yesterday")]
    [InlineData("--grace-period", "-1h")]
    [InlineData("--bogus")]
    public async Task Run_BadFlag_ExitsTwo(params string[] flags)
    {
        var (code, _, error) = await RunAsync("", flags);

        Assert.Equal(2, code);
        Assert.Contains("berth retention:", error, StringComparison.Ordinal);
    }
}
