using System.Net;
using System.Security.Cryptography;
using System.Text;
using Azure.Storage.Blobs.Models;
using Berth.EndToEnd.Tests.Infrastructure;
using Berth.Storage.Azure.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// The registry's HTTP API on real Berth processes storing in one Azure Blob container (Azurite): push, pull through
/// SAS redirects, catalog, tags and delete; an upload started on one replica and finished on another; and a container
/// written with registry:2's blob names served by a Berth that was told nothing about them.
/// </summary>
public sealed class AzureRegistryTests(ITestOutputHelper log) : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private readonly ScaleOutHttp _http = new();
    private readonly List<RegistryProcess> _registries = [];
    private readonly List<string> _containers = [];
    private Uri _serviceUrl = null!;

    public async Task InitializeAsync() => _serviceUrl = await AzuriteTestStore.GetAsync();

    public async Task DisposeAsync()
    {
        foreach (var registry in _registries)
        {
            log.WriteLine(registry.Log);
            await registry.DisposeAsync();
        }

        _http.Dispose();
        var service = AzuriteTestStore.NewServiceClient(_serviceUrl);
        foreach (var container in _containers)
        {
            await service.GetBlobContainerClient(container).DeleteIfExistsAsync();
        }
    }

    [Fact]
    public async Task PushPullCatalogDelete_OneBerthOverAzurite_BlobsRedirectToSasUrlsAndEverythingIsRemovable()
    {
        var container = NewContainer("api");
        var berth = await StartAsync("berth", container);
        const string repository = "azure/app";
        var config = Encoding.UTF8.GetBytes("""{"architecture":"amd64","os":"linux"}""");
        var small = RandomBytes(300_000, 1);
        var large = RandomBytes(21 * MiB + 17, 2);

        await _http.UploadSinglePostAsync(berth.BaseAddress, repository, config);
        await _http.UploadPostPutAsync(berth.BaseAddress, berth.BaseAddress, repository, small);
        var location = await _http.StartUploadAsync(berth.BaseAddress, repository);
        location = await _http.PatchAsync(berth.BaseAddress, location, large, 0, 9 * MiB);
        location = await _http.PatchAsync(berth.BaseAddress, location, large, 9 * MiB, large.Length - 9 * MiB);
        await _http.FinishAsync(berth.BaseAddress, location, repository, ScaleOutHttp.Sha256(large));
        var manifest = ScaleOutHttp.ManifestJson(Descriptor(MediaTypes.OciConfig, config),
            [Descriptor(MediaTypes.OciLayerGzip, small), Descriptor(MediaTypes.OciLayerGzip, large)], "azure");
        await _http.PutManifestAsync(berth.BaseAddress, repository, "v1", manifest);

        Assert.Equal(manifest, await _http.GetManifestAsync(berth.BaseAddress, repository, "v1"));
        foreach (var blob in new[] { config, small, large })
        {
            var redirect = await RedirectAsync(berth, repository, blob);
            Assert.Equal(_serviceUrl.Authority, redirect.Authority);
            Assert.Contains("sig=", redirect.Query, StringComparison.Ordinal);
            using var direct = new HttpClient();
            Assert.Equal(SHA256.HashData(blob), SHA256.HashData(await direct.GetByteArrayAsync(redirect)));
        }

        Assert.Contains(repository, await _http.CatalogAsync(berth.BaseAddress));
        Assert.Equal(["v1"], await _http.ListTagsAsync(berth.BaseAddress, repository));

        // registry:2's names: the container holds docker/registry/v2/... (Distribution 3's, an empty container's default).
        var names = await BlobNamesAsync(container);
        Assert.Contains($"docker/registry/v2/blobs/sha256/{ScaleOutHttp.Sha256(large)[7..9]}/{ScaleOutHttp.Sha256(large)[7..]}/data", names);
        Assert.Contains("docker/registry/v2/repositories/azure/app/_manifests/tags/v1/current/link", names);
        Assert.DoesNotContain(names, name => name.Contains("/_uploads/", StringComparison.Ordinal));

        var client = _http.For(berth.BaseAddress);
        using (var delete = await client.DeleteAsync(new Uri($"v2/{repository}/manifests/{ScaleOutHttp.Sha256(manifest)}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        }

        using (var gone = await client.GetAsync(new Uri($"v2/{repository}/manifests/v1", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        using (var delete = await client.DeleteAsync(new Uri($"v2/{repository}/blobs/{ScaleOutHttp.Sha256(large)}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        }

        using (var gone = await client.GetAsync(new Uri($"v2/{repository}/blobs/{ScaleOutHttp.Sha256(large)}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }
    }

    [Fact]
    public async Task ChunkedUpload_StartedOnOneReplicaFinishedOnTheOther_OneContainerServesItFromBoth()
    {
        var container = NewContainer("replicas");
        var first = await StartAsync("replica-a", container);
        var second = await StartAsync("replica-b", container, redirectDisabled: true);
        const string repository = "azure/replicated";
        var content = RandomBytes(19 * MiB + 5, 3);
        var steps = new List<UploadStep>();

        var location = await _http.StartUploadAsync(first.BaseAddress, repository, steps);
        location = await _http.PatchAsync(first.BaseAddress, location, content, 0, 6 * MiB, steps);
        location = await _http.PatchAsync(second.BaseAddress, location, content, 6 * MiB, 7 * MiB, steps);
        Assert.Equal($"0-{13 * MiB - 1}", await _http.StatusAsync(first.BaseAddress, location));
        await _http.FinishAsync(second.BaseAddress, location, repository, ScaleOutHttp.Sha256(content), content[(13 * MiB)..], steps);
        log.WriteLine(string.Join("\n", steps));

        // Served through the registry by the replica with redirects off, through a SAS URL by the other.
        Assert.Equal(content.LongLength, await _http.VerifyBlobAsync(second.BaseAddress, repository, content));
        using var direct = new HttpClient();
        Assert.Equal(SHA256.HashData(content), SHA256.HashData(await direct.GetByteArrayAsync(await RedirectAsync(first, repository, content))));

        var config = Encoding.UTF8.GetBytes("{}");
        await _http.UploadPostPutAsync(second.BaseAddress, first.BaseAddress, repository, config);
        var manifest = ScaleOutHttp.ManifestJson(Descriptor(MediaTypes.OciConfig, config), [Descriptor(MediaTypes.OciLayerGzip, content)], "replicas");
        await _http.PutManifestAsync(first.BaseAddress, repository, "v1", manifest);
        Assert.Equal(manifest, await _http.GetManifestAsync(second.BaseAddress, repository, "v1"));
        Assert.Equal(["v1"], await _http.ListTagsAsync(second.BaseAddress, repository));
        Assert.Contains(repository, await _http.CatalogAsync(second.BaseAddress));

        // A tag added on one replica is in the other's list at once: the version token, not a timer, says the list changed.
        await _http.PutManifestAsync(second.BaseAddress, repository, "v2", manifest);
        Assert.Equal(["v1", "v2"], await _http.ListTagsAsync(first.BaseAddress, repository));
    }

    [Fact]
    public async Task ContainerWithRegistry2Names_IsServedByABerthToldNothingAboutThem()
    {
        var container = NewContainer("legacy");
        var writer = await StartAsync("registry2-names", container, extraAzureKeys: "    legacyrootprefix: true\n");
        const string repository = "legacy/app";
        var layer = RandomBytes(2 * MiB, 4);
        var config = Encoding.UTF8.GetBytes("{}");
        await _http.UploadPostPutAsync(writer.BaseAddress, writer.BaseAddress, repository, layer);
        await _http.UploadPostPutAsync(writer.BaseAddress, writer.BaseAddress, repository, config);
        var manifest = ScaleOutHttp.ManifestJson(Descriptor(MediaTypes.OciConfig, config), [Descriptor(MediaTypes.OciLayerGzip, layer)], "legacy");
        await _http.PutManifestAsync(writer.BaseAddress, repository, "v1", manifest);
        await writer.StopAsync();

        var names = await BlobNamesAsync(container);
        Assert.NotEmpty(names);
        Assert.All(names, name => Assert.StartsWith("/docker/registry/v2/", name, StringComparison.Ordinal));

        var reader = await StartAsync("detecting", container, redirectDisabled: true);
        Assert.Equal(manifest, await _http.GetManifestAsync(reader.BaseAddress, repository, "v1"));
        Assert.Equal(layer.LongLength, await _http.VerifyBlobAsync(reader.BaseAddress, repository, layer));
        Assert.Contains(repository, await _http.CatalogAsync(reader.BaseAddress));
    }

    private async Task<RegistryProcess> StartAsync(string name, string container, bool redirectDisabled = false, string extraAzureKeys = "")
    {
        var registry = await BerthOnAzure.StartAsync(name, _serviceUrl, container, redirectDisabled, extraAzureKeys);
        _registries.Add(registry);
        return registry;
    }

    private string NewContainer(string purpose)
    {
        var container = BerthOnAzure.NewContainer(purpose);
        _containers.Add(container);
        return container;
    }

    /// <summary>GET of a blob: a 307 to the storage service, whose Location is returned.</summary>
    private async Task<Uri> RedirectAsync(RegistryProcess registry, string repository, byte[] blob)
    {
        using var response = await _http.For(registry.BaseAddress).GetAsync(
            new Uri($"v2/{repository}/blobs/{ScaleOutHttp.Sha256(blob)}", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        Assert.True(response.StatusCode == HttpStatusCode.TemporaryRedirect, $"GET blob answered {(int)response.StatusCode}, expected 307\n{registry.Log}");
        return response.Headers.Location!;
    }

    private async Task<List<string>> BlobNamesAsync(string container)
    {
        var names = new List<string>();
        await foreach (var item in AzuriteTestStore.NewServiceClient(_serviceUrl).GetBlobContainerClient(container).GetBlobsAsync(new GetBlobsOptions()))
        {
            names.Add(item.Name);
        }

        return names;
    }

    private static OciDescriptor Descriptor(string mediaType, byte[] content) => new(mediaType, ScaleOutHttp.Sha256(content), content.LongLength);

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
