using System.Globalization;
using System.Text;
using Berth.Core;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging;

namespace Berth.Storage.Maintenance;

/// <summary>What an <see cref="UploadPurger"/> run found and did. In a dry run the deletion figures say what a real run would delete.</summary>
public sealed record UploadPurgeReport
{
    public required bool DryRun { get; init; }

    public required TimeSpan Duration { get; init; }

    /// <summary>Upload directories (<c>_uploads/&lt;id&gt;</c>) found, over all repositories.</summary>
    public required int UploadsScanned { get; init; }

    public required int UploadsDeleted { get; init; }

    /// <summary>Size of the <c>data</c> files of the uploads deleted.</summary>
    public required long BytesFreed { get; init; }
}

/// <summary>
/// Removes abandoned uploads: registry:2's <c>storage.maintenance.uploadpurging</c>. An upload
/// directory <c>repositories/&lt;name&gt;/_uploads/&lt;id&gt;</c> is deleted when its
/// <c>startedat</c> is older than the age given; the time an upload started, not when it last
/// received bytes, is what registry:2 judges by (its default age is a week, far longer than any
/// live upload). When <c>startedat</c> is missing or unreadable, the newest modification time in
/// the directory stands in for it, so a half-written upload is neither kept forever nor cut off
/// while it is still receiving data.
/// </summary>
public sealed class UploadPurger(IStorageDriver driver, TimeProvider time, ILogger<UploadPurger> logger)
{
    private const int MaxStartedAtBytes = 128;

    public async Task<UploadPurgeReport> RunAsync(TimeSpan age, bool dryRun, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(age, TimeSpan.Zero);
        var started = time.GetTimestamp();
        var cutoff = time.GetUtcNow() - age;
        int scanned = 0, deleted = 0;
        long bytes = 0;

        await foreach (var name in LayoutWalker.RepositoriesAsync(driver, path => MaintenanceLog.InvalidRepositoryDirectory(logger, path), cancellationToken))
        {
            foreach (var uploadDirectory in await Links.ListOrEmptyAsync(driver, StoragePaths.Uploads(name), cancellationToken))
            {
                scanned++;
                var id = Links.LastSegment(uploadDirectory);
                var startedAt = await ReadStartedAtAsync(uploadDirectory, cancellationToken);
                var uploadCutoff = cutoff;
                if (startedAt is null)
                {
                    if (await LayoutWalker.StatOrNullAsync(driver, StoragePaths.UploadCancelled(name, id), cancellationToken) is not null)
                    {
                        // A cancelled upload's marker is what refuses the states its client still holds, which stay valid for
                        // UntouchedUploadLifetime whatever the purge age.
                        var markerCutoff = time.GetUtcNow() - UploadStore.UntouchedUploadLifetime;
                        uploadCutoff = markerCutoff < cutoff ? markerCutoff : cutoff;
                    }

                    startedAt = await NewestModificationAsync(uploadDirectory, cancellationToken);
                }

                if (startedAt is null || startedAt >= uploadCutoff)
                {
                    continue;
                }

                var size = (await LayoutWalker.StatOrNullAsync(driver, uploadDirectory + "/data", cancellationToken))?.Size ?? 0;
                bool removed;
                try
                {
                    removed = dryRun || await Links.DeleteIfExistsAsync(driver, uploadDirectory, cancellationToken);
                }
                catch (IOException ex)
                {
                    // Written to while being removed (a client came back after all): skip it, the
                    // next run looks again. One upload must not stop the purge of the others.
                    MaintenanceLog.UploadPurgeFailed(logger, name, id, ex);
                    continue;
                }

                if (removed)
                {
                    deleted++;
                    bytes += size;
                    MaintenanceLog.UploadPurged(logger, name, id, startedAt.Value, size, dryRun);
                }
            }
        }

        var duration = time.GetElapsedTime(started);
        MaintenanceLog.UploadPurgeFinished(logger, duration, deleted, scanned, age, bytes, dryRun);
        return new UploadPurgeReport { DryRun = dryRun, Duration = duration, UploadsScanned = scanned, UploadsDeleted = deleted, BytesFreed = bytes };
    }

    /// <summary>
    /// The upload's <c>startedat</c>: RFC 3339 as registry:2 writes it, or the round-trip form
    /// <see cref="UploadStore"/> writes. Null when missing or unreadable.
    /// </summary>
    private async Task<DateTimeOffset?> ReadStartedAtAsync(string uploadDirectory, CancellationToken cancellationToken)
    {
        try
        {
            var stamp = await driver.GetContentAsync(uploadDirectory + "/startedat", MaxStartedAtBytes, cancellationToken);
            return DateTimeOffset.TryParse(Encoding.ASCII.GetString(stamp).Trim(), CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal, out var parsed) ? parsed : null;
        }
        catch (Exception ex) when (ex is StoragePathNotFoundException or StorageObjectTooLargeException)
        {
            return null;
        }
    }

    /// <summary>The newest modification time of the files in an upload directory, or of the directory itself when it is empty.</summary>
    private async Task<DateTimeOffset?> NewestModificationAsync(string uploadDirectory, CancellationToken cancellationToken)
    {
        DateTimeOffset? newest = null;
        foreach (var child in await Links.ListOrEmptyAsync(driver, uploadDirectory, cancellationToken))
        {
            if (await LayoutWalker.StatOrNullAsync(driver, child, cancellationToken) is { } info && (newest is null || info.ModifiedAt > newest))
            {
                newest = info.ModifiedAt;
            }
        }

        return newest ?? (await LayoutWalker.StatOrNullAsync(driver, uploadDirectory, cancellationToken))?.ModifiedAt;
    }
}
