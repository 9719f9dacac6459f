using System.Globalization;
using System.Net;
using System.Text.Json;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// skopeo 1.9 pushes an image into repositories whose quota it does not fit: the refusal reaches skopeo's error output,
/// and the repository is left as it was; under a quota the image fits, the same push succeeds.
/// </summary>
public sealed class QuotaSkopeoTests(ITestOutputHelper log) : IAsyncLifetime
{
    private static readonly OciPlatform LinuxAmd64 = new("linux", "amd64");

    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("quota");
    private OciLayoutWriter _layout = null!;
    private OciImage _image = null!;
    private long _imageBytes;
    private RegistryProcess _registry = null!;
    private RegistryApiClient _api = null!;
    private Skopeo _skopeo = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _layout = new OciLayoutWriter(_temp.CreateSubdirectory("layout"));
        _image = _layout.AddImage(LinuxAmd64, 96 * 1024, 96 * 1024, 96 * 1024);
        _layout.Tag("v1", _image.Manifest);
        _imageBytes = _image.Config.Size + _image.Layers.Sum(layer => layer.Size) + _image.Manifest.Size;
        var largestLayer = _image.Layers.Max(layer => layer.Size);

        // tight/**: every blob fits on its own, the image does not (refused at the manifest PUT).
        // tiny/**: the first layer does not fit (refused at a blob commit).
        // exact/**: the image fits to the byte.
        var root = _temp.CreateSubdirectory("storage");
        _registry = await RegistryProcess.StartAsync(RegistryKind.Berth, "berth-quota", root, port => string.Create(CultureInfo.InvariantCulture, $"""
            version: 0.1
            log:
              level: info
            storage:
              filesystem:
                rootdirectory: {root}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{port}
              secret: berth-end-to-end-quota
            health:
              storagedriver:
                enabled: false
            quotas:
              - repositories: ["tight/**"]
                limit: {_imageBytes - 1}
              - repositories: ["tiny/**"]
                limit: {largestLayer - 1}
              - repositories: ["exact/**"]
                limit: {_imageBytes}
            usage:
              maxage: 1s

            """));
        _api = new RegistryApiClient(_registry);
        _skopeo = new Skopeo(log, _registry);
        _http = new HttpClient { BaseAddress = _registry.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        _api.Dispose();
        await _registry.DisposeAsync();
        _temp.Dispose();
    }

    [Theory]
    [InlineData("tight", "manifest")]
    [InlineData("tiny", "blob")]
    public async Task Copy_OverQuota_FailsNamingTheQuota_LeavesNothing_AndFitsALargerQuota(string area, string refusedAt)
    {
        var repository = $"{area}/app-{Guid.NewGuid().ToString("N")[..10]}";

        var refused = await _skopeo.TryRunAsync(["copy", "--dest-tls-verify=false", _layout.Reference("v1"), Remote(repository)]);

        log.WriteLine("skopeo stderr: " + refused.StandardError);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("storage quota exceeded", refused.StandardError, StringComparison.Ordinal);
        Assert.Contains($"quotas.{(area == "tight" ? 0 : 1)}", refused.StandardError, StringComparison.Ordinal);
        Assert.Contains($"{refusedAt} sha256:", refused.StandardError, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, await _api.GetManifestStatusAsync(repository, "v1"));
        Assert.Equal(HttpStatusCode.NotFound, await _api.GetManifestStatusAsync(repository, _image.Manifest.Digest));
        using (var tags = await _http.GetAsync(new Uri($"v2/{repository}/tags/list", UriKind.Relative)))
        {
            // No manifest was stored: the repository has no tags (or, when no blob was linked either, does not exist).
            var body = await tags.Content.ReadAsStringAsync();
            Assert.True(tags.StatusCode == HttpStatusCode.NotFound || !body.Contains("\"v1\"", StringComparison.Ordinal), body);
        }

        if (refusedAt == "manifest")
        {
            Assert.Equal(0, await QuotaUsedAsync(repository));
        }

        var exact = $"exact/app-{Guid.NewGuid().ToString("N")[..10]}";
        await _skopeo.CopyAsync(_layout.Reference("v1"), Remote(exact));
        await ImageAssert.RegistryServesLayoutImageAsync(_api, exact, "v1", _layout, _image);
        Assert.Equal(_imageBytes, await QuotaUsedAsync(exact));
    }

    private string Remote(string repository) => $"docker://{_registry.Host}/{repository}:v1";

    /// <summary>The repository's quota use from <c>/api/v1/usage</c>, once a walk (at most 1 s old) lists it.</summary>
    private async Task<long> QuotaUsedAsync(string repository)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            using var response = await _http.GetAsync(new Uri("api/v1/usage", UriKind.Relative));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            using var usage = JsonDocument.Parse(text);
            foreach (var row in usage.RootElement.GetProperty("repositories").EnumerateArray())
            {
                if (row.GetProperty("name").GetString() == repository)
                {
                    return row.GetProperty("quota").GetProperty("usedBytes").GetInt64();
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"{repository} never appeared in /api/v1/usage: {text}");
            await Task.Delay(200);
        }
    }
}
