using System.Text.Json.Nodes;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// The .NET SDK's multi-platform container publishing: one <c>dotnet publish /t:PublishContainer</c> with
/// <c>ContainerRuntimeIdentifiers</c> linux-x64 and linux-arm64 publishes the app per RID, pushes an image per platform
/// on top of the matching platform of a multi-arch base from Berth, and pushes an image index (OCI) or a manifest list
/// (Docker) over them. Berth only; the single-platform publish runs against Distribution too.
/// </summary>
public sealed class DotnetMultiArchPublishTests(BerthFixture fixture, ITestOutputHelper log) : IClassFixture<BerthFixture>, IDisposable
{
    private const string AssemblyName = "E2eMultiApp";

    // ELF e_machine values (at byte 18 of the header) of the apphost each RID ships.
    private static readonly Dictionary<string, ushort> ElfMachineByArchitecture = new(StringComparer.Ordinal) { ["amd64"] = 0x3E, ["arm64"] = 0xB7 };

    private readonly RegistryProcess _registry = fixture.Registry;
    private readonly RegistryApiClient _api = new(fixture.Registry);
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("dotnet-multiarch");

    [Theory]
    [InlineData("OCI", "oci", MediaTypes.OciIndex, MediaTypes.OciManifest)]
    [InlineData("Docker", "v2s2", MediaTypes.DockerManifestList, MediaTypes.DockerManifest)]
    public async Task PublishContainer_TwoRuntimeIdentifiers_PushesAnIndexOfTwoPullablePlatformImages(
        string imageFormat, string baseFormat, string indexType, string manifestType)
    {
        var baseRepository = UniqueRepository($"base/multiarch-{baseFormat}");
        var baseImages = await PushMultiArchBaseAsync(baseRepository, baseFormat);
        var appRepository = UniqueRepository("demo/multiarch");
        var dotnet = new DotnetContainerPublish(_temp, log);
        // RuntimeIdentifiers makes restore fetch both apphosts; ContainerRuntimeIdentifiers makes PublishContainer build
        // one image per RID and an index over them. Both sit in the project: given on the command line (with %3B for
        // ';'), the list reached SDK 10.0.4xx's per-RID builds whole and broke their OutputPath.
        var project = dotnet.WriteConsoleProject(AssemblyName, "Hello from a multi-platform image pushed to Berth",
            ("RuntimeIdentifiers", "linux-x64;linux-arm64"), ("ContainerRuntimeIdentifiers", "linux-x64;linux-arm64"));

        var publish = await dotnet.PublishCheckedAsync(_registry, project, appRepository, baseRepository, [$"-p:ContainerImageFormat={imageFormat}"]);
        Assert.Contains("Pushed image index", publish.StandardOutput, StringComparison.Ordinal);

        var index = await _api.GetManifestAsync(appRepository, "1.0");
        Assert.Equal(indexType, index.ContentType);
        Assert.Equal(indexType, index.Document.MediaType);
        Assert.Equal(index.ComputedDigest, index.DigestHeader);
        var entries = (JsonNode.Parse(index.Content)!["manifests"] as JsonArray ?? []).Select(entry => entry!).ToList();
        Assert.Equal(["amd64", "arm64"], entries.Select(entry => (string?)entry["platform"]?["architecture"]).Order(StringComparer.Ordinal));
        Assert.All(entries, entry => Assert.Equal("linux", (string?)entry["platform"]?["os"]));

        foreach (var entry in entries)
        {
            var architecture = (string)entry["platform"]!["architecture"]!;
            var manifest = await _api.GetManifestAsync(appRepository, (string)entry["digest"]!);
            Assert.Equal(manifestType, manifest.ContentType);
            Assert.Equal((string?)entry["mediaType"], manifest.ContentType);
            Assert.Equal((long?)entry["size"], manifest.Content.LongLength);

            // Each platform's image sits on the same platform's base layers, plus the app layer.
            var baseImage = baseImages[architecture];
            Assert.Equal(baseImage.Layers.Select(l => l.Digest), manifest.Document.Layers.Take(baseImage.Layers.Count).Select(l => l.Digest));
            Assert.Equal(baseImage.Layers.Count + 1, manifest.Document.Layers.Count);
            var layers = await ImageAssert.LayersMatchConfigDiffIdsAsync(_api, appRepository, manifest);
            var config = JsonNode.Parse(await _api.GetBlobAsync(appRepository, manifest.Document.Config!.Digest))!;
            Assert.Equal(architecture, (string?)config["architecture"]);

            // The apphost in the app layer was built for this platform: publish really ran per RID.
            var apphost = ReadTarFile(Digests.Gunzip(layers[^1]), $"app/{AssemblyName}");
            Assert.Equal(ElfMachineByArchitecture[architecture], BitConverter.ToUInt16(apphost, 18));
        }

        // Pullable per platform: skopeo picks each platform out of the index, and copies the whole index.
        foreach (var architecture in ElfMachineByArchitecture.Keys)
        {
            var pulled = _temp.Combine($"pulled-{architecture}");
            await new Skopeo(log, _registry).CopyAsync($"docker://{_registry.Host}/{appRepository}:1.0", $"dir:{pulled}", "--override-arch", architecture, "--override-os", "linux");
            var expectedDigest = (string?)entries.Single(entry => (string?)entry["platform"]?["architecture"] == architecture)["digest"];
            Assert.Equal(expectedDigest, Digests.Sha256(await File.ReadAllBytesAsync(Path.Combine(pulled, "manifest.json"))));
        }

        // dir: keeps the index as served (an oci: layout would convert a Docker manifest list to an OCI index).
        var all = _temp.Combine("all");
        await new Skopeo(log, _registry).CopyAsync($"docker://{_registry.Host}/{appRepository}:1.0", $"dir:{all}", "--all");
        var copiedIndex = await File.ReadAllBytesAsync(Path.Combine(all, "manifest.json"));
        Assert.True(index.Content.AsSpan().SequenceEqual(copiedIndex), "skopeo copy --all rewrote the index.");
        foreach (var entry in entries)
        {
            var digest = (string)entry["digest"]!;
            Assert.Equal(digest, Digests.Sha256(await File.ReadAllBytesAsync(Path.Combine(all, $"{Digests.Hex(digest)}.manifest.json"))));
        }
    }

