namespace Berth.Storage.S3;

/// <summary>
/// How the AWS SDK computes request checksums and validates response checksums (Berth's
/// <c>storage.s3.checksums</c>).
/// </summary>
public enum S3ChecksumMode
{
    /// <summary>
    /// Only for operations whose API requires one (<c>when_required</c>). The default: many
    /// S3-compatible servers, Ceph RGW among them, reject the SDK's newer default checksum trailers.
    /// </summary>
    WhenRequired,

    /// <summary>For every operation that supports one (<c>when_supported</c>, the SDK's own default; Amazon S3 accepts it).</summary>
    WhenSupported,
}

/// <summary>
/// The settings of <see cref="S3Driver"/>: registry:2's <c>storage.s3</c> keys, with its defaults, plus
/// Berth's <c>checksums</c> and the redirect expiry. Call <see cref="Validate"/> (as
/// <see cref="S3Driver.Create"/> does) to check the ranges registry:2 enforces.
/// </summary>
public sealed record S3DriverOptions
{
    /// <summary>S3's smallest multipart part (except the last), and registry:2's smallest <c>chunksize</c>.</summary>
    public const long MinimumChunkSize = 5L * 1024 * 1024;

    /// <summary>S3's largest part, and registry:2's largest <c>chunksize</c>.</summary>
    public const long MaximumChunkSize = 5L * 1024 * 1024 * 1024;

    /// <summary>
    /// The largest write buffer the driver allocates (the shared array pool's largest bucket). A larger
    /// <see cref="ChunkSize"/> is accepted, as registry:2 accepts it, and parts are cut at this size.
    /// </summary>
    public const int MaximumBufferSize = 1024 * 1024 * 1024;

    /// <summary>registry:2's default <c>chunksize</c>: 10 MiB.</summary>
    public const long DefaultChunkSize = 2 * MinimumChunkSize;

    /// <summary>registry:2's default <c>multipartcopychunksize</c> and <c>multipartcopythresholdsize</c>: 32 MiB.</summary>
    public const long DefaultMultipartCopySize = 32L * 1024 * 1024;

    /// <summary>The storage class value that sends no storage class at all (for servers that do not support them).</summary>
    public const string NoStorageClass = "NONE";

    /// <summary>How long a presigned redirect stays valid by default: registry:2's 20 minutes.</summary>
    public static readonly TimeSpan DefaultRedirectExpiry = TimeSpan.FromMinutes(20);

    /// <summary>The longest expiry SigV4 presigned URLs allow.</summary>
    public static readonly TimeSpan MaximumRedirectExpiry = TimeSpan.FromDays(7);

