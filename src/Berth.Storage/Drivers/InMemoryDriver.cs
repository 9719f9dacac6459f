namespace Berth.Storage.Drivers;

/// <summary>
/// Keeps every object in process memory. For unit tests and throwaway registries; the content
/// is gone when the process ends.
/// </summary>
public sealed class InMemoryDriver : IStorageDriver
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, InMemoryFile> _files = new(StringComparer.Ordinal);

    public string Name => "inmemory";

    public Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var file = Find(path);
            if (file.Length > maxBytes)
            {
                throw new StorageObjectTooLargeException(path, file.Length, maxBytes);
            }

            return Task.FromResult(file.Snapshot());
        }
    }

    public Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            EnsureNotDirectory(path);
            _files[path] = new InMemoryFile(content.ToArray());
        }

        return Task.CompletedTask;
    }

    public Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var snapshot = Find(path).Snapshot();
            var stream = new MemoryStream(snapshot, writable: false);
            stream.Position = Math.Min(offset, snapshot.Length);
            return Task.FromResult<Stream>(stream);
        }
    }

    public Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            EnsureNotDirectory(path);
            if (!append || !_files.TryGetValue(path, out var file))
            {
                file = new InMemoryFile([]);
                _files[path] = file;
            }

            return Task.FromResult<StorageWriter>(new Writer(this, path, file));
        }
    }

    public Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            EnsureNotDirectory(path);
        }

        return Task.FromResult<StorageWriter>(new PendingWriter(this, path));
    }

    public Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_files.TryGetValue(path, out var file))
            {
                return Task.FromResult(new StorageFileInfo(path, file.Length, file.ModifiedAt, false));
            }

            var prefix = path + "/";
            var newest = DateTimeOffset.MinValue;
            var found = false;
            foreach (var (key, value) in _files)
            {
                if (key.StartsWith(prefix, StringComparison.Ordinal))
                {
                    found = true;
                    newest = value.ModifiedAt > newest ? value.ModifiedAt : newest;
                }
            }

            return found
                ? Task.FromResult(new StorageFileInfo(path, 0, newest, true))
                : throw new StoragePathNotFoundException(path, Name);
        }
    }

    public Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var prefix = path == "/" ? "/" : path + "/";
            var children = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var key in _files.Keys)
            {
                if (key.StartsWith(prefix, StringComparison.Ordinal))
                {
                    var slash = key.IndexOf('/', prefix.Length);
                    children.Add(slash < 0 ? key : key[..slash]);
                }
            }

            if (children.Count == 0 && path != "/")
            {
                throw new StoragePathNotFoundException(path, Name);
            }

            return Task.FromResult<IReadOnlyList<string>>([.. children]);
        }
    }

    public Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var file = Find(sourcePath);
            EnsureNotDirectory(destinationPath);
            _files.Remove(sourcePath);
            _files[destinationPath] = file;
        }

        return Task.CompletedTask;
    }

    public Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_files.Remove(path))
            {
                return Task.CompletedTask;
            }

            var prefix = path + "/";
            var victims = _files.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            if (victims.Count == 0)
            {
                throw new StoragePathNotFoundException(path, Name);
            }

            foreach (var victim in victims)
            {
                _files.Remove(victim);
            }
        }

        return Task.CompletedTask;
    }

    public Task<bool> DeleteFileAsync(string path, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_files.Remove(path));
        }
    }

    public Task<IReadOnlyList<StorageFileInfo>> ListFilesAsync(string path, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var prefix = path + "/";
            return Task.FromResult<IReadOnlyList<StorageFileInfo>>([.. _files
                .Where(entry => entry.Key.StartsWith(prefix, StringComparison.Ordinal))
                .Select(entry => new StorageFileInfo(entry.Key, entry.Value.Length, entry.Value.ModifiedAt, false))]);
        }
    }

    public Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken) => Task.FromResult<Uri?>(null);

    private InMemoryFile Find(string path) =>
        _files.TryGetValue(path, out var file) ? file : throw new StoragePathNotFoundException(path, Name);

    private void EnsureNotDirectory(string path)
    {
        var prefix = path + "/";
        if (_files.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal)))
        {
            throw new IOException($"{path} is a directory");
        }
    }

    private sealed class InMemoryFile(byte[] content)
    {
        private byte[] _buffer = content;

        public int Length { get; private set; } = content.Length;

        public DateTimeOffset ModifiedAt { get; private set; } = DateTimeOffset.UtcNow;

        public byte[] Snapshot() => _buffer.AsSpan(0, Length).ToArray();

        public void Append(ReadOnlySpan<byte> data)
        {
            if (Length + data.Length > _buffer.Length)
            {
                Array.Resize(ref _buffer, Math.Max(Length + data.Length, _buffer.Length * 2));
            }

            data.CopyTo(_buffer.AsSpan(Length));
            Length += data.Length;
            ModifiedAt = DateTimeOffset.UtcNow;
        }
    }

    /// <summary>Collects a new object apart from the others and swaps it in whole at commit.</summary>
    private sealed class PendingWriter(InMemoryDriver owner, string path) : StorageWriter
    {
        private readonly InMemoryFile _pending = new([]);
        private bool _closed;

        public override long Size => _pending.Length;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            _pending.Append(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task CommitAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            _closed = true;
            lock (owner._lock)
            {
                owner.EnsureNotDirectory(path);
                owner._files[path] = _pending;
            }

            return Task.CompletedTask;
        }

        public override Task CancelAsync(CancellationToken cancellationToken)
        {
            _closed = true;
            return Task.CompletedTask;
        }

        public override ValueTask DisposeAsync()
        {
            _closed = true;
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Writer(InMemoryDriver owner, string path, InMemoryFile file) : StorageWriter
    {
        public override long Size
        {
            get
            {
                lock (owner._lock)
                {
                    return file.Length;
                }
            }
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
        {
            lock (owner._lock)
            {
                file.Append(buffer.Span);
            }

            return ValueTask.CompletedTask;
        }

        public override Task CommitAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override Task CancelAsync(CancellationToken cancellationToken)
        {
            lock (owner._lock)
            {
                if (owner._files.TryGetValue(path, out var current) && ReferenceEquals(current, file))
                {
                    owner._files.Remove(path);
                }
            }

            return Task.CompletedTask;
        }

        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
