using System.IO.Enumeration;
using Microsoft.Extensions.Logging;

namespace Berth.Storage.Drivers;

/// <summary>
/// Stores objects as files below a root directory, with Distribution's filesystem layout.
/// </summary>
/// <remarks>
/// Atomicity comes from rename(2). Small objects are written to a staging directory, flushed to
/// disk and renamed into place, and the directory that receives the name is synced before the
/// write returns (see <see cref="DirectorySync"/>). When a target's parent directories do not exist yet, they are
/// built in staging too and the topmost new directory is renamed into place, so a file appears
/// together with its directories: a crash never leaves an empty tag or repository directory that
/// a listing would report. Deletes rename the victim into staging first, so they are atomic too.
/// </remarks>
public sealed partial class FilesystemDriver : IStorageDriver, ILocalFileDriver
{
    /// <summary>Where temporary files live; beside the data so that renames stay on one filesystem.</summary>
    public const string StagingDirectoryName = ".berth-staging";

    private const int ReadBufferSize = 128 * 1024;
    private readonly string _root;
    private readonly string _staging;
    private readonly ILogger _logger;

    private readonly Renames _renames;
    private readonly DirectorySyncGroup _directorySyncs = DirectorySyncGroup.Native;

    public FilesystemDriver(string rootDirectory, ILogger<FilesystemDriver> logger)
        : this(rootDirectory, logger, Renames.Native)
    {
    }

    internal FilesystemDriver(string rootDirectory, ILogger<FilesystemDriver> logger, Renames renames)
    {
        _renames = renames;
        _root = Path.GetFullPath(rootDirectory).TrimEnd(Path.DirectorySeparatorChar);
        _staging = Path.Combine(_root, StagingDirectoryName);
        _logger = logger;
        Directory.CreateDirectory(_staging);
        CleanStaleStaging();
    }

    public string Name => "filesystem";

    public string RootDirectory => _root;

    /// <summary>The local file behind a storage path, so the HTTP layer can hand it to sendfile.</summary>
    public string LocalPath(string path)
    {
        // The storage path grammar (absolute, [A-Za-z0-9._-] components, no . or .. components) is what keeps a path
        // inside the root; checked here too, not only by ValidatingDriver, because this driver can be used bare. With
        // it, plain concatenation is exact and avoids normalising every path on the hot path.
        ValidatingDriver.ValidatePath(path);
        return _root + path;
    }

    /// <summary>The first read of <see cref="GetContentAsync"/>, on the stack: a link, a tag or a small manifest whole.</summary>
    private const int SmallReadBytes = 1024;

