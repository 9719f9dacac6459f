using Berth.Core;
using Berth.Storage.Drivers;

namespace Berth.Storage.Maintenance;

/// <summary>
/// The push side of the collector's safety protocol, for <see cref="ManifestStore.PutAsync"/>.
/// </summary>
/// <remarks>
/// The collector moves a blob into quarantine and <i>then</i> looks for revision links that
/// reference it; a manifest push writes its revision link and <i>then</i> calls
/// <see cref="EnsureContentAsync"/> for what it references. Whatever the interleaving, one side
/// sees the other: if the collector's re-scan missed the new revision, the revision was written
/// after the blob went into quarantine, so this check finds the blob gone and moves it back
/// itself (or, when the collector has already deleted it, fails the push, which then never
/// becomes visible). Without this check the collector's settle delay is only a heuristic: a
/// manifest PUT that takes longer than the delay between its reference check and its link write
/// (fsync-heavy disks under load do) could be accepted with a blob missing.
/// </remarks>
public static class CollectionHandshake
{
    /// <summary>
    /// True when <paramref name="digest"/>'s data is in the content store, moving it back from the
    /// collector's quarantine first if that is where it is; false when it is gone.
    /// </summary>
    public static async Task<bool> EnsureContentAsync(IStorageDriver driver, Digest digest, CancellationToken cancellationToken)
    {
        if (await ExistsAsync(driver, digest, cancellationToken))
        {
            return true;
        }

        // Either we move it back or the collector did (or its re-scan will); a lost race with
        // its final delete leaves neither copy, and the caller must fail.
        return await Quarantine.RestoreAsync(driver, digest, cancellationToken) || await ExistsAsync(driver, digest, cancellationToken);
    }

    private static async Task<bool> ExistsAsync(IStorageDriver driver, Digest digest, CancellationToken cancellationToken) =>
        await LayoutWalker.StatOrNullAsync(driver, StoragePaths.BlobData(digest), cancellationToken) is { IsDirectory: false };
}
