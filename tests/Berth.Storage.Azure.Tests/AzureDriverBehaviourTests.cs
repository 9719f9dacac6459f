using System.Net;
using System.Security.Cryptography;
using System.Text;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Berth.Storage.Azure.Tests.Infrastructure;
using Berth.Storage.Drivers;

namespace Berth.Storage.Azure.Tests;

/// <summary>
/// What the contract suite cannot see: the blob names and types left in the container, how appends reuse committed
/// blocks, registry:2's append blobs and leading-slash names, SAS redirects, copies and the container check.
/// </summary>
public sealed class AzureDriverBehaviourTests(AzuriteFixture fixture) : IClassFixture<AzuriteFixture>, IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private readonly string _root = $"{AzuriteTestStore.RunPrefix}/{nameof(AzureDriverBehaviourTests)}/{Guid.NewGuid():N}";
    private readonly List<string> _containers = [];

    private static CancellationToken Ct => CancellationToken.None;

    private BlobContainerClient Raw => AzuriteTestStore.NewServiceClient(fixture.ServiceUrl).GetBlobContainerClient(AzuriteTestStore.SharedContainer);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await AzuriteTestStore.DeletePrefixAsync(fixture.ServiceUrl, AzuriteTestStore.SharedContainer, _root + "/");
        await AzuriteTestStore.DeletePrefixAsync(fixture.ServiceUrl, AzuriteTestStore.SharedContainer, "/" + _root + "/");
        var service = AzuriteTestStore.NewServiceClient(fixture.ServiceUrl);
        foreach (var container in _containers)
        {
            await service.GetBlobContainerClient(container).DeleteIfExistsAsync();
        }
    }

    [Fact]
    public async Task BlobNames_AreDistribution3s_RootDirectoryThenPathWithoutLeadingSlash()
    {
        var driver = fixture.CreateDriver(_root);

        await driver.PutContentAsync("/docker/registry/v2/repositories/app/_layers/sha256/ab/link", Encoding.ASCII.GetBytes("sha256:ab"), Ct);

        Assert.True((await Raw.GetBlobClient($"{_root}/docker/registry/v2/repositories/app/_layers/sha256/ab/link").ExistsAsync()).Value);
        Assert.False(driver.UsesLegacyRootPrefix);
    }

    [Fact]
    public async Task LegacyRootPrefix_NamesBlobsWithRegistry2sLeadingSlash()
    {
        var driver = fixture.CreateDriver(_root, configure: options => options with { LegacyRootPrefix = true });

        await driver.PutContentAsync("/docker/registry/v2/x", Encoding.ASCII.GetBytes("x"), Ct);

        Assert.True((await AzuriteTestStore.RawBlockBlob(Raw, $"/{_root}/docker/registry/v2/x").ExistsAsync()).Value);
        Assert.False((await Raw.GetBlobClient($"{_root}/docker/registry/v2/x").ExistsAsync()).Value);
        Assert.Equal(["/docker"], await driver.ListAsync("/", Ct));
        Assert.Equal(["/docker/registry/v2/x"], await driver.ListAsync("/docker/registry/v2", Ct));
        Assert.Equal(Encoding.ASCII.GetBytes("x"), await driver.GetContentAsync("/docker/registry/v2/x", 10, Ct));
    }

    [Fact]
    public async Task NamingDetection_ContainerWrittenByRegistry2_IsServedWithItsLeadingSlashNames()
    {
        var container = await NewContainerAsync();
        await AzuriteTestStore.RawBlockBlob(container, "/docker/registry/v2/repositories/app/_manifests/tags/v1/current/link")
            .UploadAsync(new MemoryStream(Encoding.ASCII.GetBytes("sha256:00")));
        var driver = fixture.CreateDriver(rootDirectory: null, container.Name);

        await driver.InitializeAsync(createContainer: true, Ct);

        Assert.True(driver.UsesLegacyRootPrefix);
        Assert.Equal(Encoding.ASCII.GetBytes("sha256:00"),
            await driver.GetContentAsync("/docker/registry/v2/repositories/app/_manifests/tags/v1/current/link", 100, Ct));
        Assert.Equal(["/docker/registry/v2/repositories/app"], await driver.ListAsync("/docker/registry/v2/repositories", Ct));
    }

    [Fact]
    public async Task NamingDetection_EmptyOrDistribution3Container_UsesNamesWithoutLeadingSlash()
    {
        var empty = await NewContainerAsync();
        var written = await NewContainerAsync();
        await written.GetBlockBlobClient("docker/registry/v2/repositories/app/_layers/x").UploadAsync(new MemoryStream([1]));
        var emptyDriver = fixture.CreateDriver(rootDirectory: null, empty.Name);
        var writtenDriver = fixture.CreateDriver(rootDirectory: null, written.Name);

        await emptyDriver.InitializeAsync(createContainer: true, Ct);
        await writtenDriver.InitializeAsync(createContainer: true, Ct);

        Assert.False(emptyDriver.UsesLegacyRootPrefix);
        Assert.False(writtenDriver.UsesLegacyRootPrefix);
        Assert.Equal(["/docker/registry/v2/repositories/app/_layers/x"], await writtenDriver.ListAsync("/docker/registry/v2/repositories/app/_layers", Ct));
    }

    [Fact]
    public async Task Initialize_MissingContainer_CreatesIt()
    {
        var name = "berth-missing-" + Guid.NewGuid().ToString("N")[..12];
        _containers.Add(name);
        var driver = fixture.CreateDriver(_root, name);

        await driver.InitializeAsync(createContainer: true, Ct);
        await driver.PutContentAsync("/a", new byte[] { 1 }, Ct);

        Assert.True((await AzuriteTestStore.NewServiceClient(fixture.ServiceUrl).GetBlobContainerClient(name).ExistsAsync()).Value);
    }

    [Fact]
    public async Task Operations_MissingContainer_FailWithoutClaimingThePathIsMissing()
    {
        var driver = fixture.CreateDriver(_root, "berth-never-" + Guid.NewGuid().ToString("N")[..12]);

        var exception = await Assert.ThrowsAnyAsync<Exception>(() => driver.GetContentAsync("/a", 10, Ct));

        Assert.IsNotType<StoragePathNotFoundException>(exception);
    }

    [Fact]
    public async Task Writer_SeveralBlocks_StagesOneBlockPerBlockSizeAndRoundTripsByteExact()
    {
        var driver = fixture.CreateDriver(_root, configure: options => options with { BlockSize = MiB });
        var content = RandomBytes(5 * MiB + 123, 1);

        await using (var writer = await driver.CreateAsync("/blob/data", Ct))
        {
            for (var offset = 0; offset < content.Length; offset += 100_000)
            {
                await writer.WriteAsync(content.AsMemory(offset, Math.Min(100_000, content.Length - offset)), Ct);
            }

            await writer.CommitAsync(Ct);
        }

        var blocks = await BlockListAsync(driver, "/blob/data");
        Assert.Equal(6, blocks.Count);
        Assert.All(blocks.Take(5), block => Assert.Equal(MiB, block.SizeLong));
        Assert.Equal(content, await ReadAllAsync(driver, "/blob/data"));
    }

    [Fact]
    public async Task Writer_AppendSessions_AddBlocksAfterTheCommittedOnesWithoutRewritingThem()
    {
        var driver = fixture.CreateDriver(_root, configure: options => options with { BlockSize = MiB });
        var content = RandomBytes(3 * MiB + 10, 2);
        await using (var writer = await driver.OpenWriteAsync("/upload/data", append: false, Ct))
        {
            await writer.WriteAsync(content.AsMemory(0, 2 * MiB + 5), Ct);
        }

        var first = await BlockListAsync(driver, "/upload/data");
        await using (var writer = await driver.OpenWriteAsync("/upload/data", append: true, Ct))
        {
            Assert.Equal(2 * MiB + 5, writer.Size);
            await writer.WriteAsync(content.AsMemory(2 * MiB + 5), Ct);
        }

        var second = await BlockListAsync(driver, "/upload/data");
        Assert.Equal(first.Select(b => b.Name), second.Take(first.Count).Select(b => b.Name));
        Assert.Equal(content.Length, second.Sum(b => b.SizeLong));
        Assert.Equal(content, await ReadAllAsync(driver, "/upload/data"));
    }

    [Fact]
    public async Task Writer_AppendToAPutBlobObject_TakesItInOnceAndContinues()
    {
        var driver = fixture.CreateDriver(_root);
        await driver.PutContentAsync("/upload/data", Encoding.ASCII.GetBytes("hello "), Ct);

        await using (var writer = await driver.OpenWriteAsync("/upload/data", append: true, Ct))
        {
            await writer.WriteAsync(Encoding.ASCII.GetBytes("world"), Ct);
        }

        Assert.Equal(Encoding.ASCII.GetBytes("hello world"), await driver.GetContentAsync("/upload/data", 100, Ct));
        Assert.Equal(11, (await BlockListAsync(driver, "/upload/data")).Sum(b => b.SizeLong));
    }

    [Fact]
    public async Task Writer_AppendAfterAnotherWriterChangedTheBlob_FailsAndKeepsTheOtherContent()
    {
        var driver = fixture.CreateDriver(_root);
        await using (var first = await driver.OpenWriteAsync("/upload/data", append: false, Ct))
        {
            await first.WriteAsync(Encoding.ASCII.GetBytes("base|"), Ct);
        }

        var slow = await driver.OpenWriteAsync("/upload/data", append: true, Ct);
        await using (var fast = await driver.OpenWriteAsync("/upload/data", append: true, Ct))
        {
            await fast.WriteAsync(Encoding.ASCII.GetBytes("fast"), Ct);
            await fast.CommitAsync(Ct);
        }

        await slow.WriteAsync(Encoding.ASCII.GetBytes("slow"), Ct);
        await Assert.ThrowsAsync<IOException>(() => slow.CommitAsync(Ct));
        await slow.DisposeAsync();

        Assert.Equal(Encoding.ASCII.GetBytes("base|fast"), await driver.GetContentAsync("/upload/data", 100, Ct));
    }

    [Fact]
    public async Task Writer_AppendToRegistry2sAppendBlob_ContinuesItWithAppendBlock()
    {
        var driver = fixture.CreateDriver(_root);
        var name = await driver.BlobNameAsync("/repositories/app/_uploads/u/data", Ct);
        var appendBlob = Raw.GetAppendBlobClient(name);
        await appendBlob.CreateAsync();
        await appendBlob.AppendBlockAsync(new MemoryStream(Encoding.ASCII.GetBytes("started by registry:2|")));
        var more = RandomBytes(5 * MiB, 3);

        await using (var writer = await driver.OpenWriteAsync("/repositories/app/_uploads/u/data", append: true, Ct))
        {
            Assert.Equal(22, writer.Size);
            await writer.WriteAsync(more, Ct);
            await writer.CommitAsync(Ct);
        }

        Assert.Equal(BlobType.Append, (await appendBlob.GetPropertiesAsync()).Value.BlobType);
        var stored = await ReadAllAsync(driver, "/repositories/app/_uploads/u/data");
        Assert.Equal(Encoding.ASCII.GetBytes("started by registry:2|").Concat(more).ToArray(), stored);
    }

    [Fact]
    public async Task PutContent_OverRegistry2sAppendBlob_ReplacesItWithABlockBlob()
    {
        var driver = fixture.CreateDriver(_root);
        var name = await driver.BlobNameAsync("/link", Ct);
        await Raw.GetAppendBlobClient(name).CreateAsync();

        await driver.PutContentAsync("/link", Encoding.ASCII.GetBytes("sha256:1"), Ct);

        Assert.Equal(BlobType.Block, (await Raw.GetBlobClient(name).GetPropertiesAsync()).Value.BlobType);
        Assert.Equal(Encoding.ASCII.GetBytes("sha256:1"), await driver.GetContentAsync("/link", 100, Ct));
    }

    [Fact]
    public async Task Move_LargeBlob_IsAServerSideCopyByteExactAndRemovesTheSource()
    {
        var driver = fixture.CreateDriver(_root, configure: options => options with { BlockSize = MiB });
        var content = RandomBytes(12 * MiB + 1, 4);
        await using (var writer = await driver.OpenWriteAsync("/upload/data", append: false, Ct))
        {
            await writer.WriteAsync(content, Ct);
            await writer.CommitAsync(Ct);
        }

        await driver.MoveAsync("/upload/data", "/blobs/sha256/ab/abc/data", Ct);

        Assert.Equal(SHA256.HashData(content), SHA256.HashData(await ReadAllAsync(driver, "/blobs/sha256/ab/abc/data")));
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => driver.StatAsync("/upload/data", Ct));
    }

    [Fact]
    public async Task Move_OntoItself_KeepsTheBlob()
    {
        var driver = fixture.CreateDriver(_root);
        await driver.PutContentAsync("/same", new byte[] { 7 }, Ct);

        await driver.MoveAsync("/same", "/same", Ct);

        Assert.Equal([7], await driver.GetContentAsync("/same", 10, Ct));
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    public async Task RedirectUri_IsAReadOnlySasUrlThatServesTheBlob(string method)
    {
        var driver = fixture.CreateDriver(_root);
        var content = RandomBytes(100_000, 5);
        await driver.PutContentAsync("/blob", content, Ct);

        var url = await driver.RedirectUriAsync("/blob", method, Ct);

        Assert.NotNull(url);
        Assert.Contains("sig=", url.Query, StringComparison.Ordinal);
        Assert.Contains("sp=r", url.Query, StringComparison.Ordinal);
        using var http = new HttpClient();
        using var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), url));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(content.Length, response.Content.Headers.ContentLength);
        if (method == "GET")
        {
            Assert.Equal(content, await response.Content.ReadAsByteArrayAsync());
        }

        using var write = await http.PutAsync(url, new ByteArrayContent([1]));
        Assert.False(write.IsSuccessStatusCode);
    }

    [Fact]
    public async Task RedirectUri_LegacyNames_ServeTheBlob()
    {
        var driver = fixture.CreateDriver(_root, configure: options => options with { LegacyRootPrefix = true });
        await driver.PutContentAsync("/docker/registry/v2/blobs/data", new byte[] { 1, 2, 3 }, Ct);

        var url = await driver.RedirectUriAsync("/docker/registry/v2/blobs/data", "GET", Ct);

        using var http = new HttpClient();
        Assert.Equal([1, 2, 3], await http.GetByteArrayAsync(url));
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task RedirectUri_OtherMethods_AreNull(string method)
    {
        Assert.Null(await fixture.CreateDriver(_root).RedirectUriAsync("/blob", method, Ct));
    }

    [Fact]
    public async Task List_DirectoryMarkerBlobs_AreNotListedAsEntries()
    {
        var driver = fixture.CreateDriver(_root);
        await driver.PutContentAsync("/dir/file", new byte[] { 1 }, Ct);
        await Raw.GetBlockBlobClient($"{_root}/dir/").UploadAsync(new MemoryStream([]));

        Assert.Equal(["/dir/file"], await driver.ListAsync("/dir", Ct));
    }

    [Fact]
    public async Task Delete_DirectoryOfManyBlobs_RemovesThemAll()
    {
        var driver = fixture.CreateDriver(_root);
        await Task.WhenAll(Enumerable.Range(0, 60).Select(i => driver.PutContentAsync($"/many/{i % 7}/f{i}", new byte[] { 1 }, Ct)));

        await driver.DeleteAsync("/many", Ct);

        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => driver.ListAsync("/many", Ct));
    }

    private async Task<BlobContainerClient> NewContainerAsync()
    {
        var name = "berth-detect-" + Guid.NewGuid().ToString("N")[..12];
        _containers.Add(name);
        var container = AzuriteTestStore.NewServiceClient(fixture.ServiceUrl).GetBlobContainerClient(name);
        await container.CreateAsync();
        return container;
    }

    private async Task<IReadOnlyList<BlobBlock>> BlockListAsync(AzureDriver driver, string path) =>
        [.. (await Raw.GetBlockBlobClient(await driver.BlobNameAsync(path, Ct)).GetBlockListAsync(BlockListTypes.Committed)).Value.CommittedBlocks];

    private static async Task<byte[]> ReadAllAsync(IStorageDriver driver, string path)
    {
        await using var stream = await driver.OpenReadAsync(path, 0, Ct);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