    public void Dispose()
    {
        _api.Dispose();
        _temp.Dispose();
    }

    /// <summary>A hand-built linux/amd64 + linux/arm64 base (the SDK reads each platform's config), pushed as an index or manifest list.</summary>
    private async Task<IReadOnlyDictionary<string, OciImage>> PushMultiArchBaseAsync(string repository, string format)
    {
        var layout = new OciLayoutWriter(_temp.CreateSubdirectory("base-layout"));
        var amd64 = layout.AddImage(new OciPlatform("linux", "amd64"), 32 * 1024);
        var arm64 = layout.AddImage(new OciPlatform("linux", "arm64"), 48 * 1024);
        layout.Tag("1", layout.AddIndex([amd64, arm64]));
        await new Skopeo(log, _registry).CopyAsync(layout.Reference("1"), $"docker://{_registry.Host}/{repository}:1", "--all", "--format", format);
        return new Dictionary<string, OciImage>(StringComparer.Ordinal) { ["amd64"] = amd64, ["arm64"] = arm64 };
    }

    private static byte[] ReadTarFile(byte[] tar, string name)
    {
        using var reader = new System.Formats.Tar.TarReader(new MemoryStream(tar));
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.Name.TrimStart('.', '/') == name && entry.DataStream is { } data)
            {
                using var content = new MemoryStream();
                data.CopyTo(content);
                return content.ToArray();
            }
        }

        throw new InvalidOperationException($"The app layer has no {name}.");
    }

    private static string UniqueRepository(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";
}
