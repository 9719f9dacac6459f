using Berth.Storage.Drivers;

namespace Berth.Storage.Tests.Stores;

/// <summary>
/// Counts the calls that cost most on an object store: listings (what a catalog walk is made of) and reads of objects
/// that are not there (a 404 the S3 SDK turns into an exception). <see cref="ListDelay"/> makes each listing take a
/// round trip's time, so that <see cref="MaxListsInFlight"/> shows how many a caller overlaps.
/// </summary>
internal sealed class RequestCountingDriver(IStorageDriver inner) : IStorageDriver
{
    private int _lists;
    private int _missingReads;
    private readonly InFlightCounter _listsInFlight = new();

    public int Lists => _lists;

    public TimeSpan ListDelay { get; init; }

    public int MaxListsInFlight => _listsInFlight.Most;

    public int MissingReads => _missingReads;

    public string Name => inner.Name;

    public async Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken)
    {
        try
        {
            return await inner.GetContentAsync(path, maxBytes, cancellationToken);
        }
        catch (StoragePathNotFoundException)
        {
            Interlocked.Increment(ref _missingReads);
            throw;
        }
    }

    public Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) => inner.PutContentAsync(path, content, cancellationToken);

    public Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken) => inner.OpenReadAsync(path, offset, cancellationToken);

    public Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken) => inner.OpenWriteAsync(path, append, cancellationToken);

    public Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken) => inner.CreateAsync(path, cancellationToken);

    public Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken) => inner.StatAsync(path, cancellationToken);

    public async Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _lists);
        using (_listsInFlight.Enter())
        {
            if (ListDelay > TimeSpan.Zero)
            {
                await Task.Delay(ListDelay, cancellationToken);
            }

            return await inner.ListAsync(path, cancellationToken);
        }
    }

    public Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken) => inner.MoveAsync(sourcePath, destinationPath, cancellationToken);

    public Task DeleteAsync(string path, CancellationToken cancellationToken) => inner.DeleteAsync(path, cancellationToken);

    public Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken) => inner.RedirectUriAsync(path, method, cancellationToken);
}
