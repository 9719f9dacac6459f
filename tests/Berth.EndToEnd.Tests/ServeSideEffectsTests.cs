using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// <c>berth serve</c> as a real process with the default web UI on: it writes nowhere but its storage. ASP.NET Core's
/// data protection, which the UI's Razor components bring along, used to make a key at start when none was stored,
/// write it unencrypted under the user's home directory and warn about it.
/// </summary>
public sealed class ServeSideEffectsTests : IDisposable
{
    private readonly TemporaryDirectory _home = TemporaryDirectory.Create("serve-home");
    private readonly TemporaryDirectory _storage = TemporaryDirectory.Create("serve-storage");

    public void Dispose()
    {
        _home.Dispose();
        _storage.Dispose();
    }

    [Fact]
    public async Task Serve_WithTheWebUi_WritesNothingUnderHomeAndLogsNoKeyWarning()
    {
        string log;
        await using (var registry = await RegistryProcess.StartAsync(RegistryKind.Berth, "berth", _storage.Path,
            port => RegistryProcess.ConfigYaml(RegistryKind.Berth, port, _storage.Path),
            environment: new Dictionary<string, string> { ["HOME"] = _home.Path }))
        {
            using var client = new HttpClient { BaseAddress = registry.BaseAddress };
            using var page = await client.GetAsync(new Uri("/", UriKind.Relative));
            Assert.Equal(System.Net.HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("text/html", page.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
            using var api = await client.GetAsync(new Uri("/v2/", UriKind.Relative));
            Assert.Equal(System.Net.HttpStatusCode.OK, api.StatusCode);

            await registry.StopAsync();
            log = registry.Log;
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(_home.Path, "*", SearchOption.AllDirectories));
        Assert.DoesNotContain("DataProtection", log, StringComparison.Ordinal);
    }
}