    public Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken)
    {
        var full = LocalPath(path);
        if (WholeFileRead.IsSupported)
        {
            // Linux: bare system calls, no handle object, one open whatever the size (see WholeFileRead).
            switch (WholeFileRead.TryRead(full, maxBytes, out var content, out var length))
            {
                case WholeFileRead.Outcome.Read:
                    return Task.FromResult(content);
                case WholeFileRead.Outcome.Missing:
                    throw new StoragePathNotFoundException(path, Name);
                case WholeFileRead.Outcome.TooLarge:
                    throw new StorageObjectTooLargeException(path, length, maxBytes);
            }
        }

        try
        {
            // Elsewhere, and for an error the native read leaves to .NET: plain positional reads (open, read, close),
            // no stream and no thread-pool hop.
            using var handle = File.OpenHandle(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

            // Links (about 71 bytes) and most manifests fit a small first read, and a read of a regular file that
            // returns less than it was asked for has reached the end: that answer needs no fstat for the length.
            Span<byte> small = stackalloc byte[SmallReadBytes];
            var first = RandomAccess.Read(handle, small[..(int)Math.Min(SmallReadBytes, (long)maxBytes + 1)], 0);
            if (first <= maxBytes && first < SmallReadBytes)
            {
                return Task.FromResult(small[..first].ToArray());
            }

            var length = RandomAccess.GetLength(handle);
            if (length > maxBytes)
            {
                throw new StorageObjectTooLargeException(path, length, maxBytes);
            }

            var buffer = new byte[length];
            var total = 0;
            while (total < buffer.Length)
            {
                var read = RandomAccess.Read(handle, buffer.AsSpan(total), total);
                if (read == 0)
                {
                    // Content is replaced by rename, never truncated in place; a short read means a
                    // file that is still growing (an upload), so return what is there.
                    return Task.FromResult(buffer[..total]);
                }

                total += read;
            }

            return Task.FromResult(buffer);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException
            || (ex is UnauthorizedAccessException && Directory.Exists(full)))
        {
            // A directory has no content: for a reader it is as missing as a file that is not there.
            throw new StoragePathNotFoundException(path, Name);
        }
    }

    public async Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var full = LocalPath(path);
        var temp = NewStagingPath();
        await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None))
        {
            await stream.WriteAsync(content, cancellationToken);
            stream.Flush(flushToDisk: true);
        }

        try
        {
            PublishFile(temp, full);
        }
        catch
        {
            TryDeleteFile(temp);
            throw;
        }
    }

    public Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken)
    {
        var full = LocalPath(path);
        try
        {
            var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, ReadBufferSize,
                FileOptions.Asynchronous | FileOptions.SequentialScan);
            stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
            return Task.FromResult<Stream>(stream);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException
            || (ex is UnauthorizedAccessException && Directory.Exists(full)))
        {
            throw new StoragePathNotFoundException(path, Name);
        }
    }

    public Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken)
    {
        var full = LocalPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var stream = new FileStream(full, append ? FileMode.OpenOrCreate : FileMode.Create, FileAccess.Write, FileShare.Read | FileShare.Delete,
            1, FileOptions.Asynchronous);
        if (append)
        {
            stream.Seek(0, SeekOrigin.End);
        }

        return Task.FromResult<StorageWriter>(new FileWriter(stream, full));
    }

    public Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken)
    {
        var full = LocalPath(path);
        var temp = NewStagingPath();
        var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
        return Task.FromResult<StorageWriter>(new StagedFileWriter(this, stream, temp, full));
    }

    public Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken)
    {
        // One stat serves files and directories alike (FileInfo.Exists is false for a directory, but its attributes
        // and times are read all the same); the catalog stats every repository directory on each listing.
        var entry = new FileInfo(LocalPath(path));
        var attributes = entry.Attributes;
        if ((int)attributes == -1)
        {
            throw new StoragePathNotFoundException(path, Name);
        }

        var isDirectory = attributes.HasFlag(FileAttributes.Directory);
        return Task.FromResult(new StorageFileInfo(path, isDirectory ? 0 : entry.Length, entry.LastWriteTimeUtc, isDirectory));
    }

    public Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken)
    {
        var full = path == "/" ? _root : LocalPath(path);
        var prefix = path == "/" ? "/" : path + "/";
        try
        {
            var result = new List<string>();
            foreach (var entry in Directory.EnumerateFileSystemEntries(full))
            {
                var name = Path.GetFileName(entry);
                if (path == "/" && name == StagingDirectoryName)
                {
                    continue;
                }

                result.Add(prefix + name);
            }

            return Task.FromResult<IReadOnlyList<string>>(result);
        }
        catch (DirectoryNotFoundException)
        {
            throw new StoragePathNotFoundException(path, Name);
        }
        catch (IOException) when (File.Exists(full))
        {
            throw new StoragePathNotFoundException(path, Name);
        }
    }

    public Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        var source = LocalPath(sourcePath);
        if (!File.Exists(source))
        {
            throw new StoragePathNotFoundException(sourcePath, Name);
        }

        try
        {
            PublishFile(source, LocalPath(destinationPath));
        }
        catch (IOException ex) when (ex is FileNotFoundException or DirectoryNotFoundException && !File.Exists(source))
        {
            // The source went away between the check and the rename (a concurrent move or delete).
            throw new StoragePathNotFoundException(sourcePath, Name);
        }

        return Task.CompletedTask;
    }

    public Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        var full = LocalPath(path);
        if (File.Exists(full))
        {
            File.Delete(full);
            return Task.CompletedTask;
        }

        if (!Directory.Exists(full))
        {
            throw new StoragePathNotFoundException(path, Name);
        }

        // An empty directory goes with one atomic rmdir.
        if (TryRemoveEmptyDirectory(full))
        {
            return Task.CompletedTask;
        }

        // Rename first so the whole subtree disappears at once, then remove it at leisure.
        var graveyard = NewStagingPath();
        try
        {
            _renames.MoveNew(full, graveyard);
        }
        catch (DirectoryNotFoundException)
        {
            throw new StoragePathNotFoundException(path, Name);
        }

        try
        {
            Directory.Delete(graveyard, recursive: true);
        }
        catch (IOException ex)
        {
            // A writer renamed a file into the tree while it was being removed; the tree is out of
            // the layout already, and start-up sweeps staging.
            LogStagingCleanupFailed(_logger, graveyard, ex);
        }

        return Task.CompletedTask;
    }

    public Task<bool> DeleteFileAsync(string path, CancellationToken cancellationToken)
    {
        var full = LocalPath(path);
        if (!File.Exists(full))
        {
            return Task.FromResult(false);
        }

        try
        {
            File.Delete(full);
        }
        catch (DirectoryNotFoundException)
        {
            // Its directory went with a concurrent delete: not there either way.
            return Task.FromResult(false);
        }

        return Task.FromResult(true);
    }

    private static readonly EnumerationOptions ListFilesOptions = new()
    {
        RecurseSubdirectories = true,
        AttributesToSkip = 0,
        IgnoreInaccessible = false,
    };

    public Task<IReadOnlyList<StorageFileInfo>> ListFilesAsync(string path, CancellationToken cancellationToken)
    {
        var full = LocalPath(path);
        if (!Directory.Exists(full))
        {
            return Task.FromResult<IReadOnlyList<StorageFileInfo>>([]);
        }

        // One readdir per directory and the enumeration's own stat per file. A file removed between the two still
        // appears, as on an object store whose listing is a moment old; a subdirectory removed mid-walk is skipped.
        var files = new FileSystemEnumerable<StorageFileInfo>(full,
            (ref entry) => new StorageFileInfo(path + entry.ToFullPath()[full.Length..], entry.Length, entry.LastWriteTimeUtc, false),
            ListFilesOptions)
        {
            ShouldIncludePredicate = (ref entry) => !entry.IsDirectory,
        };
        try
        {
            return Task.FromResult<IReadOnlyList<StorageFileInfo>>([.. files]);
        }
        catch (DirectoryNotFoundException)
        {
            return Task.FromResult<IReadOnlyList<StorageFileInfo>>([]);
        }
    }

    private static bool TryRemoveEmptyDirectory(string full)
    {
        try
        {
            Directory.Delete(full, recursive: false);
            return true;
        }
        catch (IOException)
        {
            // Not empty (or gone meanwhile: the caller's rename then reports it missing).
            return false;
        }
    }

    public Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken) => Task.FromResult<Uri?>(null);

    /// <summary>
    /// Renames <paramref name="source"/> (already flushed to disk) to <paramref name="destination"/>, creating missing
    /// parents atomically, and syncs the directory that received the new name, so that what is published is durable
    /// when this returns.
    /// </summary>
    private void PublishFile(string source, string destination)
    {
        var parent = Path.GetDirectoryName(destination)!;
        if (Directory.Exists(parent))
        {
            try
            {
                _renames.ReplaceFile(source, destination);
                _directorySyncs.Sync(parent);
                return;
            }
            catch (DirectoryNotFoundException) when (File.Exists(source))
            {
                // The parent was removed (garbage collection empties blob directories) between the
                // check and the rename; build it again below.
            }
        }

        // Find the topmost directory that is missing and build the chain below it in staging.
        var topMissing = parent;
        var existingAncestorFound = false;
        while (true)
        {
            var up = Path.GetDirectoryName(topMissing)!;
            if (up.Length <= _root.Length)
            {
                break;
            }

            if (Directory.Exists(up))
            {
                existingAncestorFound = true;
                break;
            }

            topMissing = up;
        }

        if (!existingAncestorFound)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(topMissing)!);
        }

        var stageRoot = NewStagingPath();
        var staged = Path.Combine(stageRoot, Path.GetRelativePath(topMissing, destination));
        CreateFreshChain(stageRoot, Path.GetDirectoryName(staged)!);
        _renames.ReplaceFile(source, staged);
        try
        {
            _renames.MoveNew(stageRoot, topMissing);
        }
        catch (IOException)
        {
            // Another writer created the directory meanwhile; it exists now, so a plain rename works.
            Directory.CreateDirectory(parent);
            _renames.ReplaceFile(staged, destination);
            _directorySyncs.Sync(parent);
            Directory.Delete(stageRoot, recursive: true);
            return;
        }

        // The chain's directories and the file inside it were made in staging before this rename; a journalling
        // filesystem commits them in order with it.
        _directorySyncs.Sync(Path.GetDirectoryName(topMissing)!);
    }

    /// <summary>
    /// Creates <paramref name="leaf"/> and the directories between it and <paramref name="top"/>, all new (they are
    /// under a fresh staging name), top down: one mkdir each, where creating the leaf first would fail and climb.
    /// </summary>
    private static void CreateFreshChain(string top, string leaf)
    {
        var chain = new Stack<string>();
        for (var directory = leaf; directory.Length >= top.Length; directory = Path.GetDirectoryName(directory)!)
        {
            chain.Push(directory);
            if (directory.Length == top.Length)
            {
                break;
            }
        }

        foreach (var directory in chain)
        {
            Directory.CreateDirectory(directory);
        }
    }

    private string NewStagingPath() => Path.Combine(_staging, Guid.NewGuid().ToString("N"));

    private void CleanStaleStaging()
    {
        // Staging entries outlive a process only when it crashed mid-write; nothing references them.
        var cutoff = DateTime.UtcNow.AddHours(-1);
        foreach (var entry in Directory.EnumerateFileSystemEntries(_staging))
        {
            try
            {
                if (File.GetLastWriteTimeUtc(entry) < cutoff)
                {
                    if (Directory.Exists(entry))
                    {
                        Directory.Delete(entry, recursive: true);
                    }
                    else
                    {
                        File.Delete(entry);
                    }
                }
            }
            catch (IOException ex)
            {
                LogStagingCleanupFailed(_logger, entry, ex);
            }
        }
    }

    private static void TryDeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: staging is swept at start-up.
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Could not remove stale staging entry {Entry}")]
    private static partial void LogStagingCleanupFailed(ILogger logger, string entry, Exception exception);

    /// <summary>A new file written in staging and published by <see cref="PublishFile"/> at commit, or removed.</summary>
    private sealed class StagedFileWriter(FilesystemDriver owner, FileStream stream, string stagingPath, string destination) : StorageWriter
    {
        private bool _closed;

        public override long Size => stream.Length;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken) =>
            stream.WriteAsync(buffer, cancellationToken);

        public override async Task CommitAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            _closed = true;
            try
            {
                stream.Flush(flushToDisk: true);
                await stream.DisposeAsync();
                owner.PublishFile(stagingPath, destination);
            }
            catch
            {
                await stream.DisposeAsync();
                TryDeleteFile(stagingPath);
                throw;
            }
        }

        public override Task CancelAsync(CancellationToken cancellationToken) => DisposeAsync().AsTask();

        public override async ValueTask DisposeAsync()
        {
            if (!_closed)
            {
                _closed = true;
                await stream.DisposeAsync();
                TryDeleteFile(stagingPath);
            }
        }
    }

    private sealed class FileWriter(FileStream stream, string path) : StorageWriter
    {
        private bool _disposed;

        public override long Size => stream.Length;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken) =>
            stream.WriteAsync(buffer, cancellationToken);

        public override Task CommitAsync(CancellationToken cancellationToken)
        {
            stream.Flush(flushToDisk: true);
            return Task.CompletedTask;
        }

        public override async Task CancelAsync(CancellationToken cancellationToken)
        {
            await DisposeAsync();
            File.Delete(path);
        }

        public override async ValueTask DisposeAsync()
        {
            if (!_disposed)
            {
                _disposed = true;
                await stream.DisposeAsync();
            }
        }
    }
}
