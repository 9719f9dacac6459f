using System.Runtime.InteropServices;
using Berth.Storage.Drivers;

namespace Berth.Server;

/// <summary>
/// Whether this process can use <c>storage.filesystem.rootdirectory</c> as the filesystem driver will, decided
/// without changing anything: a missing root is fine when the driver can create it (its nearest existing parent is a
/// writable directory); an existing one must be a directory this user may read and write (only read in read-only
/// mode). Permissions are asked of the kernel with access(2), so root's privileges, ACLs and read-only mounts count
/// as they will when the driver writes; nothing is created, so <c>config check</c> can run it against a live root.
/// </summary>
internal static partial class StorageRootCheck
{
    /// <summary>The configuration key the root comes from.</summary>
    public const string Key = "storage.filesystem.rootdirectory";

    /// <summary>What to do about a root that cannot be used; every failure ends with it.</summary>
    public const string Advice =
        "choose another directory with REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=DIR or storage.filesystem.rootdirectory in config.yml";

    /// <summary>access(2)'s mode bits.</summary>
    [Flags]
    internal enum Access
    {
        Search = 1,
        Write = 2,
        Read = 4,
    }

    /// <summary>Asks whether <paramref name="path"/> allows <paramref name="access"/>: 0 when it does, else the errno.</summary>
    internal delegate int AccessProbe(string path, Access access);

    /// <summary>Throws when the filesystem driver could not use <paramref name="rootDirectory"/>.</summary>
    /// <param name="rootDirectory">The configured root; a relative one is taken from the working directory, as the driver takes it.</param>
    /// <param name="readOnly">Maintenance read-only mode: the registry reads, so writing is not required of an existing root.</param>
    /// <param name="probe">The permission check; tests replace access(2) to play a user without rights.</param>
    /// <exception cref="StartupException">The root is not usable; the message is one line that says why and what to do.</exception>
    public static void Check(string rootDirectory, bool readOnly, AccessProbe? probe = null)
    {
        probe ??= NativeAccess;
        var root = Path.GetFullPath(rootDirectory).TrimEnd(Path.DirectorySeparatorChar);
        if (root.Length == 0)
        {
            root = Path.DirectorySeparatorChar.ToString();
        }

        if (File.Exists(root))
        {
            throw Failure("use", root, "it is a file, not a directory");
        }

        if (Directory.Exists(root))
        {
            CheckExisting(root, readOnly, probe);
            return;
        }

        // The driver creates the root and its missing parents: the nearest directory that exists must take new entries.
        var ancestor = Path.GetDirectoryName(root);
        while (ancestor is not null && !Directory.Exists(ancestor))
        {
            if (File.Exists(ancestor))
            {
                throw Failure("create", root, $"{ancestor} is a file, not a directory");
            }

            ancestor = Path.GetDirectoryName(ancestor);
        }

        if (ancestor is not null && probe(ancestor, Access.Write | Access.Search) is var errno and not 0)
        {
            throw Failure("create", root, $"{ancestor}: {Describe(errno)}");
        }
    }

    /// <summary>The failure to report when the driver itself could not create or open the root.</summary>
    public static StartupException Failure(string rootDirectory, Exception exception)
    {
        var reason = exception switch
        {
            UnauthorizedAccessException => "permission denied",
            _ => LowerFirst(exception.Message.TrimEnd('.')),
        };
        return new StartupException(Key, Line("use", Path.GetFullPath(rootDirectory), reason), exception);
    }

    private static void CheckExisting(string root, bool readOnly, AccessProbe probe)
    {
        var staging = Path.Combine(root, FilesystemDriver.StagingDirectoryName);
        var stagingExists = Directory.Exists(staging);

        // The driver creates its staging directory in the root, even in read-only mode, when it is not there yet.
        var needsWrite = !readOnly || !stagingExists;
        var needed = Access.Read | Access.Search | (needsWrite ? Access.Write : 0);
        if (probe(root, needed) is var errno and not 0)
        {
            throw Failure(needsWrite ? "write" : "read", root, Describe(errno));
        }

        // Every write is staged there first: a staging directory left by another user (an earlier run as root) stops them all.
        if (stagingExists && !readOnly && probe(staging, Access.Read | Access.Write | Access.Search) is var stagingErrno and not 0)
        {
            throw Failure("write", root, $"{staging}: {Describe(stagingErrno)}");
        }
    }

    private static StartupException Failure(string verb, string root, string reason) => new(Key, Line(verb, root, reason), null);

    private static string Line(string verb, string root, string reason) => $"cannot {verb} the storage root {root} ({reason}); {Advice}";

    /// <summary>The errno as strerror says it, in lower case to sit inside a sentence: "permission denied".</summary>
    internal static string Describe(int errno) => LowerFirst(Marshal.GetPInvokeErrorMessage(errno));

    private static string LowerFirst(string text) =>
        text.Length > 1 && char.IsUpper(text[0]) && !char.IsUpper(text[1]) ? char.ToLowerInvariant(text[0]) + text[1..] : text;

    private static int NativeAccess(string path, Access access)
    {
        if (OperatingSystem.IsWindows())
        {
            return 0;
        }

        return AccessNative(path, (int)access) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    [LibraryImport("libc", EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int AccessNative(string path, int mode);
}
