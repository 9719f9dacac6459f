using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>A private Docker engine (no bridge: nothing here runs a container) and a Berth on 127.0.0.1 over plain HTTP.</summary>
public sealed class DockerAndBerthFixture : IAsyncLifetime
{
    private TemporaryDirectory? _root;

    public DockerEngine Engine { get; private set; } = null!;

    public RegistryProcess Registry { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _root = TemporaryDirectory.Create("manifest-registry");
        Registry = await RegistryProcess.StartAsync(RegistryKind.Berth, _root.Path);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Engine = await DockerEngine.StartAsync(privateBridge: false, timeout.Token);
    }

    public async Task DisposeAsync()
    {
        if (Engine is not null)
        {
            await Engine.DisposeAsync();
        }

        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        _root?.Dispose();
    }
}

/// <summary>
/// <c>docker manifest create</c>/<c>annotate</c>/<c>push</c> against Berth: the Docker CLI assembles a manifest list from
/// two pushed images and pushes it (plain HTTP; the CLI treats 127.0.0.0/8 as insecure), and the engine pulls the list
/// by the digest <c>docker manifest push</c> printed.
/// </summary>
public sealed class DockerManifestTests(DockerAndBerthFixture fixture, ITestOutputHelper log) : IClassFixture<DockerAndBerthFixture>, IDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);
    private readonly DockerEngine _engine = fixture.Engine;
    private readonly RegistryProcess _registry = fixture.Registry;
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("manifest-test");

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task ManifestCreateAnnotatePush_TwoPlatforms_PullByDigest()
    {
        var repository = $"team/multi-{Guid.NewGuid().ToString("N")[..8]}";
        var amd64 = await ImportAndPushAsync(repository, "linux", "amd64");
        var arm64 = await ImportAndPushAsync(repository, "linux", "arm64");
        var list = $"{_registry.Host}/{repository}:1.0";

        await DockerAsync("manifest", "create", "--insecure", list, amd64.Reference, arm64.Reference);
        await DockerAsync("manifest", "annotate", "--os", "linux", "--arch", "arm64", "--variant", "v8", list, arm64.Reference);
        var pushed = await DockerAsync("manifest", "push", "--insecure", "--purge", list);
        var digest = pushed.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .LastOrDefault(line => line.StartsWith("sha256:", StringComparison.Ordinal));
        Assert.True(digest is not null, $"docker manifest push printed no digest: {pushed.DescribeOutput()}");

        var inspected = JsonNode.Parse((await DockerAsync("manifest", "inspect", "--insecure", $"{_registry.Host}/{repository}@{digest}")).StandardOutput)!;
        await DockerAsync("image", "remove", amd64.Reference, arm64.Reference);
        await DockerAsync("pull", $"{_registry.Host}/{repository}@{digest}");
        var pulledId = (await DockerAsync("image", "inspect", "--format", "{{.Id}}", $"{_registry.Host}/{repository}@{digest}")).StandardOutput.Trim();

        using var http = new HttpClient { BaseAddress = _registry.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"v2/{repository}/manifests/1.0", UriKind.Relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.docker.distribution.manifest.list.v2+json"));
        using var response = await http.SendAsync(request);
        var stored = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(digest, response.Headers.GetValues("Docker-Content-Digest").Single());
        Assert.Equal("application/vnd.docker.distribution.manifest.list.v2+json", (string?)stored["mediaType"]);
        var platforms = stored["manifests"]!.AsArray()
            .Select(entry => $"{entry!["platform"]!["os"]}/{entry["platform"]!["architecture"]}{(entry["platform"]!["variant"] is { } variant ? "/" + variant : "")}")
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["linux/amd64", "linux/arm64/v8"], platforms);
        Assert.Equal(2, inspected["manifests"]!.AsArray().Count);
        // The engine runs linux/amd64, so pulling the list by digest gives the amd64 image.
        Assert.Equal(amd64.ImageId, pulledId);
    }

    private sealed record PushedImage(string Reference, string ImageId);

    /// <summary>A one-file image for <paramref name="os"/>/<paramref name="architecture"/>, imported into the engine and pushed to Berth.</summary>
    private async Task<PushedImage> ImportAndPushAsync(string repository, string os, string architecture)
    {
        var content = _temp.CreateSubdirectory($"content-{architecture}");
        await File.WriteAllTextAsync(Path.Combine(content, "platform.txt"), $"{os}/{architecture} {Guid.NewGuid():N}\n");
        var archive = _temp.Combine($"{architecture}.tar");
        await ExternalCommand.RunCheckedAsync("tar", ["--create", "--file", archive, "--directory", content, "platform.txt"], log);
        var reference = $"{_registry.Host}/{repository}:{architecture}";
        await DockerAsync("import", "--platform", $"{os}/{architecture}", archive, reference);
        await DockerAsync("push", reference);
        var imageId = (await DockerAsync("image", "inspect", "--format", "{{.Id}}", reference)).StandardOutput.Trim();
        return new PushedImage(reference, imageId);
    }

    private Task<CommandResult> DockerAsync(params string[] arguments) =>
        ExternalCommand.WithRegistryLogAsync(_registry, () => _engine.RunCheckedAsync(log, CommandTimeout, arguments));
}
