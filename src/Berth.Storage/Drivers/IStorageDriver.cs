namespace Berth.Storage.Drivers;

/// <summary>
/// A filesystem-like byte store and nothing more; the registry's layout and semantics live
/// above it. Paths are absolute, <c>/</c>-separated and validated by <see cref="ValidatingDriver"/>
/// before any implementation sees them. Every implementation must pass the shared driver suite.
/// </summary>
/// <remarks>
/// Contract, shared by all drivers:
/// <list type="bullet">
/// <item>A missing path raises <see cref="StoragePathNotFoundException"/>.</item>
/// <item><see cref="PutContentAsync"/> and <see cref="MoveAsync"/> are atomic: a reader sees the
/// old content or the new, never a mix, and a crash leaves one of them.</item>
/// <item>A writer's bytes become durable at <see cref="StorageWriter.CommitAsync"/>.</item>
/// <item>Directories exist implicitly while they hold a file.</item>
/// </list>
/// </remarks>
public interface IStorageDriver
{
    /// <summary>A short name for logs and errors (<c>filesystem</c>, <c>inmemory</c>, ...).</summary>
    string Name { get; }

    /// <summary>Reads a small object whole. Objects larger than <paramref name="maxBytes"/> are refused.</summary>
    Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken);

    /// <summary>Writes a small object atomically, replacing any previous content.</summary>
    Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>Opens a stream positioned at <paramref name="offset"/>.</summary>
    Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken);

    /// <summary>
    /// Opens a writer. With <paramref name="append"/> it continues the existing content (an upload
    /// being resumed); without it any existing content is replaced.
    /// </summary>
    Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken);

    /// <summary>
    /// Opens a writer for a whole new object that stays invisible until <see cref="StorageWriter.CommitAsync"/>, which
    /// makes it durable and puts it at <paramref name="path"/> atomically, replacing any previous content. Cancelling,
    /// or disposing without committing, discards everything written. This is how content whose name is known before its
    /// bytes arrive (a blob pushed in one request, named by its digest) is stored without a scratch object of its own.
    /// </summary>
    Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken);

    /// <summary>Describes a file or directory.</summary>
    Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken);

    /// <summary>The direct children (full paths) of a directory, in no particular order.</summary>
    Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken);

    /// <summary>Moves a file atomically, replacing the destination.</summary>
    Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken);

    /// <summary>Deletes a file or a directory and everything below it.</summary>
    Task DeleteAsync(string path, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the file at the path and nothing else; false when no file is there (a directory is not a file). Object
    /// stores do this without the listing <see cref="DeleteAsync"/> needs to find what is below a path. The default
    /// stats, then deletes.
    /// </summary>
    async Task<bool> DeleteFileAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            if ((await StatAsync(path, cancellationToken)).IsDirectory)
            {
                return false;
            }

            await DeleteAsync(path, cancellationToken);
            return true;
        }
        catch (StoragePathNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// Every file below the directory at any depth, with its size and modification time, in no particular order; empty
    /// when nothing is there. Object stores answer with one flat listing per page of files, where a walk needs a listing
    /// per directory and a stat per file. The result is held whole: list bounded subtrees (one blob prefix directory,
    /// one repository's layer links). The default walks with <see cref="ListAsync"/> and <see cref="StatAsync"/>.
    /// </summary>
    async Task<IReadOnlyList<StorageFileInfo>> ListFilesAsync(string path, CancellationToken cancellationToken)
    {
        var files = new List<StorageFileInfo>();
        var pending = new Stack<string>();
        pending.Push(path);
        while (pending.TryPop(out var directory))
        {
            IReadOnlyList<string> children;
            try
            {
                children = await ListAsync(directory, cancellationToken);
            }
            catch (StoragePathNotFoundException)
            {
                continue;
            }

            foreach (var child in children)
            {
                try
                {
                    var info = await StatAsync(child, cancellationToken);
                    if (info.IsDirectory)
                    {
                        pending.Push(child);
                    }
                    else
                    {
                        files.Add(info);
                    }
                }
                catch (StoragePathNotFoundException)
                {
                    // Removed since the listing: not there.
                }
            }
        }

        return files;
    }

    /// <summary>
    /// A URL a client may fetch the content from directly, or null when the driver serves bytes
    /// itself (the filesystem and in-memory drivers always answer null).
    /// </summary>
    Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken);
}

/// <summary>What <see cref="IStorageDriver.StatAsync"/> reports.</summary>
public sealed record StorageFileInfo(string Path, long Size, DateTimeOffset ModifiedAt, bool IsDirectory);

/// <summary>
/// An open write to one path. Bytes written are not guaranteed durable until
/// <see cref="CommitAsync"/>; <see cref="CancelAsync"/> removes what was written.
/// Disposing without either keeps what was written so far for a writer from
/// <see cref="IStorageDriver.OpenWriteAsync"/> (an upload can resume) and discards it for one from
/// <see cref="IStorageDriver.CreateAsync"/> (nothing was published).
/// </summary>
public abstract class StorageWriter : IAsyncDisposable
{
    /// <summary>Bytes in the file, including content present before an append.</summary>
    public abstract long Size { get; }

    public abstract ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Makes everything written durable.</summary>
    public abstract Task CommitAsync(CancellationToken cancellationToken);

    /// <summary>Discards the file.</summary>
    public abstract Task CancelAsync(CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();
}
