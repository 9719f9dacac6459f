using Berth.Core;
using Berth.Core.Errors;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging.Abstractions;
using static Berth.Storage.Tests.Maintenance.MaintenanceHarness;

namespace Berth.Storage.Tests.Maintenance;

/// <summary>Upload purging (registry:2's <c>storage.maintenance.uploadpurging</c>), run against every driver.</summary>
public abstract class UploadPurgerSuite : IDisposable
{
    private static readonly RepositoryName App = Name("library/app");
    private static readonly RepositoryName Fresh = Name("team/fresh");
    private MaintenanceHarness? _h;

    internal MaintenanceHarness H => LazyInitializer.EnsureInitialized(ref _h, () => new MaintenanceHarness(CreateDriver()));

    protected abstract IStorageDriver CreateDriver();

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }

    private async Task<string> StartUploadAsync(RepositoryName name, string data)
    {
        var upload = H.Uploads.Start();
        await H.Uploads.AppendAsync(name, upload.Id, new UploadVoucher(upload.StartedAt, 0), new MemoryStream(Bytes(data)), null, null, Ct);
        return upload.Id;
    }

    [Fact]
    public async Task Run_UploadsOlderThanAge_AreDeletedAndYoungerOnesKept()
    {
        var abandoned = await StartUploadAsync(App, "abandoned bytes");
        H.Clock.Advance(TimeSpan.FromHours(3));
        var live = await StartUploadAsync(App, "live");
        var otherRepository = await StartUploadAsync(Fresh, "first push of a new repository");
        H.Clock.Advance(TimeSpan.FromMinutes(30));

        var report = await H.NewPurger().RunAsync(TimeSpan.FromHours(1), dryRun: false, Ct);

        Assert.False(await H.ExistsAsync(StoragePaths.UploadStartedAt(App, abandoned)));
        Assert.False(await H.ExistsAsync(StoragePaths.UploadData(App, abandoned)));
        Assert.Equal(4, (await H.Uploads.StatusAsync(App, live, null, Ct)).Size);
        Assert.True(await H.ExistsAsync(StoragePaths.UploadData(Fresh, otherRepository)));
        Assert.Equal(3, report.UploadsScanned);
        Assert.Equal(1, report.UploadsDeleted);
        Assert.Equal(Bytes("abandoned bytes").Length, report.BytesFreed);
        Assert.False(report.DryRun);
    }

    [Fact]
    public async Task Run_CancelledUploadMarkers_OutliveTheStatesTheyRefuse()
    {
        var cancelled = H.Uploads.Start();
        var voucher = new UploadVoucher(cancelled.StartedAt, 0);
        await H.Uploads.CancelAsync(App, cancelled.Id, voucher, Ct);
        var marker = StoragePaths.UploadCancelled(App, cancelled.Id);
        Assert.True(await H.ExistsAsync(marker));

        // Older than the purge age, but the client's state is still valid: the marker stays and keeps refusing it.
        H.Clock.Advance(TimeSpan.FromHours(2));
        await H.NewPurger().RunAsync(TimeSpan.FromHours(1), dryRun: false, Ct);
        Assert.True(await H.ExistsAsync(marker));
        await Berth.Storage.Tests.Stores.StoreHarness.ThrowsAsync(ErrorCode.BlobUploadUnknown, () => H.Uploads.StatusAsync(App, cancelled.Id, voucher, Ct));

        H.Clock.Advance(UploadStore.UntouchedUploadLifetime);
        var report = await H.NewPurger().RunAsync(TimeSpan.FromHours(1), dryRun: false, Ct);

        Assert.False(await H.ExistsAsync(marker));
        Assert.Equal(1, report.UploadsDeleted);
        await Berth.Storage.Tests.Stores.StoreHarness.ThrowsAsync(ErrorCode.BlobUploadUnknown, () => H.Uploads.StatusAsync(App, cancelled.Id, voucher, Ct));
    }

    [Fact]
    public async Task Run_DryRun_DeletesNothing()
    {
        var abandoned = await StartUploadAsync(App, "abandoned");
        H.Clock.Advance(TimeSpan.FromDays(8));

        var report = await H.NewPurger().RunAsync(TimeSpan.FromDays(7), dryRun: true, Ct);

        Assert.True(await H.ExistsAsync(StoragePaths.UploadData(App, abandoned)));
        Assert.Equal(1, report.UploadsDeleted);
        Assert.Equal(9, report.BytesFreed);
        Assert.True(report.DryRun);
    }

    [Fact]
    public async Task Run_StartedAtInRegistryTwoFormat_IsUnderstood()
    {
        var id = Guid.NewGuid().ToString("D");
        await H.Driver.PutContentAsync(StoragePaths.UploadStartedAt(App, id), Bytes("2025-02-01T08:30:00Z"), Ct);
        await H.Driver.PutContentAsync(StoragePaths.UploadData(App, id), Bytes("registry:2 left this"), Ct);

        var keptAtTwoMonths = await H.NewPurger().RunAsync(TimeSpan.FromDays(60), dryRun: false, Ct);
        Assert.Equal(0, keptAtTwoMonths.UploadsDeleted);

        var report = await H.NewPurger().RunAsync(TimeSpan.FromDays(7), dryRun: false, Ct);

        Assert.Equal(1, report.UploadsDeleted);
        Assert.False(await H.ExistsAsync(StoragePaths.UploadData(App, id)));
    }

    [Fact]
    public async Task Run_MissingStartedAt_FallsBackToModificationTime()
    {
        var id = Guid.NewGuid().ToString("D");
        await H.Driver.PutContentAsync(StoragePaths.UploadData(App, id), Bytes("no startedat"), Ct);
        H.Clock.Advance(TimeSpan.FromMinutes(30));

        Assert.Equal(0, (await H.NewPurger().RunAsync(TimeSpan.FromHours(1), dryRun: false, Ct)).UploadsDeleted);

        H.Clock.Advance(TimeSpan.FromHours(1));
        var report = await H.NewPurger().RunAsync(TimeSpan.FromHours(1), dryRun: false, Ct);

        Assert.Equal(1, report.UploadsDeleted);
        Assert.False(await H.ExistsAsync(StoragePaths.UploadData(App, id)));
    }

    [Fact]
    public async Task Run_LeavesBlobsAndManifestsAlone()
    {
        var image = await H.PushImageAsync(App, "v1", "image");
        var abandoned = await StartUploadAsync(App, "abandoned");
        H.Clock.Advance(TimeSpan.FromDays(30));

        await H.NewPurger().RunAsync(TimeSpan.FromDays(7), dryRun: false, Ct);

        Assert.NotNull(await H.Manifests.GetAsync(App, Reference.Parse("v1"), Ct));
        Assert.All(await Task.WhenAll(image.AllBlobs.Select(H.BlobExistsAsync)), Assert.True);
        Assert.False(await H.ExistsAsync(StoragePaths.UploadData(App, abandoned)));
    }

    [Fact]
    public async Task Run_NegativeAge_Throws()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => H.NewPurger().RunAsync(TimeSpan.FromSeconds(-1), dryRun: false, Ct));
    }
}

public sealed class InMemoryUploadPurgerTests : UploadPurgerSuite
{
    protected override IStorageDriver CreateDriver() => new InMemoryDriver();
}

public sealed class FilesystemUploadPurgerTests : UploadPurgerSuite
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "berth-purge-tests-" + Guid.NewGuid().ToString("N"));

    protected override IStorageDriver CreateDriver() => new FilesystemDriver(_root, NullLogger<FilesystemDriver>.Instance);

    protected override void Dispose(bool disposing)
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }

        base.Dispose(disposing);
    }
}
