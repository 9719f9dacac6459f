namespace Berth.Api;

/// <summary>The resource a <c>/v2</c> request addresses.</summary>
public enum RouteKind
{
    NotFound,
    Base,
    Catalog,
    Tags,
    Manifest,
    Blob,
    UploadStart,
    Upload,
    Referrers,
}

/// <summary>
/// A parsed <c>/v2</c> path. <see cref="Name"/> is the raw repository name (validated later, so a
/// bad name gets NAME_INVALID rather than a 404); <see cref="Argument"/> is the reference,
/// digest or upload id after the resource keyword.
/// </summary>
public readonly record struct RegistryRoute(RouteKind Kind, string Name = "", string Argument = "")
{
    /// <summary>
    /// Parses the path below <c>/v2</c>. Repository names contain <c>/</c>, so the resource is
    /// found from the end: the last keyword whose remainder has no further <c>/</c> wins.
    /// </summary>
    public static RegistryRoute Parse(string path)
    {
        if (path.Length == 0 || path == "/")
        {
            return new(RouteKind.Base);
        }

        if (path[0] != '/')
        {
            return new(RouteKind.NotFound);
        }

        var rest = path[1..];
        if (rest is "_catalog" or "_catalog/")
        {
            return new(RouteKind.Catalog);
        }

        if (rest.EndsWith("/tags/list", StringComparison.Ordinal))
        {
            return new(RouteKind.Tags, rest[..^"/tags/list".Length]);
        }

        if (rest.EndsWith("/blobs/uploads", StringComparison.Ordinal))
        {
            return new(RouteKind.UploadStart, rest[..^"/blobs/uploads".Length]);
        }

        if (rest.EndsWith("/blobs/uploads/", StringComparison.Ordinal))
        {
            return new(RouteKind.UploadStart, rest[..^"/blobs/uploads/".Length]);
        }

        if (TrySplit(rest, "/blobs/uploads/", out var name, out var argument))
        {
            return new(RouteKind.Upload, name, argument);
        }

        if (TrySplit(rest, "/manifests/", out name, out argument))
        {
            return new(RouteKind.Manifest, name, argument);
        }

        if (TrySplit(rest, "/blobs/", out name, out argument))
        {
            return new(RouteKind.Blob, name, argument);
        }

        if (TrySplit(rest, "/referrers/", out name, out argument))
        {
            return new(RouteKind.Referrers, name, argument);
        }

        return new(RouteKind.NotFound);
    }

    private static bool TrySplit(string path, string keyword, out string name, out string argument)
    {
        var index = path.LastIndexOf(keyword, StringComparison.Ordinal);
        if (index > 0)
        {
            argument = path[(index + keyword.Length)..];
            if (argument.Length > 0 && !argument.Contains('/', StringComparison.Ordinal))
            {
                name = path[..index];
                return true;
            }
        }

        name = argument = "";
        return false;
    }
}
