using System.Runtime.InteropServices;

namespace Berth.Storage.Drivers;

/// <summary>
/// Makes a directory's entries durable. A rename is a change to the directory that receives the name, and
/// a journalling filesystem keeps it in memory until its next commit (up to five seconds on ext4): a file
/// flushed to disk and then renamed into place can still vanish on power loss after the client was told
/// it is stored. Syncing the receiving directory commits the rename, together with everything the journal
/// holds before it (the staged file and the directories built around it).
/// </summary>
/// <remarks>
/// .NET has no way to open a directory for syncing on Unix (FileStream and File.OpenHandle refuse
/// directories), so this is open(2) + fsync(2) + close(2). On Windows, NTFS commits metadata changes
/// itself and there is nothing to call.
/// </remarks>
internal static partial class DirectorySync
{
    private const int ReadOnly = 0;
    private const int LinuxCloseOnExec = 0x80000;
    private const int EBADF = 9;
    private const int EINVAL = 22;
    private const int ENOTSUP = 95;

    /// <summary>Syncs <paramref name="directory"/>'s entries to disk.</summary>
    /// <exception cref="IOException">The directory could not be opened or synced.</exception>
    public static void Sync(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var descriptor = Open(directory, OperatingSystem.IsLinux() ? ReadOnly | LinuxCloseOnExec : ReadOnly);
        if (descriptor < 0)
        {
            throw Failure("open", directory, Marshal.GetLastPInvokeError());
        }

        try
        {
            if (FSync(descriptor) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                // Some filesystems (certain network and FUSE ones) cannot sync a directory and say so; their renames are
                // as durable as they make them, and the write has already happened, so this is not a failure.
                if (errno is not (EBADF or EINVAL or ENOTSUP))
                {
                    throw Failure("fsync", directory, errno);
                }
            }
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    private static IOException Failure(string call, string directory, int errno) =>
        new($"cannot {call} directory '{directory}': {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int descriptor);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
