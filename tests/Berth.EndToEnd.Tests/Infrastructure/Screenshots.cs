using System.Text;
using Microsoft.Playwright;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>
/// Full-page PNGs kept as test artifacts: <c>TestResults/screenshots/NAME.png</c> under the repository root (git ignores
/// TestResults/; scripts/test.sh empties it at the start of a run), or under the directory BERTH_E2E_SCREENSHOTS names.
/// A name is a stable file name, so a README can link the same path run after run.
/// </summary>
public static class Screenshots
{
    /// <summary>Overrides where screenshots go.</summary>
    public const string DirectoryVariable = "BERTH_E2E_SCREENSHOTS";

    /// <summary>The directory screenshots are written to (not created until the first one).</summary>
    public static string Directory
    {
        get
        {
            var overridePath = Environment.GetEnvironmentVariable(DirectoryVariable);
            return string.IsNullOrEmpty(overridePath)
                ? Path.Combine(BuildOutput.RepositoryRoot, "TestResults", "screenshots")
                : Path.GetFullPath(overridePath);
        }
    }

    /// <summary>
    /// Saves a full-page screenshot as <c>NAME.png</c> (characters other than letters, digits, '-', '_' and '.' become
    /// '-'), replacing an earlier one, and returns its full path.
    /// </summary>
    public static async Task<string> SaveAsync(IPage page, string name, ITestOutputHelper? log = null)
    {
        var directory = Directory;
        System.IO.Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName(name) + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true, Type = ScreenshotType.Png });
        log?.WriteLine($"screenshot of {page.Url}: {path}");
        return path;
    }

    /// <summary>The file name (without .png) <see cref="SaveAsync"/> uses for <paramref name="name"/>.</summary>
    public static string FileName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var builder = new StringBuilder(name.Length);
        foreach (var character in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(character) || character is '-' or '_' or '.' ? character : '-');
        }

        return builder.ToString().Trim('.');
    }
}
