using Berth.Core;
using Berth.Storage;
using Berth.Storage.Maintenance;

namespace Berth.Ui.Tests;

public sealed class StorageUsageScannerTests : IDisposable
{
    private readonly UiHarness _h = new();

    private static CancellationToken Ct => UiHarness.Ct;

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task ScanAsync_SharedLayer_CountsInEachRepositoryButOnceForTheRegistry()
    {
        var web = UiHarness.Name("team/web");
        var api = UiHarness.Name("team/api");
        var sharedContent = UiHarness.Random(10_000);
        var shared = await _h.PutBlobAsync(web, sharedContent);
        await _h.Blobs.LinkAsync(api, shared.Digest, Ct);
        await _h.PutBlobAsync(web, UiHarness.Random(300));
        await _h.PutBlobAsync(api, UiHarness.Random(500));

        var report = await new StorageUsageScanner(_h.Driver).ScanAsync(Ct);

        var webUsage = report.Repositories.Single(repository => repository.Name.Equals(web));
        var apiUsage = report.Repositories.Single(repository => repository.Name.Equals(api));
        Assert.Equal(10_300, webUsage.Bytes);
        Assert.Equal(2, webUsage.Blobs);
        Assert.Equal(300, webUsage.ExclusiveBytes);
        Assert.Equal(1, webUsage.ExclusiveBlobs);
        Assert.Equal(10_500, apiUsage.Bytes);
        Assert.Equal(500, apiUsage.ExclusiveBytes);
        Assert.Equal(10_800, report.UniqueBytes);
        Assert.Equal(3, report.UniqueBlobs);
        Assert.Equal(20_800, report.RepositoryBytes);
    }

    [Fact]
    public async Task ScanAsync_Manifests_AreCountedWithTheirBlobs()
    {
        var name = UiHarness.Name("team/image");
        var config = await _h.PutBlobAsync(name, UiHarness.Config());
        var layer = await _h.PutBlobAsync(name, UiHarness.Random(2048));
        var bytes = UiHarness.ImageManifest(config, layer);
        await _h.PutManifestAsync(name, "v1", bytes, UiHarness.OciManifest);

        var report = await new StorageUsageScanner(_h.Driver).ScanAsync(Ct);

        var usage = Assert.Single(report.Repositories);
        Assert.Equal(config.Size + 2048 + bytes.Length, usage.Bytes);
        Assert.Equal(3, usage.Blobs);
        Assert.Equal(usage.Bytes, usage.ExclusiveBytes);
    }

    [Fact]
    public async Task ScanAsync_LinkWithoutData_IsSkipped()
    {
        var name = UiHarness.Name("team/dangling");
        await _h.PutBlobAsync(name, UiHarness.Random(400));
        var absent = Digest.Compute(UiHarness.Random(32));
        await _h.Blobs.LinkAsync(name, absent, Ct);
        Assert.False((await _h.Driver.StatAsync(StoragePaths.Repository(name) + "/_layers/sha256/" + absent.Encoded + "/link", Ct)).IsDirectory);

        var report = await new StorageUsageScanner(_h.Driver).ScanAsync(Ct);

        var usage = Assert.Single(report.Repositories);
        Assert.Equal(400, usage.Bytes);
        Assert.Equal(1, usage.Blobs);
        Assert.Equal(1, report.UniqueBlobs);
    }

    [Fact]
    public async Task ScanAsync_BlobNotLinked_IsNotCounted()
    {
        var name = UiHarness.Name("team/linked");
        await _h.PutBlobAsync(name, UiHarness.Random(100));
        var orphan = UiHarness.Random(9999);
        await _h.Blobs.PutContentAsync(Digest.Compute(orphan), orphan, Ct);

        var report = await new StorageUsageScanner(_h.Driver).ScanAsync(Ct);

        Assert.Equal(100, report.UniqueBytes);
    }

    [Fact]
    public async Task ScanAsync_EmptyStorage_IsAnEmptyReport()
    {
        var report = await new StorageUsageScanner(_h.Driver).ScanAsync(Ct);

        Assert.Empty(report.Repositories);
        Assert.Equal(0, report.UniqueBytes);
    }
}
