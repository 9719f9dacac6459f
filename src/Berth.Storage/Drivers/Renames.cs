using System.Runtime.InteropServices;

namespace Berth.Storage.Drivers;

/// <summary>
/// The renames the filesystem driver publishes with. On Linux they are single <c>renameat2</c> calls: File.Move and
/// Directory.Move look at source and destination first (three lstat calls per publish, on every blob, link and tag
/// written), and Directory.Move's "destination exists" check races with other writers, where RENAME_NOREPLACE is
/// atomic. Elsewhere they fall back to the .NET calls.
/// </summary>
internal sealed partial class Renames
{
    private const int AtFdCwd = -100;
    private const uint RenameNoReplace = 1;
    private const int ENOENT = 2;
    private const int EEXIST = 17;
    private const int ENOTEMPTY = 39;
    private const int EINVAL = 22;
    private const int ENOSYS = 38;

    private volatile bool _renameat2Unavailable;

    private Renames(bool useRenameAt2)
    {
        _renameat2Unavailable = !useRenameAt2;
    }

    /// <summary>This process's renames: renameat2 on Linux, until a filesystem refuses it, then the .NET calls for good.</summary>
    public static Renames Native { get; } = new(useRenameAt2: OperatingSystem.IsLinux());

    /// <summary>The .NET calls only: what a filesystem without RENAME_NOREPLACE gets (and what tests run the driver on).</summary>
    public static Renames Portable() => new(useRenameAt2: false);

    /// <summary>Renames a file over whatever is at <paramref name="destination"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">The destination's directory (or the source) does not exist.</exception>
    public void ReplaceFile(string source, string destination)
    {
        if (_renameat2Unavailable)
        {
            File.Move(source, destination, overwrite: true);
            return;
        }

        if (RenameAt2(AtFdCwd, source, AtFdCwd, destination, 0) == 0)
        {
            return;
        }

        var errno = Marshal.GetLastPInvokeError();
        throw errno == ENOENT
            ? new DirectoryNotFoundException($"cannot rename '{source}' to '{destination}': a directory is missing")
            : Failure(errno, source, destination);
    }

    /// <summary>Renames a file or directory to a name that must not exist yet.</summary>
    /// <exception cref="IOException">The destination exists.</exception>
    public void MoveNew(string source, string destination)
    {
        if (!_renameat2Unavailable)
        {
            if (RenameAt2(AtFdCwd, source, AtFdCwd, destination, RenameNoReplace) == 0)
            {
                return;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno is not (EINVAL or ENOSYS))
            {
                throw errno switch
                {
                    EEXIST or ENOTEMPTY => new IOException($"'{destination}' exists"),
                    ENOENT => new DirectoryNotFoundException($"cannot rename '{source}' to '{destination}': a directory is missing"),
                    _ => Failure(errno, source, destination),
                };
            }

            // A filesystem without RENAME_NOREPLACE (some network filesystems): fall back for good.
            _renameat2Unavailable = true;
        }

        if (Directory.Exists(source))
        {
            Directory.Move(source, destination);
        }
        else
        {
            File.Move(source, destination, overwrite: false);
        }
    }

    private static IOException Failure(int errno, string source, string destination) =>
        new($"cannot rename '{source}' to '{destination}': {Marshal.GetPInvokeErrorMessage(errno)}", errno);

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAt2(int oldDirectory, string oldPath, int newDirectory, string newPath, uint flags);
}
