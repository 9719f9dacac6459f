using Berth.Core;

namespace Berth.Storage;

/// <summary>
/// Distribution's storage layout, byte for byte, so a registry:2 volume is served unchanged:
/// <code>
/// /docker/registry/v2/
///   blobs/&lt;alg&gt;/&lt;hex[0:2]&gt;/&lt;hex&gt;/data            all content, manifests included
///   repositories/&lt;name&gt;/
///     _layers/&lt;alg&gt;/&lt;hex&gt;/link                     blob is part of the repository
///     _manifests/revisions/&lt;alg&gt;/&lt;hex&gt;/link         manifest is part of the repository
///     _manifests/tags/&lt;tag&gt;/current/link             the tag's digest
///     _manifests/tags/&lt;tag&gt;/index/&lt;alg&gt;/&lt;hex&gt;/link  every digest the tag has had
///     _uploads/&lt;id&gt;/data, startedat                 an upload in progress (cancelled: one that was cancelled)
///     _referrers/&lt;alg&gt;/&lt;subject hex&gt;/&lt;alg&gt;/&lt;hex&gt;/link   Berth's referrers index
/// </code>
/// A link file holds the digest string, no newline. Repository path components never start with
/// <c>_</c>, so the underscore directories cannot collide with nested repository names.
/// </summary>
public static class StoragePaths
{
    public const string Root = "/docker/registry/v2";
    public const string RepositoriesRoot = Root + "/repositories";
    public const string BlobsRoot = Root + "/blobs";

    public static string BlobData(Digest digest) => $"{BlobDirectory(digest)}/data";

    public static string BlobDirectory(Digest digest) =>
        $"{BlobsRoot}/{digest.Algorithm}/{digest.Encoded[..2]}/{digest.Encoded}";

    public static string Repository(RepositoryName name) => $"{RepositoriesRoot}/{name.Value}";

    public static string LayerLink(RepositoryName name, Digest digest) =>
        $"{Repository(name)}/_layers/{digest.Algorithm}/{digest.Encoded}/link";

    public static string LayerLinkDirectory(RepositoryName name, Digest digest) =>
        $"{Repository(name)}/_layers/{digest.Algorithm}/{digest.Encoded}";

    public static string ManifestRevisionLink(RepositoryName name, Digest digest) =>
        $"{ManifestRevisionDirectory(name, digest)}/link";

    public static string ManifestRevisionDirectory(RepositoryName name, Digest digest) =>
        $"{Repository(name)}/_manifests/revisions/{digest.Algorithm}/{digest.Encoded}";

    public static string Tags(RepositoryName name) => $"{Repository(name)}/_manifests/tags";

    public static string Tag(RepositoryName name, string tag) => $"{Tags(name)}/{tag}";

    public static string TagCurrentLink(RepositoryName name, string tag) => $"{Tag(name, tag)}/current/link";

    public static string TagIndexLink(RepositoryName name, string tag, Digest digest) =>
        $"{Tag(name, tag)}/index/{digest.Algorithm}/{digest.Encoded}/link";

    public static string Uploads(RepositoryName name) => $"{Repository(name)}/_uploads";

    public static string Upload(RepositoryName name, string id) => $"{Uploads(name)}/{id}";

    public static string UploadData(RepositoryName name, string id) => $"{Upload(name, id)}/data";

    public static string UploadStartedAt(RepositoryName name, string id) => $"{Upload(name, id)}/startedat";

    /// <summary>Left in place of <c>startedat</c> when an upload is cancelled (Berth's own; registry:2 purges it by age).</summary>
    public static string UploadCancelled(RepositoryName name, string id) => $"{Upload(name, id)}/cancelled";

    public static string Referrers(RepositoryName name, Digest subject) =>
        $"{Repository(name)}/_referrers/{subject.Algorithm}/{subject.Encoded}";

    public static string ReferrerLink(RepositoryName name, Digest subject, Digest referrer) =>
        $"{Referrers(name, subject)}/{referrer.Algorithm}/{referrer.Encoded}/link";
}
