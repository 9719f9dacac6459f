using Berth.Core;
using Berth.Storage.Drivers;

namespace Berth.Storage;

/// <summary>Tags: <c>_manifests/tags/&lt;tag&gt;/current/link</c> plus the history under <c>index/</c>.</summary>
/// <remarks>
/// Sorted tag lists are cached. On the local filesystem a list is validated by the tags directory's modification time
/// (adding or removing a tag renames an entry in or out of it). On storage without directory times (S3), where a list
/// of thousands of tags is several listing requests, it is keyed by a version token per repository,
/// <c>_berth/tag-lists/&lt;name&gt;/version</c> (outside <c>repositories/</c>), which Berth rewrites whenever it adds
/// or removes a tag: an unchanged list costs one GET, and every replica sees a change at once. Tags that another
/// program (registry:2 on the same bucket) adds appear within <see cref="CatalogStore.RemoteFullWalkInterval"/>.
/// A garbage collection always lists afresh.
/// </remarks>
public sealed class TagStore(IStorageDriver driver)
{
    /// <summary>How long a validated remote list answers the continuation pages of a paged walk.</summary>
    public static readonly TimeSpan ContinuationWindow = TimeSpan.FromSeconds(2);

    private const int MaxCachedListings = 1024;

    private readonly DirectoryListingCache<string[]> _listings = new(driver, MaxCachedListings, SortedNames);

    private readonly bool _remote = driver is not (ILocalFileDriver or ValidatingDriver { Inner: ILocalFileDriver });

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, RemoteListing> _remoteListings = new(StringComparer.Ordinal);

    /// <summary>
    /// Raised after this process added, moved or removed a tag of a repository. Readers that keep views of tags (the
    /// web UI) drop theirs at once; what other processes change reaches them by their own revalidation.
    /// </summary>
    public event Action<RepositoryName, string>? TagsChanged;

    public Task<Digest?> ResolveAsync(RepositoryName name, string tag, CancellationToken cancellationToken) =>
        Links.ReadAsync(driver, StoragePaths.TagCurrentLink(name, tag), cancellationToken);

    public async Task SetAsync(RepositoryName name, string tag, Digest digest, CancellationToken cancellationToken)
    {
        // The current link first: it creates the tag's directory, so a listing can never show a
        // tag that does not resolve. A crash before the history entry loses only history.
        var current = StoragePaths.TagCurrentLink(name, tag);
        var previous = await Links.ReadAsync(driver, current, cancellationToken);
        if (previous != digest)
        {
            await Links.WriteAsync(driver, current, digest, cancellationToken);
            TagsChanged?.Invoke(name, tag);
        }

        if (previous is null)
        {
            await ListChangedAsync(name, cancellationToken);
        }

        var history = StoragePaths.TagIndexLink(name, tag, digest);
        if (previous == digest)
        {
            // A re-push of the same tag: the history entry is there unless something removed it.
            await Links.WriteIfChangedAsync(driver, history, digest, cancellationToken);
        }
        else
        {
            // A new or moved tag: the entry is usually missing, and reading a missing object first costs a failed read
            // (on S3 a 404 the SDK turns into an exception) to save nothing.
            await Links.WriteAsync(driver, history, digest, cancellationToken);
        }
    }

    public async Task<bool> DeleteAsync(RepositoryName name, string tag, CancellationToken cancellationToken)
    {
        var deleted = await Links.DeleteIfExistsAsync(driver, StoragePaths.Tag(name, tag), cancellationToken);
        if (deleted)
        {
            TagsChanged?.Invoke(name, tag);
            await ListChangedAsync(name, cancellationToken);
        }

        return deleted;
    }

    /// <summary>All tags in lexical (ordinal) order, or null when the repository does not exist.</summary>
    /// <param name="name">The repository.</param>
    /// <param name="fresh">List storage even where a cached list would be trusted (garbage collection).</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <param name="continuation">
    /// The request continues a paged walk (it names <c>last</c>): on remote storage a list validated within the last
    /// <see cref="ContinuationWindow"/> is trusted without asking for the version again, so a walk of 50 pages costs
    /// one round trip to the store instead of 50. The walk's first page always validates, so a client that adds a tag
    /// and then lists sees it.
    /// </param>
    public async Task<IReadOnlyList<string>?> ListAsync(RepositoryName name, CancellationToken cancellationToken, bool fresh = false,
        bool continuation = false)
    {
        var tags = _remote
            ? await RemoteListAsync(name, fresh, continuation, cancellationToken)
            : await _listings.GetAsync(StoragePaths.Tags(name), cancellationToken);
        return tags ?? (await RepositoryExistsAsync(name, cancellationToken) ? [] : null);
    }

    private async Task<string[]?> RemoteListAsync(RepositoryName name, bool fresh, bool continuation, CancellationToken cancellationToken)
    {
        if (!fresh && continuation && _remoteListings.TryGetValue(name.Value, out var recent)
            && System.Diagnostics.Stopwatch.GetElapsedTime(Volatile.Read(ref recent.ValidatedAt)) < ContinuationWindow)
        {
            return recent.Tags;
        }

        // Read before listing: a tag added during the listing moves the version past what is cached with it.
        var validatedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var version = await ReadVersionAsync(name, cancellationToken);
        if (!fresh && _remoteListings.TryGetValue(name.Value, out var cached) && cached.Version == version
            && System.Diagnostics.Stopwatch.GetElapsedTime(cached.ListedAt) < CatalogStore.RemoteFullWalkInterval)
        {
            Volatile.Write(ref cached.ValidatedAt, validatedAt);
            return cached.Tags;
        }

        var listedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        string[] tags;
        try
        {
            tags = SortedNames(await driver.ListAsync(StoragePaths.Tags(name), cancellationToken));
        }
        catch (StoragePathNotFoundException)
        {
            _remoteListings.TryRemove(name.Value, out _);
            return null;
        }

        if (_remoteListings.Count >= MaxCachedListings)
        {
            _remoteListings.Clear();
        }

        _remoteListings[name.Value] = new RemoteListing(version, listedAt, tags) { ValidatedAt = validatedAt };
        return tags;
    }

    private async Task<string> ReadVersionAsync(RepositoryName name, CancellationToken cancellationToken)
    {
        try
        {
            return System.Text.Encoding.ASCII.GetString(await driver.GetContentAsync(VersionPath(name), 64, cancellationToken));
        }
        catch (StoragePathNotFoundException)
        {
            return "";
        }
    }

    /// <summary>After a tag was added or removed: on remote storage, a new version for every replica's cached list.</summary>
    private async Task ListChangedAsync(RepositoryName name, CancellationToken cancellationToken)
    {
        if (!_remote)
        {
            return;
        }

        _remoteListings.TryRemove(name.Value, out _);
        await driver.PutContentAsync(VersionPath(name), System.Text.Encoding.ASCII.GetBytes(Guid.NewGuid().ToString("N")), cancellationToken);
    }

    private static string VersionPath(RepositoryName name) => $"{StoragePaths.Root}/_berth/tag-lists/{name.Value}/version";

    /// <summary>A remote repository's sorted tags, with the version token they were listed under.</summary>
    private sealed record RemoteListing(string Version, long ListedAt, string[] Tags)
    {
        /// <summary>When the version was last read and found unchanged (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
        public long ValidatedAt;
    }

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
