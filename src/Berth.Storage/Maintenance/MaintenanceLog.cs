using Berth.Core;
using Microsoft.Extensions.Logging;

namespace Berth.Storage.Maintenance;

/// <summary>Log messages of the maintenance jobs; event ids 2100-2199 (storage is 2xxx).</summary>
internal static partial class MaintenanceLog
{
    [LoggerMessage(EventId = 2100, Level = LogLevel.Information,
        Message = "Garbage collection started (dry run: {DryRun}, delete untagged: {DeleteUntagged}, grace period: {GracePeriod})")]
    public static partial void CollectionStarted(ILogger logger, bool dryRun, bool deleteUntagged, TimeSpan gracePeriod);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information,
        Message = "Garbage collection finished in {Duration}: {Repositories} repositories, {ManifestsDeleted}/{ManifestsScanned} manifests and {BlobsDeleted}/{BlobsScanned} blobs deleted, {BytesFreed} bytes freed, {LinksRemoved} links removed, {BlobsRestored} blobs restored (dry run: {DryRun})")]
    public static partial void CollectionFinished(ILogger logger, TimeSpan duration, int repositories, int manifestsDeleted, int manifestsScanned,
        int blobsDeleted, int blobsScanned, long bytesFreed, int linksRemoved, int blobsRestored, bool dryRun);

    [LoggerMessage(EventId = 2111, Level = LogLevel.Debug, Message = "Garbage collection phase {Phase} took {Duration}")]
    public static partial void CollectionPhase(ILogger logger, string phase, TimeSpan duration);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Debug, Message = "Deleted untagged manifest {Digest} of {Repository}")]
    public static partial void ManifestDeleted(ILogger logger, Digest digest, RepositoryName repository);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Debug, Message = "Deleted blob {Digest} ({Size} bytes)")]
    public static partial void BlobDeleted(ILogger logger, Digest digest, long size);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Information, Message = "Blob {Digest} was referenced during garbage collection; restored from quarantine")]
    public static partial void BlobRestored(ILogger logger, Digest digest);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "Restored {Count} blobs left in quarantine by an interrupted garbage collection")]
    public static partial void QuarantineRecovered(ILogger logger, int count);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Warning,
        Message = "{Count} blobs are in quarantine from an interrupted garbage collection; a run that is not a dry run restores them")]
    public static partial void QuarantinePending(ILogger logger, int count);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Warning, Message = "Manifest {Digest} of {Repository} cannot be parsed; it is kept and the digests it names are marked")]
    public static partial void ManifestNotUnderstood(ILogger logger, Digest digest, RepositoryName repository);

    [LoggerMessage(EventId = 2108, Level = LogLevel.Error, Message = "Could not restore quarantined blob {Digest}; the next run will retry")]
    public static partial void RestoreFailed(ILogger logger, Digest digest, Exception exception);

    [LoggerMessage(EventId = 2109, Level = LogLevel.Warning, Message = "Skipping {Path} below repositories/: not a valid repository name")]
    public static partial void InvalidRepositoryDirectory(ILogger logger, string path);

    [LoggerMessage(EventId = 2110, Level = LogLevel.Information, Message = "Restored manifest revision {Digest} of {Repository}: it was referenced during garbage collection")]
    public static partial void ManifestRestored(ILogger logger, Digest digest, RepositoryName repository);

    [LoggerMessage(EventId = 2150, Level = LogLevel.Information, Message = "Purged upload {Repository}/{UploadId} started at {StartedAt} ({Size} bytes, dry run: {DryRun})")]
    public static partial void UploadPurged(ILogger logger, RepositoryName repository, string uploadId, DateTimeOffset startedAt, long size, bool dryRun);

    [LoggerMessage(EventId = 2152, Level = LogLevel.Warning, Message = "Could not purge upload {Repository}/{UploadId}; the next run retries")]
    public static partial void UploadPurgeFailed(ILogger logger, RepositoryName repository, string uploadId, Exception exception);

    [LoggerMessage(EventId = 2151, Level = LogLevel.Information,
        Message = "Upload purge finished in {Duration}: {Deleted}/{Scanned} uploads older than {Age} removed, {BytesFreed} bytes freed (dry run: {DryRun})")]
    public static partial void UploadPurgeFinished(ILogger logger, TimeSpan duration, int deleted, int scanned, TimeSpan age, long bytesFreed, bool dryRun);
    [LoggerMessage(EventId = 2160, Level = LogLevel.Information, Message = "Scrub started (dry run: {DryRun}, rate limit: {BytesPerSecond} bytes/s, 0 = none)")]
    public static partial void ScrubStarted(ILogger logger, bool dryRun, long bytesPerSecond);

    [LoggerMessage(EventId = 2161, Level = LogLevel.Warning, Message = "Scrub found {Problem}: {Finding}")]
    public static partial void ScrubFinding(ILogger logger, string problem, string finding);

    [LoggerMessage(EventId = 2162, Level = LogLevel.Warning, Message = "Moved corrupt blob {Digest} aside to {Path}; pulls of it now answer 404 until it is pushed again")]
    public static partial void BlobMovedAside(ILogger logger, Digest digest, string path);

    [LoggerMessage(EventId = 2163, Level = LogLevel.Information,
        Message = "Scrub finished in {Duration}: {Blobs} blobs ({Bytes} bytes, {MegabytesPerSecond:0.0} MB/s) re-hashed, {Findings} problems, {Corrupt} corrupt blobs, {MovedAside} moved aside (dry run: {DryRun})")]
    public static partial void ScrubFinished(ILogger logger, TimeSpan duration, int blobs, long bytes, double megabytesPerSecond, int findings,
        int corrupt, int movedAside, bool dryRun);
}
