using System.Text;
using Berth.Core;
using Berth.Storage.Drivers;

namespace Berth.Storage;

/// <summary>Reads and writes link files: a digest string, no newline.</summary>
internal static class Links
{
    private const int MaxLinkBytes = 1024;

    /// <summary>The digest a link holds, or null when the link is missing or does not hold a digest.</summary>
    public static async Task<Digest?> ReadAsync(IStorageDriver driver, string path, CancellationToken cancellationToken)
    {
        try
        {
            var content = await driver.GetContentAsync(path, MaxLinkBytes, cancellationToken);
            return Digest.TryParse(Encoding.ASCII.GetString(content).Trim(), out var digest) ? digest : null;
        }
        catch (Exception ex) when (ex is StoragePathNotFoundException or StorageObjectTooLargeException)
        {
            return null;
        }
    }

    /// <summary>
    /// Writes a link. Every write refreshes the link's modification time, which online garbage
    /// collection reads as "linked during this run"; use <see cref="WriteIfChangedAsync"/> only for
    /// links the collector treats as roots (tags).
    /// </summary>
    public static Task WriteAsync(IStorageDriver driver, string path, Digest digest, CancellationToken cancellationToken) =>
        driver.PutContentAsync(path, Encoding.ASCII.GetBytes(digest.ToString()), cancellationToken);

    /// <summary>
    /// Writes a link unless it already holds <paramref name="digest"/>: re-tagging to the same
    /// manifest is common (CI pushes "latest" again and again), and reading a small file is far
    /// cheaper than the durable write (flush, rename) it saves.
    /// </summary>
    public static async Task WriteIfChangedAsync(IStorageDriver driver, string path, Digest digest, CancellationToken cancellationToken)
    {
        if (await ReadAsync(driver, path, cancellationToken) != digest)
        {
            await WriteAsync(driver, path, digest, cancellationToken);
        }
    }

    /// <summary>Deletes a path; false when it was not there.</summary>
    public static async Task<bool> DeleteIfExistsAsync(IStorageDriver driver, string path, CancellationToken cancellationToken)
    {
        try
        {
            await driver.DeleteAsync(path, cancellationToken);
            return true;
        }
        catch (StoragePathNotFoundException)
        {
            return false;
        }
    }

    public static async Task<IReadOnlyList<string>> ListOrEmptyAsync(IStorageDriver driver, string path, CancellationToken cancellationToken)
    {
        try
        {
            return await driver.ListAsync(path, cancellationToken);
        }
        catch (StoragePathNotFoundException)
        {
            return [];
        }
    }

    public static string LastSegment(string path) => path[(path.LastIndexOf('/') + 1)..];
}
