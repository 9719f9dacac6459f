using Berth.Core;
using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using static Berth.Storage.Tests.Maintenance.MaintenanceHarness;

namespace Berth.Storage.Tests.Maintenance;

/// <summary>The collector suite over the filesystem driver in a temporary directory, plus what only real files can show.</summary>
public sealed class FilesystemGarbageCollectorTests(ITestOutputHelper output) : GarbageCollectorSuite(output)
{
    private static readonly RepositoryName App = Name("library/app");
    private readonly string _root = Path.Combine(Path.GetTempPath(), "berth-gc-tests-" + Guid.NewGuid().ToString("N"));

    protected override IStorageDriver CreateDriver() => new FilesystemDriver(_root, NullLogger<FilesystemDriver>.Instance);

    protected override void Dispose(bool disposing)
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }

        base.Dispose(disposing);
    }

    private string Local(string storagePath) => Path.Combine(_root, storagePath.TrimStart('/'));

    [Fact]
    public async Task Run_DeletedBlob_LeavesNoEmptyDirectoryBehind()
    {
        var orphan = await H.PutBlobAsync(App, "orphan");
        var kept = await H.PushImageAsync(App, "v1", "kept");
        H.AgeEverything();

        await H.CollectAsync(Offline);

        Assert.False(Directory.Exists(Local(StoragePaths.BlobDirectory(orphan))));
        Assert.False(Directory.Exists(Local(StoragePaths.LayerLinkDirectory(App, orphan))));
        Assert.True(File.Exists(Local(StoragePaths.BlobData(kept.Layers[0]))));
        Assert.Empty(Directory.EnumerateFiles(Local(Quarantine.Root), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Run_QuarantineIsARenameInsideTheRoot()
    {
        var orphan = await H.PutBlobAsync(App, "orphan");
        H.AgeEverything();
        var quarantined = false;
        var hooks = new GarbageCollectionHooks
        {
            AfterQuarantine = _ =>
            {
                quarantined = File.Exists(Path.Combine(_root, "docker", "registry", "v2", "_berth_quarantine", "sha256", orphan.Encoded))
                    && !File.Exists(Local(StoragePaths.BlobData(orphan)));
                return Task.CompletedTask;
            },
        };

        await H.CollectAsync(Offline with { Hooks = hooks });

        Assert.True(quarantined);
    }

    [Fact]
    public async Task Run_GracePeriod_JudgesByTheRealFileModificationTime()
    {
        var old = await H.PutBlobAsync(App, "written three hours ago");
        var young = await H.PutBlobAsync(App, "written ten minutes ago");
        var now = H.Clock.GetUtcNow();
        foreach (var path in new[] { StoragePaths.BlobData(old), StoragePaths.LayerLink(App, old) })
        {
            File.SetLastWriteTimeUtc(Local(path), now.AddHours(-3).UtcDateTime);
        }

        foreach (var path in new[] { StoragePaths.BlobData(young), StoragePaths.LayerLink(App, young) })
        {
            File.SetLastWriteTimeUtc(Local(path), now.AddMinutes(-10).UtcDateTime);
        }

        var report = await H.CollectAsync(Offline with { GracePeriod = TimeSpan.FromHours(1) });

        Assert.False(File.Exists(Local(StoragePaths.BlobData(old))));
        Assert.True(File.Exists(Local(StoragePaths.BlobData(young))));
        Assert.Equal(1, report.BlobsInGracePeriod);
    }
}
