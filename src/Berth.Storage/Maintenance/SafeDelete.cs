using Berth.Storage.Drivers;

namespace Berth.Storage.Maintenance;

/// <summary>Deletions that cannot swallow a concurrent write, for jobs that run while the registry serves.</summary>
internal static class SafeDelete
{
    /// <summary>
    /// Deletes a link file, then its directory if that is now empty. Never a recursive directory
    /// delete: the filesystem driver deletes a directory by renaming it away first, and a link
    /// written concurrently into it (rename(2) resolves the parent before the directory moves)
    /// would vanish with it. Unlinking one file is atomic, and a link rewritten a moment later
    /// simply survives (and on an object store a single-object delete needs no listing). False when the link was not there.
    /// </summary>
    public static async Task<bool> DeleteLinkAsync(IStorageDriver driver, string linkPath, CancellationToken cancellationToken)
    {
        var deleted = await driver.DeleteFileAsync(linkPath, cancellationToken);
        TryRemoveEmptyDirectory(driver, linkPath[..linkPath.LastIndexOf('/')]);
        return deleted;
    }

    /// <summary>
    /// Removes a directory that no longer holds anything, on drivers whose directories are real
    /// (the filesystem). This is rmdir, not a recursive delete: if a writer has put a file back
    /// meanwhile (an upload commit's <c>data</c>, a rewritten link), the directory is not empty
    /// and the call changes nothing, so there is no check-then-delete race. Drivers with implicit
    /// directories need nothing.
    /// </summary>
    public static void TryRemoveEmptyDirectory(IStorageDriver driver, string path)
    {
        var local = driver.AsLocal();
        if (local is null)
        {
            return;
        }

        try
        {
            Directory.Delete(local.LocalPath(path), recursive: false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidStoragePathException)
        {
            // Not empty (something came back), already gone, or not ours to touch: all fine.
        }
    }
}
