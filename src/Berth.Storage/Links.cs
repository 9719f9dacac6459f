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

    public static Task WriteAsync(IStorageDriver driver, string path, Digest digest, CancellationToken cancellationToken) =>
        driver.PutContentAsync(path, Encoding.ASCII.GetBytes(digest.ToString()), cancellationToken);

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
