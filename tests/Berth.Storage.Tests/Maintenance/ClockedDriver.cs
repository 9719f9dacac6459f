using System.Collections.Concurrent;
using Berth.Storage.Drivers;

namespace Berth.Storage.Tests.Maintenance;

/// <summary>
/// Makes a driver's modification times follow a <see cref="ManualClock"/>, so grace periods can be
/// tested without sleeping. Over the filesystem it sets the real file mtimes
/// (<see cref="File.SetLastWriteTimeUtc(string, DateTime)"/>) and reads them back through the
/// driver's own stat; over other drivers it keeps the times beside the driver and overrides stat.
/// Moves keep the source's time, as rename(2) does.
/// </summary>
internal class ClockedDriver(IStorageDriver inner, ManualClock clock) : IStorageDriver
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _times = new(StringComparer.Ordinal);

    public IStorageDriver Inner { get; } = inner;

    public string Name => Inner.Name;

    public static ClockedDriver Wrap(IStorageDriver inner, ManualClock clock) =>
        inner is ILocalFileDriver ? new ClockedLocalDriver(inner, clock) : new ClockedDriver(inner, clock);

    /// <summary>Sets a file's modification time, as if it had last been written at <paramref name="at"/>.</summary>
    public void SetModified(string path, DateTimeOffset at)
    {
        if (Inner is ILocalFileDriver local)
        {
            File.SetLastWriteTimeUtc(local.LocalPath(path), at.UtcDateTime);
        }
        else
        {
            _times[path] = at;
        }
    }

    public Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken) =>
        Inner.GetContentAsync(path, maxBytes, cancellationToken);

    public async Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        await Inner.PutContentAsync(path, content, cancellationToken);
        SetModified(path, clock.GetUtcNow());
    }

    public Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken) =>
        Inner.OpenReadAsync(path, offset, cancellationToken);

    public async Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken) =>
        new Writer(this, path, await Inner.OpenWriteAsync(path, append, cancellationToken));

    public async Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken) =>
        new Writer(this, path, await Inner.CreateAsync(path, cancellationToken));

    public async Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken)
    {
        var info = await Inner.StatAsync(path, cancellationToken);
        if (Inner is ILocalFileDriver)
        {
            return info;
        }

        if (!info.IsDirectory)
        {
            return _times.TryGetValue(path, out var at) ? info with { ModifiedAt = at } : info;
        }

        var prefix = path + "/";
        var newest = _times.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(e => (DateTimeOffset?)e.Value).Max();
        return newest is null ? info : info with { ModifiedAt = newest.Value };
    }

    public Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken) => Inner.ListAsync(path, cancellationToken);

    public async Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        await Inner.MoveAsync(sourcePath, destinationPath, cancellationToken);
        if (_times.TryRemove(sourcePath, out var at))
        {
            _times[destinationPath] = at;
        }
    }

    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        await Inner.DeleteAsync(path, cancellationToken);
        var prefix = path + "/";
        foreach (var key in _times.Keys.Where(k => k == path || k.StartsWith(prefix, StringComparison.Ordinal)).ToList())
        {
            _times.TryRemove(key, out _);
        }
    }

    public async Task<bool> DeleteFileAsync(string path, CancellationToken cancellationToken)
    {
        var deleted = await Inner.DeleteFileAsync(path, cancellationToken);
        _times.TryRemove(path, out _);
        return deleted;
    }

    /// <summary>The inner driver's own listing (an object store's flat one), with the clock's times.</summary>
    public async Task<IReadOnlyList<StorageFileInfo>> ListFilesAsync(string path, CancellationToken cancellationToken)
    {
        var files = await Inner.ListFilesAsync(path, cancellationToken);
        return Inner is ILocalFileDriver
            ? files
            : [.. files.Select(file => _times.TryGetValue(file.Path, out var at) ? file with { ModifiedAt = at } : file)];
    }

    public Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken) =>
        Inner.RedirectUriAsync(path, method, cancellationToken);

    private sealed class Writer(ClockedDriver owner, string path, StorageWriter inner) : StorageWriter
    {
        public override long Size => inner.Size;

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            if (owner.Inner is not ILocalFileDriver)
            {
                owner.SetModified(path, owner.ClockNow);
            }
        }

        public override Task CommitAsync(CancellationToken cancellationToken) => inner.CommitAsync(cancellationToken);

        public override Task CancelAsync(CancellationToken cancellationToken) => inner.CancelAsync(cancellationToken);

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            if (await owner.ExistsAsync(path))
            {
                // A closed file's mtime is final; stamp it now.
                owner.SetModified(path, owner.ClockNow);
            }
        }
    }

    private DateTimeOffset ClockNow => clock.GetUtcNow();

    private async Task<bool> ExistsAsync(string path)
    {
        try
        {
            await Inner.StatAsync(path, CancellationToken.None);
            return true;
        }
        catch (StoragePathNotFoundException)
        {
            return false;
        }
    }
}

/// <summary>The clocked wrapper of a local-file driver, still a local-file driver (the collector removes empty blob directories through it).</summary>
internal sealed class ClockedLocalDriver(IStorageDriver inner, ManualClock clock) : ClockedDriver(inner, clock), ILocalFileDriver
{
    public string LocalPath(string path) => ((ILocalFileDriver)Inner).LocalPath(path);
}
