namespace Berth.Core.Errors;

/// <summary>
/// One entry of the registry's error-code table: the code string clients match on, the
/// human message of the spec, and the HTTP status it is answered with.
/// </summary>
public sealed record ErrorCode(string Code, string Message, int Status)
{
    public static readonly ErrorCode BlobUnknown = new("BLOB_UNKNOWN", "blob unknown to registry", 404);
    public static readonly ErrorCode BlobUploadInvalid = new("BLOB_UPLOAD_INVALID", "blob upload invalid", 400);
    public static readonly ErrorCode BlobUploadUnknown = new("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", 404);
    public static readonly ErrorCode DigestInvalid = new("DIGEST_INVALID", "provided digest did not match uploaded content", 400);
    public static readonly ErrorCode ManifestBlobUnknown = new("MANIFEST_BLOB_UNKNOWN", "manifest references a manifest or blob unknown to registry", 404);
    public static readonly ErrorCode ManifestInvalid = new("MANIFEST_INVALID", "manifest invalid", 400);
    public static readonly ErrorCode ManifestUnknown = new("MANIFEST_UNKNOWN", "manifest unknown to registry", 404);
    public static readonly ErrorCode NameInvalid = new("NAME_INVALID", "invalid repository name", 400);
    public static readonly ErrorCode NameUnknown = new("NAME_UNKNOWN", "repository name not known to registry", 404);
    public static readonly ErrorCode SizeInvalid = new("SIZE_INVALID", "provided length did not match content length", 400);
    public static readonly ErrorCode TagInvalid = new("TAG_INVALID", "manifest tag did not match URI", 400);
    public static readonly ErrorCode Unauthorized = new("UNAUTHORIZED", "authentication required", 401);
    public static readonly ErrorCode Denied = new("DENIED", "requested access to the resource is denied", 403);
    public static readonly ErrorCode Unsupported = new("UNSUPPORTED", "the operation is unsupported", 405);
    public static readonly ErrorCode TooManyRequests = new("TOOMANYREQUESTS", "too many requests", 429);
    public static readonly ErrorCode PaginationNumberInvalid = new("PAGINATION_NUMBER_INVALID", "invalid number of results requested", 400);
    /// <summary>An upload chunk out of order or with a malformed range (registry:2's code for this 416).</summary>
    public static readonly ErrorCode RangeInvalid = new("BLOB_UPLOAD_INVALID", "invalid content range", 416);

    /// <summary>A blob read whose Range lies outside the blob.</summary>
    public static readonly ErrorCode RangeNotSatisfiable = new("SIZE_INVALID", "requested range not satisfiable", 416);
    public static readonly ErrorCode ManifestTooLarge = new("SIZE_INVALID", "manifest exceeds the size limit", 413);
    /// <summary>A path that is no endpoint of the API; the spec's table has no closer code than UNSUPPORTED.</summary>
    public static readonly ErrorCode NotFound = new("UNSUPPORTED", "the requested endpoint does not exist", 404);
    public static readonly ErrorCode Unavailable = new("UNAVAILABLE", "service unavailable", 503);
    public static readonly ErrorCode Unknown = new("UNKNOWN", "unknown error", 500);

    /// <summary>Builds the exception that carries this code to the HTTP error mapper.</summary>
    public RegistryException With(object? detail = null, string? message = null) => new(this, message, detail);
}
