using Berth.Core;
using Berth.Storage.Drivers;

namespace Berth.Storage;

/// <summary>Tags: <c>_manifests/tags/&lt;tag&gt;/current/link</c> plus the history under <c>index/</c>.</summary>
public sealed class TagStore(IStorageDriver driver)
{
    private const int MaxCachedListings = 1024;

    /// <summary>
    /// Sorted tag lists of local-filesystem repositories: adding or removing a tag renames an entry in or out of the
    /// tags directory, so a paged walk of thousands of tags lists the directory once.
    /// </summary>
    private readonly DirectoryListingCache<string[]> _listings = new(driver, MaxCachedListings, SortedNames);

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
    public async Task<IReadOnlyList<string>?> ListAsync(RepositoryName name, CancellationToken cancellationToken) =>
        await _listings.GetAsync(StoragePaths.Tags(name), cancellationToken)
        ?? (await RepositoryExistsAsync(name, cancellationToken) ? [] : null);

    private static string[] SortedNames(IReadOnlyList<string> entries)
    {
        var names = new string[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            names[i] = Links.LastSegment(entries[i]);
        }

        Array.Sort(names, StringComparer.Ordinal);
        return names;
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
