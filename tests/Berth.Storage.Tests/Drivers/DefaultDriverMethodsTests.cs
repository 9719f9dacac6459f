using Berth.Storage.Drivers;

namespace Berth.Storage.Tests.Drivers;

/// <summary>
/// The whole driver suite over a driver that implements only the required members, so that
/// <see cref="IStorageDriver.DeleteFileAsync"/> and <see cref="IStorageDriver.ListFilesAsync"/> run their default
/// implementations (what a wrapping driver without its own gets).
/// </summary>
public sealed class DefaultDriverMethodsTests : StorageDriverSuite
{
    protected override IStorageDriver CreateDriver() => new RequiredMembersOnly(new InMemoryDriver());

    private sealed class RequiredMembersOnly(IStorageDriver inner) : IStorageDriver
    {
        public string Name => inner.Name;

        public Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken) =>
            inner.GetContentAsync(path, maxBytes, cancellationToken);

        public Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) =>
            inner.PutContentAsync(path, content, cancellationToken);

        public Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken) =>
            inner.OpenReadAsync(path, offset, cancellationToken);

        public Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken) =>
            inner.OpenWriteAsync(path, append, cancellationToken);

        public Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken) => inner.CreateAsync(path, cancellationToken);

        public Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken) => inner.StatAsync(path, cancellationToken);

        public Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken) => inner.ListAsync(path, cancellationToken);

        public Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken) =>
            inner.MoveAsync(sourcePath, destinationPath, cancellationToken);

        public Task DeleteAsync(string path, CancellationToken cancellationToken) => inner.DeleteAsync(path, cancellationToken);

        public Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken) =>
            inner.RedirectUriAsync(path, method, cancellationToken);
    }
}
