using System.Globalization;
using System.Text.Json.Nodes;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

public sealed class DotnetContainerPublishAgainstBerthTests(BerthFixture fixture, ITestOutputHelper log)
    : DotnetContainerPublishTests(fixture, log), IClassFixture<BerthFixture>;

public sealed class DotnetContainerPublishAgainstDistributionTests(DistributionFixture fixture, ITestOutputHelper log)
    : DotnetContainerPublishTests(fixture, log), IClassFixture<DistributionFixture>;

/// <summary>
/// The .NET SDK's own container publishing (<c>dotnet publish /t:PublishContainer</c>, no Docker daemon) pulls a
/// base image from the registry and pushes the app image on top of it, monolithic or in chunks.
/// </summary>
public abstract class DotnetContainerPublishTests : IDisposable
{
    private const string AssemblyName = "E2eApp";

    /// <summary>Small enough that the app layer takes several chunks (the SDK's default is far larger).</summary>
    private const int ChunkSize = 16 * 1024;

    private readonly RegistryProcess _registry;
    private readonly RegistryApiClient _api;
    private readonly ITestOutputHelper _log;
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("dotnet-publish");

    protected DotnetContainerPublishTests(IRegistryFixture fixture, ITestOutputHelper log)
    {
        _registry = fixture.Registry;
        _api = new RegistryApiClient(_registry);
        _log = log;
    }

    [Theory]
    [InlineData("oci", false)]
    [InlineData("v2s2", false)]
    [InlineData("oci", true)]
    public async Task PublishContainer_OnBaseImageFromRegistry_PushesAppLayerOnTopOfBaseLayers(string baseFormat, bool forceChunkedUpload)
    {
        var baseRepository = UniqueRepository($"base/{baseFormat}");
        var baseImage = await PushBaseImageAsync(baseRepository, baseFormat);
        var appRepository = UniqueRepository("demo/app");
        var dotnet = new DotnetContainerPublish(_temp, _log);
        var project = dotnet.WriteConsoleProject(AssemblyName, "Hello from an image pushed to Berth");

        var publish = await dotnet.PublishCheckedAsync(_registry, project, appRepository, baseRepository,
            [
                "-p:ContainerRuntimeIdentifier=linux-x64",
                // The SDK reports each chunk it uploads only at detailed verbosity.
                forceChunkedUpload ? "-v:detailed" : "-v:normal",
            ],
            ChunkedUploadSettings(forceChunkedUpload));
        Assert.Contains("Pushed image", publish.StandardOutput, StringComparison.Ordinal);
        if (forceChunkedUpload)
        {
            // The app layer (tens of KiB) must have gone up as several PATCH requests, each continuing the last.
            var fullChunks = publish.StandardOutput.Split('\n').Count(line => line.Contains($"Uploading {ChunkSize} bytes of content at", StringComparison.Ordinal));
            Assert.True(fullChunks >= 2, $"The SDK uploaded {fullChunks} full chunks of {ChunkSize} bytes; expected a chunked upload.\n{publish.DescribeOutput()}");
        }

        var manifest = await _api.GetManifestAsync(appRepository, "1.0");
        _log.WriteLine($"The SDK pushed {manifest.ContentType} {manifest.ComputedDigest}");
        Assert.Contains(manifest.ContentType, new[] { MediaTypes.OciManifest, MediaTypes.DockerManifest });
        Assert.Equal(manifest.ComputedDigest, manifest.DigestHeader);
        var layers = manifest.Document.Layers;
        Assert.Equal(baseImage.Layers.Count + 1, layers.Count);
        Assert.Equal(baseImage.Layers.Select(l => l.Digest), layers.Take(baseImage.Layers.Count).Select(l => l.Digest));
        var layerBytes = await ImageAssert.LayersMatchConfigDiffIdsAsync(_api, appRepository, manifest);
        var appLayerEntries = Digests.TarEntryNames(layerBytes[^1]);
        Assert.Contains(appLayerEntries, name => name.TrimStart('.', '/') == $"app/{AssemblyName}.dll");
        var config = JsonNode.Parse(await _api.GetBlobAsync(appRepository, manifest.Document.Config!.Digest))!;
        Assert.Equal("linux", (string?)config["os"]);
        Assert.Equal("amd64", (string?)config["architecture"]);
    }

    public void Dispose()
    {
        _api.Dispose();
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A hand-built linux/amd64 base image (the SDK reads its config), pushed with skopeo in OCI or Docker schema2 form.</summary>
    private async Task<OciImage> PushBaseImageAsync(string repository, string format)
    {
        var layout = new OciLayoutWriter(_temp.CreateSubdirectory("base-layout"));
        var image = layout.AddImage(new OciPlatform("linux", "amd64"), 32 * 1024, 256 * 1024);
        layout.Tag("1", image.Manifest);
        await new Skopeo(_log, _registry).CopyAsync(layout.Reference("1"), $"docker://{_registry.Host}/{repository}:1", "--format", format);
        return image;
    }

    /// <summary>
    /// The SDK's switches for chunked uploads: on, with <see cref="ChunkSize"/> chunks, or removed from the inherited
    /// environment so the SDK uploads monolithically.
    /// </summary>
    private static Dictionary<string, string?> ChunkedUploadSettings(bool forceChunkedUpload) => new()
    {
        ["DOTNET_CONTAINER_DEBUG_REGISTRY_FORCE_CHUNKED_UPLOAD"] = forceChunkedUpload ? "true" : null,
        ["DOTNET_CONTAINER_REGISTRY_CHUNKED_UPLOAD_SIZE_BYTES"] = forceChunkedUpload ? ChunkSize.ToString(CultureInfo.InvariantCulture) : null,
    };

    private static string UniqueRepository(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";
}
