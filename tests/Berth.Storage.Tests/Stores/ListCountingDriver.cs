using Berth.Storage.Drivers;

namespace Berth.Storage.Tests.Stores;

/// <summary>Counts listing requests, the calls a catalog walk is made of on an object store.</summary>
internal sealed class ListCountingDriver(IStorageDriver inner) : IStorageDriver
{
    private int _lists;

    public int Lists => _lists;

    public string Name => inner.Name;

    public Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken) => inner.GetContentAsync(path, maxBytes, cancellationToken);

    public Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) => inner.PutContentAsync(path, content, cancellationToken);

    public Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken) => inner.OpenReadAsync(path, offset, cancellationToken);

    public Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken) => inner.OpenWriteAsync(path, append, cancellationToken);

    public Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken) => inner.CreateAsync(path, cancellationToken);

    public Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken) => inner.StatAsync(path, cancellationToken);

    public Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _lists);
        return inner.ListAsync(path, cancellationToken);
    }

    public Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken) => inner.MoveAsync(sourcePath, destinationPath, cancellationToken);

    public Task DeleteAsync(string path, CancellationToken cancellationToken) => inner.DeleteAsync(path, cancellationToken);

    public Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken) => inner.RedirectUriAsync(path, method, cancellationToken);
}
