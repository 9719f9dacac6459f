using System.Collections.Concurrent;
using Berth.Core;
using Berth.Storage.Drivers;

namespace Berth.Storage;

/// <summary>Tags: <c>_manifests/tags/&lt;tag&gt;/current/link</c> plus the history under <c>index/</c>.</summary>
public sealed class TagStore(IStorageDriver driver)
{
    private const int MaxCachedListings = 1024;

    /// <summary>
    /// Sorted tag lists of local-filesystem repositories, validated by the tags directory's
    /// modification time: adding or removing a tag renames an entry in or out of that directory,
    /// which moves its time on, so a paged walk of thousands of tags lists the directory once, and
    /// another process writing the same storage invalidates the entry just the same.
    /// </summary>
    private readonly ConcurrentDictionary<string, (DateTimeOffset ModifiedAt, string[] Tags)> _listings = new(StringComparer.Ordinal);

    private readonly bool _directoryTimesTrackChanges = driver is ILocalFileDriver or ValidatingDriver { Inner: ILocalFileDriver };

    public Task<Digest?> ResolveAsync(RepositoryName name, string tag, CancellationToken cancellationToken) =>
        Links.ReadAsync(driver, StoragePaths.TagCurrentLink(name, tag), cancellationToken);

    public async Task SetAsync(RepositoryName name, string tag, Digest digest, CancellationToken cancellationToken)
    {
        // The current link first: it creates the tag's directory, so a listing can never show a
        // tag that does not resolve. A crash before the history entry loses only history.
        await Links.WriteIfChangedAsync(driver, StoragePaths.TagCurrentLink(name, tag), digest, cancellationToken);
        await Links.WriteIfChangedAsync(driver, StoragePaths.TagIndexLink(name, tag, digest), digest, cancellationToken);
    }

    public Task<bool> DeleteAsync(RepositoryName name, string tag, CancellationToken cancellationToken) =>
        Links.DeleteIfExistsAsync(driver, StoragePaths.Tag(name, tag), cancellationToken);

    /// <summary>All tags in lexical (ordinal) order, or null when the repository does not exist.</summary>
    public async Task<IReadOnlyList<string>?> ListAsync(RepositoryName name, CancellationToken cancellationToken)
    {
        var path = StoragePaths.Tags(name);
        DateTimeOffset? modifiedAt = null;
        if (_directoryTimesTrackChanges)
        {
            try
            {
                modifiedAt = (await driver.StatAsync(path, cancellationToken)).ModifiedAt;
            }
            catch (StoragePathNotFoundException)
            {
                return await RepositoryExistsAsync(name, cancellationToken) ? [] : null;
            }

            if (_listings.TryGetValue(name.Value, out var cached) && cached.ModifiedAt == modifiedAt)
            {
                return cached.Tags;
            }
        }

        IReadOnlyList<string> entries;
        try
        {
            entries = await driver.ListAsync(path, cancellationToken);
        }
        catch (StoragePathNotFoundException)
        {
            return await RepositoryExistsAsync(name, cancellationToken) ? [] : null;
        }

        var tags = new string[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            tags[i] = Links.LastSegment(entries[i]);
        }

        Array.Sort(tags, StringComparer.Ordinal);

        // Only a directory untouched for a second is cached: file times are coarser than the
        // clock, so a change within the same tick could otherwise leave the same time behind.
        if (modifiedAt is { } stamp && stamp < DateTimeOffset.UtcNow.AddSeconds(-1))
        {
            if (_listings.Count >= MaxCachedListings)
            {
                _listings.Clear();
            }

            _listings[name.Value] = (stamp, tags);
        }

        return tags;
    }

    /// <summary>Every tag whose current link points at <paramref name="digest"/>.</summary>
    public async Task<IReadOnlyList<string>> TagsOfAsync(RepositoryName name, Digest digest, CancellationToken cancellationToken)
    {
        var tags = await ListAsync(name, cancellationToken) ?? [];
        var resolved = await Task.WhenAll(tags.Select(async tag => (tag, digest: await ResolveAsync(name, tag, cancellationToken))));
        return [.. resolved.Where(r => r.digest == digest).Select(r => r.tag)];
    }

    /// <summary>
    /// True when the repository has content of its own. The directory of a parent name
    /// (<c>library</c> for <c>library/app</c>) exists too, but only a repository holds the
    /// underscore directories.
    /// </summary>
    public async Task<bool> RepositoryExistsAsync(RepositoryName name, CancellationToken cancellationToken)
    {
        var children = await Links.ListOrEmptyAsync(driver, StoragePaths.Repository(name), cancellationToken);
        return children.Any(child => Links.LastSegment(child).StartsWith('_'));
    }
}