    /// <summary>The storage classes registry:2 accepts (all with instant retrieval).</summary>
    public static readonly IReadOnlyList<string> StorageClasses =
        [NoStorageClass, "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "OUTPOSTS", "GLACIER_IR", "EXPRESS_ONEZONE"];

    /// <summary>The canned ACLs registry:2 accepts for <c>objectacl</c>.</summary>
    public static readonly IReadOnlyList<string> ObjectAcls =
        ["private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read", "bucket-owner-read", "bucket-owner-full-control"];

    /// <summary><c>accesskey</c>. With <see cref="SecretKey"/>; when either is empty the default AWS credential chain is used
    /// (environment, shared profile, web identity, container and instance roles).</summary>
    public string? AccessKey { get; init; }

    /// <summary><c>secretkey</c>.</summary>
    public string? SecretKey { get; init; }

    /// <summary><c>region</c>; required unless <see cref="RegionEndpoint"/> is set (then it is only the signing region, default us-east-1).</summary>
    public string? Region { get; init; }

    /// <summary><c>regionendpoint</c>: the endpoint of an S3-compatible server, e.g. <c>http://minio:9000</c>. Without a
    /// scheme, <see cref="Secure"/> picks https or http.</summary>
    public string? RegionEndpoint { get; init; }

    /// <summary><c>bucket</c> (required).</summary>
    public string Bucket { get; init; } = string.Empty;

    /// <summary><c>rootdirectory</c>: a key prefix for everything the registry stores. As in registry:2, an object's key
    /// is the root without trailing slashes followed by the storage path, without leading slashes.</summary>
    public string? RootDirectory { get; init; }

    /// <summary>
    /// <c>forcepathstyle</c>: address the bucket as a path (<c>endpoint/bucket/key</c>) rather than a host name. Null
    /// (the key absent) means registry:2 2.8's behaviour: path style exactly when <see cref="RegionEndpoint"/> is set,
    /// which is what configs written for MinIO or Ceph with registry:2 rely on.
    /// </summary>
    public bool? ForcePathStyle { get; init; }

    /// <summary><c>secure</c>: https (default true) when <see cref="RegionEndpoint"/> names no scheme.</summary>
    public bool Secure { get; init; } = true;

    /// <summary><c>skipverify</c>: do not verify the server's TLS certificate.</summary>
    public bool SkipVerify { get; init; }

    /// <summary><c>v4auth</c> (default true). Berth always signs with SigV4; false is accepted for registry:2 configs and logged.</summary>
    public bool V4Auth { get; init; } = true;

    /// <summary><c>chunksize</c>: the multipart part size writers upload, 5 MiB to 5 GiB (default 10 MiB). A writer whose
    /// object outgrows 4 MiB (or half a part) holds up to two buffers of this size, one part on its way while the next
    /// fills; a smaller object is buffered in arrays that grow with it.</summary>
    public long ChunkSize { get; init; } = DefaultChunkSize;

    /// <summary><c>multipartcopychunksize</c>: the part size of server-side multipart copies, 5 MiB to 5 GiB (default 32 MiB).</summary>
    public long MultipartCopyChunkSize { get; init; } = DefaultMultipartCopySize;

    /// <summary><c>multipartcopymaxconcurrency</c>: parts copied at once (default 100, at least 1).</summary>
    public long MultipartCopyMaxConcurrency { get; init; } = 100;

    /// <summary><c>multipartcopythresholdsize</c>: objects larger than this are moved with a multipart copy, up to 5 GiB
    /// (default 32 MiB).</summary>
    public long MultipartCopyThresholdSize { get; init; } = DefaultMultipartCopySize;

    /// <summary><c>storageclass</c> (default STANDARD; <see cref="NoStorageClass"/> sends none).</summary>
    public string StorageClass { get; init; } = "STANDARD";

    /// <summary><c>encrypt</c>: server-side encryption, with S3-managed keys or, with <see cref="KeyId"/>, KMS.</summary>
    public bool Encrypt { get; init; }

    /// <summary><c>keyid</c>: the KMS key for <see cref="Encrypt"/>; ignored (and logged) without it.</summary>
    public string? KeyId { get; init; }

    /// <summary><c>objectacl</c>: the canned ACL of new objects (default private, which is sent as no ACL header at all,
    /// so buckets with ACLs disabled accept the writes).</summary>
    public string ObjectAcl { get; init; } = "private";

    /// <summary><c>useragent</c>: an application id added to the SDK's User-Agent (at most 50 characters).</summary>
    public string? UserAgent { get; init; }

    /// <summary><c>accelerate</c>: use S3 Transfer Acceleration.</summary>
    public bool Accelerate { get; init; }

    /// <summary><c>usedualstack</c>: use the dual-stack (IPv6) endpoint.</summary>
    public bool UseDualStack { get; init; }

    /// <summary><c>usefipsendpoint</c>: use the FIPS endpoint.</summary>
    public bool UseFipsEndpoint { get; init; }

    /// <summary><c>redirectendpoint</c>: the scheme and host presigned redirect URLs point at instead of the S3 endpoint
    /// (the URLs are signed for that host).</summary>
    public Uri? RedirectEndpoint { get; init; }

    /// <summary>Berth's <c>checksums</c>: <see cref="S3ChecksumMode.WhenRequired"/> (default) or <see cref="S3ChecksumMode.WhenSupported"/>.</summary>
    public S3ChecksumMode Checksums { get; init; } = S3ChecksumMode.WhenRequired;

    /// <summary>How long presigned redirect URLs stay valid (default 20 minutes, at most 7 days).</summary>
    public TimeSpan RedirectExpiry { get; init; } = DefaultRedirectExpiry;

    /// <summary>The problems with these options, each naming its key; empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Bucket))
        {
            errors.Add("bucket: required");
        }

        if (string.IsNullOrWhiteSpace(Region) && string.IsNullOrWhiteSpace(RegionEndpoint))
        {
            errors.Add("region: required unless regionendpoint is set");
        }

        if (!string.IsNullOrWhiteSpace(RegionEndpoint) && S3Driver.EndpointUri(RegionEndpoint, Secure) is null)
        {
            errors.Add($"regionendpoint: '{RegionEndpoint}' is not an http or https URL");
        }

        CheckRange(errors, "chunksize", ChunkSize, MinimumChunkSize, MaximumChunkSize);
        CheckRange(errors, "multipartcopychunksize", MultipartCopyChunkSize, MinimumChunkSize, MaximumChunkSize);
        CheckRange(errors, "multipartcopymaxconcurrency", MultipartCopyMaxConcurrency, 1, long.MaxValue);
        CheckRange(errors, "multipartcopythresholdsize", MultipartCopyThresholdSize, 0, MaximumChunkSize);
        if (!StorageClasses.Contains(StorageClass.ToUpperInvariant(), StringComparer.Ordinal))
        {
            errors.Add($"storageclass: must be one of {string.Join(", ", StorageClasses)}, not '{StorageClass}'");
        }

        if (!ObjectAcls.Contains(ObjectAcl, StringComparer.Ordinal))
        {
            errors.Add($"objectacl: must be one of {string.Join(", ", ObjectAcls)}, not '{ObjectAcl}'");
        }

        if (UserAgent is { Length: > 50 })
        {
            errors.Add("useragent: at most 50 characters");
        }

        if (RedirectEndpoint is not null && (!RedirectEndpoint.IsAbsoluteUri
            || (RedirectEndpoint.Scheme != Uri.UriSchemeHttp && RedirectEndpoint.Scheme != Uri.UriSchemeHttps)
            || RedirectEndpoint.AbsolutePath != "/" || RedirectEndpoint.Query.Length > 0))
        {
            errors.Add("redirectendpoint: must be an http or https scheme and host, without a path or query");
        }

        if (RedirectExpiry <= TimeSpan.Zero || RedirectExpiry > MaximumRedirectExpiry)
        {
            errors.Add($"redirect expiry: must be more than zero and at most 7 days, not {RedirectExpiry}");
        }

        return errors;
    }

    private static void CheckRange(List<string> errors, string key, long value, long minimum, long maximum)
    {
        if (value < minimum || value > maximum)
        {
            errors.Add(maximum == long.MaxValue
                ? $"{key}: must be at least {minimum}, not {value}"
                : $"{key}: must be between {minimum} and {maximum}, not {value}");
        }
    }
}
