using System.Collections.Concurrent;
using Berth.Storage.Drivers;

namespace Berth.Storage;

/// <summary>
/// Listings of directories, kept in a form <typeparamref name="T"/> made from their entries and validated by the
/// directory's modification time on every use. Adding or removing an entry moves a directory's time on, and Berth's
/// filesystem driver publishes every new entry by a rename into its parent, so another process writing the same
/// storage invalidates an entry just as this one does. Only drivers whose directories carry real modification times
/// (the local filesystem) cache; on others every call lists.
/// </summary>
internal sealed class DirectoryListingCache<T>(IStorageDriver driver, int capacity, Func<IReadOnlyList<string>, T> project)
    where T : class
{
    // File times are coarser than the clock: a change within the same tick could leave the same time behind, so only
    // a directory untouched for this long is cached.
    private static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, (DateTimeOffset ModifiedAt, T Value)> _entries = new(StringComparer.Ordinal);

    private readonly bool _enabled = driver is ILocalFileDriver or ValidatingDriver { Inner: ILocalFileDriver };

    /// <summary>The projected listing of <paramref name="path"/>, or null when the directory does not exist.</summary>
    public async Task<T?> GetAsync(string path, CancellationToken cancellationToken)
    {
        DateTimeOffset? modifiedAt = null;
        if (_enabled)
        {
            try
            {
                modifiedAt = (await driver.StatAsync(path, cancellationToken)).ModifiedAt;
            }
            catch (StoragePathNotFoundException)
            {
                _entries.TryRemove(path, out _);
                return null;
            }

            if (_entries.TryGetValue(path, out var cached) && cached.ModifiedAt == modifiedAt)
            {
                return cached.Value;
            }
        }

        IReadOnlyList<string> listing;
        try
        {
            listing = await driver.ListAsync(path, cancellationToken);
        }
        catch (StoragePathNotFoundException)
        {
            return null;
        }

        var value = project(listing);
        if (modifiedAt is { } stamp && stamp < DateTimeOffset.UtcNow - SettleTime)
        {
            if (_entries.Count >= capacity)
            {
                _entries.Clear();
            }

            _entries[path] = (stamp, value);
        }

        return value;
    }
}
