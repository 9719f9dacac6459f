using Berth.Core;
using Berth.Storage.Maintenance;
using Berth.Ui.Browsing;
using Berth.Ui.Security;

namespace Berth.Ui.Components;

/// <summary>What every page knows: who is looking, where the UI is mounted and how clients name this registry.</summary>
/// <param name="Viewer">The visitor.</param>
/// <param name="Base">The path base (<c>http.prefix</c>), "" at the root.</param>
/// <param name="RegistryHost">host[:port] as <c>docker pull</c> names this registry.</param>
/// <param name="Path">The current page's path and query, for the sign-in link to return to.</param>
public sealed record PageContext(Viewer Viewer, string Base, string RegistryHost, string Path)
{
    public string Link(string path) => Base + path;

    public string RepositoryLink(string repository) => Base + "/r/" + repository;

    public string TagLink(string repository, string tag) => Base + "/r/" + repository + ":" + tag;

    public string DigestLink(string repository, Digest digest) => Base + "/r/" + repository + "@" + digest;
}

/// <summary>One row of the repository list.</summary>
public sealed record RepositoryRow(string Name, int? Tags, DateTimeOffset? LastPush, RepositoryUsage? Usage);

public sealed record RepositoriesModel(PageContext Page, string? Filter, int PageNumber, int PageCount, int Total, IReadOnlyList<RepositoryRow> Rows,
    StorageUsageReport? Usage, bool CatalogEmpty);

/// <summary>One row of a repository's tag table; the summary is missing when the manifest vanished meanwhile.</summary>
public sealed record TagTableRow(TagRow Tag, ImageSummary? Summary);

public sealed record RepositoryModel(PageContext Page, string Name, RepositoryTags Tags, IReadOnlyList<TagTableRow> Rows, TagOrder Order,
    string? Filter, int PageNumber, int PageCount, int Matching, RepositoryUsage? Usage, DateTimeOffset? UsageTakenAt, bool MayDelete,
    string? DeleteUnavailable, string? Notice);

/// <summary>A child of an index, with its summary when the repository holds it.</summary>
public sealed record PlatformRow(PlatformEntry Entry, ImageSummary? Summary);

public sealed record ImageModel(PageContext Page, string Name, string? Tag, ImageSummary Summary, ImageConfig? Config, IReadOnlyList<PlatformRow> Platforms,
    IReadOnlyList<ImageSummary> Referrers, IReadOnlyList<string> Tags, bool MayDelete, string? DeleteUnavailable);

/// <summary>What a delete would remove, shown before it happens.</summary>
/// <param name="CollectNow">Online garbage collection runs in this process and can be asked to run right after the delete.</param>
public sealed record DeleteModel(PageContext Page, string Name, string? Tag, Digest Digest, IReadOnlyList<string> TagsGoing, string GarbageCollectionNote,
    bool CollectNow);

/// <param name="SeesEverything">The visitor may pull every repository, so registry-wide totals may be shown.</param>
/// <param name="VisibleBytes">Bytes of the visible repositories, each blob counted once.</param>
/// <param name="VisibleBlobs">Distinct blobs of the visible repositories.</param>
public sealed record UsageModel(PageContext Page, StorageUsageReport? Report, IReadOnlyList<RepositoryUsage> Rows, int Total, int PageNumber, int PageCount,
    bool SeesEverything, long VisibleBytes, int VisibleBlobs);

public sealed record SignInModel(PageContext Page, string? User, string? Error, string ReturnTo);

public sealed record MessageModel(PageContext? Page, string Title, string Message);
