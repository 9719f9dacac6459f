using Berth.Storage.Drivers;

namespace Berth.Storage.Tests.Drivers;

/// <summary>
/// Passes every member a driver must implement to <paramref name="inner"/>; a test overrides the one it changes.
/// <see cref="IStorageDriver.DeleteFileAsync"/> and <see cref="IStorageDriver.ListFilesAsync"/> are left to the
/// interface's defaults, which are built on these members, so they see whatever an override changes.
/// </summary>
internal class ForwardingDriver(IStorageDriver inner) : IStorageDriver
{
    protected IStorageDriver Inner { get; } = inner;

    public string Name => Inner.Name;

    public virtual Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken) =>
        Inner.GetContentAsync(path, maxBytes, cancellationToken);

    public virtual Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) =>
        Inner.PutContentAsync(path, content, cancellationToken);

    public virtual Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken) =>
        Inner.OpenReadAsync(path, offset, cancellationToken);

    public virtual Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken) =>
        Inner.OpenWriteAsync(path, append, cancellationToken);

    public virtual Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken) => Inner.CreateAsync(path, cancellationToken);

    public virtual Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken) => Inner.StatAsync(path, cancellationToken);

    public virtual Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken) => Inner.ListAsync(path, cancellationToken);

    public virtual Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken) =>
        Inner.MoveAsync(sourcePath, destinationPath, cancellationToken);

    public virtual Task DeleteAsync(string path, CancellationToken cancellationToken) => Inner.DeleteAsync(path, cancellationToken);

    public virtual Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken) =>
        Inner.RedirectUriAsync(path, method, cancellationToken);
}
