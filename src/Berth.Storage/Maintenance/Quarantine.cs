using Berth.Core;
using Berth.Storage.Drivers;

namespace Berth.Storage.Maintenance;

/// <summary>
/// Where the collector parks blob data between deciding to delete it and deleting it:
/// <code>
/// /docker/registry/v2/_berth_quarantine/&lt;alg&gt;/&lt;hex&gt;     the blob's former blobs/.../data
/// </code>
/// It sits beside <c>blobs/</c> and <c>repositories/</c>, not inside them, so neither the catalog
/// nor registry:2 (which walks only those two) ever sees it, and a move in or out is one rename on
/// the filesystem driver. A blob in quarantine is invisible to pulls and to upload commits, which
/// is what lets the collector look for late references before it deletes anything for good.
/// Nothing else writes here; anything found at the start of a run was left by a run that
/// crashed, and is moved back.
/// </summary>
internal static class Quarantine
{
    public const string Root = StoragePaths.Root + "/_berth_quarantine";

    public static string PathOf(Digest digest) => $"{Root}/{digest.Algorithm}/{digest.Encoded}";

    /// <summary>Moves a blob's data into quarantine; false when the data was not there.</summary>
    public static async Task<bool> EnterAsync(IStorageDriver driver, Digest digest, CancellationToken cancellationToken)
    {
        try
        {
            await driver.MoveAsync(StoragePaths.BlobData(digest), PathOf(digest), cancellationToken);
            return true;
        }
        catch (Exception ex) when (IsSourceGone(ex))
        {
            return false;
        }
    }

    /// <summary>
    /// Moves quarantined data back to its blob path; false when nothing was quarantined. If an
    /// upload committed the same digest meanwhile, the move replaces identical bytes, which is
    /// harmless for content-addressed data (and readers holding the old file keep reading it).
    /// </summary>
    public static async Task<bool> RestoreAsync(IStorageDriver driver, Digest digest, CancellationToken cancellationToken)
    {
        try
        {
            await driver.MoveAsync(PathOf(digest), StoragePaths.BlobData(digest), cancellationToken);
            return true;
        }
        catch (Exception ex) when (IsSourceGone(ex))
        {
            return false;
        }
    }

    /// <summary>
    /// The source of a move vanished: the contract's not-found, or the raw
    /// <see cref="FileNotFoundException"/> the filesystem driver lets through when the file
    /// disappears between its existence check and the rename (the collector and a push restoring
    /// the same blob at once). Either way another mover won, which is what a caller needs to know.
    /// </summary>
    private static bool IsSourceGone(Exception exception) => exception is StoragePathNotFoundException or FileNotFoundException;

    /// <summary>Deletes quarantined data for good; false when it was not there.</summary>
    public static Task<bool> PurgeAsync(IStorageDriver driver, Digest digest, CancellationToken cancellationToken) =>
        driver.DeleteFileAsync(PathOf(digest), cancellationToken);

    /// <summary>Every digest currently in quarantine.</summary>
    public static Task<List<Digest>> ListAsync(IStorageDriver driver, CancellationToken cancellationToken) =>
        LayoutWalker.DigestTreeAsync(driver, Root, cancellationToken);

    /// <summary>Removes a blob directory that no longer holds data; see <see cref="SafeDelete.TryRemoveEmptyDirectory"/>.</summary>
    public static void TryRemoveEmptyBlobDirectory(IStorageDriver driver, Digest digest) =>
        SafeDelete.TryRemoveEmptyDirectory(driver, StoragePaths.BlobDirectory(digest));
}
