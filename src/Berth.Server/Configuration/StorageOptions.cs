namespace Berth.Server.Configuration;

/// <summary>
/// <c>storage</c>: exactly one driver section (<c>filesystem</c>, <c>inmemory</c>, <c>s3</c> or <c>azure</c>) next to the
/// registry-wide keys <c>delete</c>, <c>redirect</c>, <c>cache</c>, <c>maintenance</c> and <c>tag</c>.
/// </summary>
public sealed record StorageOptions
{
    /// <summary>The driver name for local disk storage.</summary>
    public const string FilesystemDriver = "filesystem";

    /// <summary>The driver name for process memory (tests and throwaway registries).</summary>
    public const string InMemoryDriver = "inmemory";

    /// <summary>The driver name for S3 and S3-compatible object storage.</summary>
    public const string S3Driver = "s3";

    /// <summary>The driver name for Azure Blob Storage.</summary>
    public const string AzureDriver = "azure";

    // Distribution registers its S3 driver under both names.
    private const string S3DriverAlias = "s3aws";

    // Keys of the storage section that configure the registry rather than name a driver.
    private static readonly string[] RegistryKeys = ["delete", "redirect", "cache", "maintenance", "tag", "mount"];

    /// <summary>
    /// The selected driver: <see cref="FilesystemDriver"/> (the default when the section names none),
    /// <see cref="InMemoryDriver"/>, <see cref="S3Driver"/> or <see cref="AzureDriver"/>.
    /// </summary>
    public string Driver { get; init; } = FilesystemDriver;

    /// <summary>
    /// <c>storage.filesystem</c>. Always populated, with defaults when another driver is selected, so callers
    /// need no null check.
    /// </summary>
    public FilesystemStorageOptions Filesystem { get; init; } = new();

    /// <summary><c>storage.s3</c>; null unless <see cref="Driver"/> is <see cref="S3Driver"/>.</summary>
    public S3StorageOptions? S3 { get; init; }

    /// <summary><c>storage.azure</c>; null unless <see cref="Driver"/> is <see cref="AzureDriver"/>.</summary>
    public AzureStorageOptions? Azure { get; init; }

    /// <summary><c>storage.delete</c>.</summary>
    public StorageDeleteOptions Delete { get; init; } = new();

    /// <summary><c>storage.redirect</c>.</summary>
    public StorageRedirectOptions Redirect { get; init; } = new();

    /// <summary><c>storage.cache</c>.</summary>
    public StorageCacheOptions Cache { get; init; } = new();

    /// <summary><c>storage.mount</c> (Berth's own key).</summary>
    public StorageMountOptions Mount { get; init; } = new();

    /// <summary><c>storage.maintenance</c>.</summary>
    public StorageMaintenanceOptions Maintenance { get; init; } = new();

    internal static StorageOptions Read(SectionReader section)
    {
        var options = new StorageOptions
        {
            Delete = section["delete"].AsSection(StorageDeleteOptions.Read),
            Redirect = section["redirect"].AsSection(StorageRedirectOptions.Read),
            Cache = section["cache"].AsSection(StorageCacheOptions.Read),
            Mount = section["mount"].AsSection(StorageMountOptions.Read),
            Maintenance = section["maintenance"].AsSection(StorageMaintenanceOptions.Read),
        };

        section["tag"].AsSection(tag =>
        {
            tag.Ignore("concurrencylimit", "Berth has no limit to set: it resolves all of a repository's tags at once when a manifest is deleted");
            return true;
        });

        var drivers = section.PresentKeys.Where(key => !RegistryKeys.Contains(key, StringComparer.Ordinal)).ToList();
        if (drivers.Count > 1)
        {
            throw section.Invalid($"exactly one storage driver may be configured, found {string.Join(", ", drivers)}");
        }

        // Distribution refuses a storage section without a driver; Berth's documented default is the filesystem.
        var driver = drivers.Count == 0 ? FilesystemDriver : drivers[0];
        switch (driver)
        {
            case FilesystemDriver:
                return options with { Driver = FilesystemDriver, Filesystem = section[driver].AsSection(FilesystemStorageOptions.Read) };
            case InMemoryDriver:
                // The in-memory driver takes no parameters; reading it as a section reports any as unknown.
                section[driver].AsSection(_ => true);
                return options with { Driver = InMemoryDriver };
            case S3Driver:
            case S3DriverAlias:
                return options with { Driver = S3Driver, S3 = section[driver].AsSection(S3StorageOptions.Read) };
            case AzureDriver:
                return options with { Driver = AzureDriver, Azure = section[driver].AsSection(AzureStorageOptions.Read) };
            default:
                throw section[driver].Invalid(
                    $"the '{driver}' storage driver is not supported; use {FilesystemDriver}, {InMemoryDriver}, {S3Driver} or {AzureDriver}");
        }
    }
}

/// <summary><c>storage.filesystem</c>: blobs and metadata under a local directory.</summary>
public sealed record FilesystemStorageOptions
{
    /// <summary>Distribution's default root directory, which registry:2 images mount a volume on.</summary>
    public const string DefaultRootDirectory = "/var/lib/registry";

    /// <summary><c>storage.filesystem.rootdirectory</c> (default <c>/var/lib/registry</c>).</summary>
    public string RootDirectory { get; init; } = DefaultRootDirectory;

    internal static FilesystemStorageOptions Read(SectionReader section)
    {
        // registry:2 caps its blocking file calls so they cannot exhaust the Go runtime's threads; Berth's file
        // I/O does not take a thread per operation.
        section.Ignore("maxthreads", "Berth's file operations do not hold a thread each, so there is nothing to cap");
        return new FilesystemStorageOptions { RootDirectory = section["rootdirectory"].AsString(DefaultRootDirectory) };
    }
}

/// <summary><c>storage.s3</c>: Amazon S3 or an S3-compatible server (MinIO, Ceph, Garage...).</summary>
public sealed record S3StorageOptions
{
    /// <summary>S3's smallest multipart part size, and Distribution's minimum chunk size.</summary>
    public const long MinimumChunkSize = 5L * 1024 * 1024;

    /// <summary>S3's largest part size.</summary>
    public const long MaximumChunkSize = 5L * 1024 * 1024 * 1024;

    internal static readonly IReadOnlyList<string> StorageClasses =
        ["NONE", "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "OUTPOSTS", "GLACIER_IR", "EXPRESS_ONEZONE"];

    internal static readonly IReadOnlyList<string> ObjectAcls =
        ["private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read", "bucket-owner-read", "bucket-owner-full-control"];

    /// <summary><c>accesskey</c>; null to use the ambient AWS credentials (instance role, environment).</summary>
    public string? AccessKey { get; init; }

    /// <summary><c>secretkey</c>.</summary>
    public string? SecretKey { get; init; }

    /// <summary><c>region</c>; required unless <see cref="RegionEndpoint"/> is set.</summary>
    public string? Region { get; init; }

    /// <summary><c>regionendpoint</c>: the endpoint of an S3-compatible server.</summary>
    public string? RegionEndpoint { get; init; }

    /// <summary><c>bucket</c> (required).</summary>
    public string Bucket { get; init; } = string.Empty;

    /// <summary><c>rootdirectory</c>: a key prefix for everything the registry stores.</summary>
    public string? RootDirectory { get; init; }

    /// <summary><c>forcepathstyle</c>: address the bucket as a path rather than a host name (most S3-compatible servers need it).</summary>
    public bool? ForcePathStyle { get; init; }

    /// <summary><c>accelerate</c>: use S3 transfer acceleration.</summary>
    public bool Accelerate { get; init; }

    /// <summary><c>encrypt</c>: server-side encryption.</summary>
    public bool Encrypt { get; init; }

    /// <summary><c>keyid</c>: the KMS key for server-side encryption.</summary>
    public string? KeyId { get; init; }

    /// <summary><c>secure</c>: use HTTPS (default true).</summary>
    public bool Secure { get; init; } = true;

    /// <summary><c>skipverify</c>: do not verify the server's TLS certificate.</summary>
    public bool SkipVerify { get; init; }

    /// <summary><c>v4auth</c>: sign requests with AWS Signature Version 4 (default true).</summary>
    public bool V4Auth { get; init; } = true;

    /// <summary><c>chunksize</c>: the multipart upload part size in bytes (default 10 MiB, between 5 MiB and 5 GiB).</summary>
    public long ChunkSize { get; init; } = 2 * MinimumChunkSize;

    /// <summary><c>multipartcopychunksize</c> (default 32 MiB, between 5 MiB and 5 GiB).</summary>
    public long MultipartCopyChunkSize { get; init; } = 32L * 1024 * 1024;

    /// <summary><c>multipartcopymaxconcurrency</c> (default 100, at least 1).</summary>
    public long MultipartCopyMaxConcurrency { get; init; } = 100;

    /// <summary><c>multipartcopythresholdsize</c>: objects above this size are copied in parts (default 32 MiB, at most 5 GiB).</summary>
    public long MultipartCopyThresholdSize { get; init; } = 32L * 1024 * 1024;

    /// <summary><c>storageclass</c> (default STANDARD; NONE for servers that do not support storage classes).</summary>
    public string StorageClass { get; init; } = "STANDARD";

    /// <summary><c>objectacl</c>: the canned ACL for new objects (default private).</summary>
    public string ObjectAcl { get; init; } = "private";

    /// <summary><c>useragent</c>: a value appended to the User-Agent header.</summary>
    public string? UserAgent { get; init; }

    /// <summary><c>usedualstack</c>: use the dual-stack (IPv6) endpoint.</summary>
    public bool UseDualStack { get; init; }

    /// <summary><c>usefipsendpoint</c>: use the FIPS endpoint.</summary>
    public bool UseFipsEndpoint { get; init; }

    /// <summary><c>redirectendpoint</c>: the scheme and host presigned redirect URLs use instead of the S3 endpoint.</summary>
    public Uri? RedirectEndpoint { get; init; }

    /// <summary>
    /// <c>checksums</c> (Berth): <c>whenrequired</c> (default) sends request checksums only where the S3
    /// API demands them; <c>whensupported</c> is the AWS SDK's newer default, which Ceph RGW and other
    /// S3-compatible stores reject.
    /// </summary>
    public string Checksums { get; init; } = "whenrequired";

    /// <summary><c>redirectexpiry</c> (Berth): how long presigned blob URLs stay valid (default 20m).</summary>
    public TimeSpan RedirectExpiry { get; init; } = TimeSpan.FromMinutes(20);

    private static readonly string[] ChecksumModes = ["whenrequired", "whensupported"];

    internal static S3StorageOptions Read(SectionReader section)
    {
        var defaults = new S3StorageOptions();
        var regionEndpoint = section["regionendpoint"].AsString();
        var region = section["region"].AsString();
        if (region is null && regionEndpoint is null)
        {
            throw section["region"].Invalid("required unless storage.s3.regionendpoint is set");
        }

        var redirectEndpointValue = section["redirectendpoint"];
        var redirectEndpoint = redirectEndpointValue.AsHttpUrl();
        if (redirectEndpoint is not null && (redirectEndpoint.AbsolutePath != "/" || redirectEndpoint.Query.Length > 0))
        {
            throw redirectEndpointValue.Invalid("must be a scheme and host only, without a path or query");
        }

        // YAML reads an unquoted `off` as a boolean, which Distribution treats as "off" too.
        var logLevelValue = section["loglevel"];
        if (logLevelValue.AsString()?.ToLowerInvariant() is { } logLevel and not ("off" or "false"))
        {
            logLevelValue.Warn($"Berth does not log the S3 client's requests ('{logLevel}'); its own storage errors are logged as usual");
        }

        var v4AuthValue = section["v4auth"];
        var v4Auth = v4AuthValue.AsBool(defaults.V4Auth);
        if (!v4Auth)
        {
            v4AuthValue.Warn("Berth signs every request with AWS Signature Version 4, which every S3 service accepts");
        }

        return new S3StorageOptions
        {
            AccessKey = section["accesskey"].AsString(),
            SecretKey = section["secretkey"].AsString(),
            Region = region,
            RegionEndpoint = regionEndpoint,
            Bucket = section["bucket"].AsRequiredString("required: the bucket to store the registry in"),
            RootDirectory = section["rootdirectory"].AsString(),
            // Absent means registry:2's rule (path style exactly when regionendpoint is set), which
            // MinIO and Ceph configurations written for registry:2 rely on.
            ForcePathStyle = section["forcepathstyle"].IsSet ? section["forcepathstyle"].AsBool() : null,
            Checksums = section["checksums"].AsChoice(defaults.Checksums, ChecksumModes),
            RedirectExpiry = section["redirectexpiry"].AsDuration(defaults.RedirectExpiry),
            Accelerate = section["accelerate"].AsBool(defaults.Accelerate),
            Encrypt = section["encrypt"].AsBool(defaults.Encrypt),
            KeyId = section["keyid"].AsString(),
            Secure = section["secure"].AsBool(defaults.Secure),
            SkipVerify = section["skipverify"].AsBool(defaults.SkipVerify),
            V4Auth = v4Auth,
            ChunkSize = section["chunksize"].AsInt64(defaults.ChunkSize, MinimumChunkSize, MaximumChunkSize),
            MultipartCopyChunkSize = section["multipartcopychunksize"].AsInt64(defaults.MultipartCopyChunkSize, MinimumChunkSize, MaximumChunkSize),
            MultipartCopyMaxConcurrency = section["multipartcopymaxconcurrency"].AsInt64(defaults.MultipartCopyMaxConcurrency, minimum: 1),
            MultipartCopyThresholdSize = section["multipartcopythresholdsize"].AsInt64(defaults.MultipartCopyThresholdSize, 0, MaximumChunkSize),
            StorageClass = section["storageclass"].AsChoice(defaults.StorageClass, StorageClasses),
            ObjectAcl = section["objectacl"].AsChoice(defaults.ObjectAcl, ObjectAcls),
            UserAgent = section["useragent"].AsString(),
            UseDualStack = section["usedualstack"].AsBool(defaults.UseDualStack),
            UseFipsEndpoint = section["usefipsendpoint"].AsBool(defaults.UseFipsEndpoint),
            RedirectEndpoint = redirectEndpoint,
        };
    }
}

/// <summary>
/// <c>storage.azure</c>: Azure Blob Storage, with registry:2's keys (<c>accountname</c>, <c>accountkey</c>,
/// <c>container</c>, <c>realm</c>), Distribution 3's (<c>rootdirectory</c>, <c>credentials</c>, <c>serviceurl</c>, the copy
/// polling keys under both their release-candidate and their 3.0 names, <c>skipverify</c>) and Berth's
/// <c>legacyrootprefix</c> and <c>redirectexpiry</c>.
/// </summary>
public sealed record AzureStorageOptions
{
    /// <summary><c>credentials.type</c> for the account key.</summary>
    public const string SharedKeyCredentials = "shared_key";

    /// <summary><c>credentials.type</c> for an Entra application's client secret.</summary>
    public const string ClientSecretCredentials = "client_secret";

    /// <summary><c>credentials.type</c> for the Azure SDK's default credential chain (workload or managed identity...).</summary>
    public const string DefaultCredentials = "default_credentials";

    // Distribution's documentation shows `type: default` for managed identity, which its code does not accept; Berth does.
    private static readonly string[] CredentialTypes = [SharedKeyCredentials, ClientSecretCredentials, DefaultCredentials, "default"];

    /// <summary><c>accountname</c> (required).</summary>
    public string AccountName { get; init; } = string.Empty;

    /// <summary><c>accountkey</c>: the key of <see cref="SharedKeyCredentials"/>.</summary>
    public string? AccountKey { get; init; }

    /// <summary><c>container</c> (required).</summary>
    public string Container { get; init; } = string.Empty;

    /// <summary><c>realm</c> (default <c>core.windows.net</c>).</summary>
    public string Realm { get; init; } = "core.windows.net";

    /// <summary><c>rootdirectory</c>: a name prefix for everything the registry stores.</summary>
    public string? RootDirectory { get; init; }

    /// <summary><c>serviceurl</c>: the Blob service endpoint (Azurite, private endpoints); default from the account and realm.</summary>
    public Uri? ServiceUrl { get; init; }

    /// <summary><c>credentials.type</c>: <c>shared_key</c> (the default with <c>accountkey</c>), <c>client_secret</c> or <c>default_credentials</c>.</summary>
    public string CredentialsType { get; init; } = SharedKeyCredentials;

    /// <summary><c>credentials.clientid</c>.</summary>
    public string? ClientId { get; init; }

    /// <summary><c>credentials.tenantid</c>.</summary>
    public string? TenantId { get; init; }

    /// <summary><c>credentials.secret</c>.</summary>
    public string? Secret { get; init; }

    /// <summary><c>copy_status_poll_max_retry</c> or <c>max_retries</c>: polls of an unfinished copy (default 5; -1: none).</summary>
    public int CopyStatusPollMaxRetry { get; init; } = 5;

    /// <summary><c>copy_status_poll_delay</c> or <c>retry_delay</c>: poll n waits n times this (default 100ms).</summary>
    public TimeSpan CopyStatusPollDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary><c>skipverify</c>: do not verify the service's TLS certificate.</summary>
    public bool SkipVerify { get; init; }

    /// <summary>
    /// <c>legacyrootprefix</c> (Berth): true for registry:2's blob names (leading slash), false for Distribution 3's; unset,
    /// decided from the container's content at start-up.
    /// </summary>
    public bool? LegacyRootPrefix { get; init; }

    /// <summary><c>redirectexpiry</c> (Berth): how long SAS blob URLs stay valid (default 20m).</summary>
    public TimeSpan RedirectExpiry { get; init; } = TimeSpan.FromMinutes(20);

    /// <summary>The release candidates' key when set (the other, if set too, is warned about as ignored), else 3.0's.</summary>
    private static ConfigValue PreferredSpelling(ConfigValue candidate, ConfigValue released)
    {
        if (!candidate.IsSet)
        {
            return released;
        }

        if (released.IsSet)
        {
            released.Warn($"ignored: {candidate.Key} is set too and wins");
        }

        return candidate;
    }

    internal static AzureStorageOptions Read(SectionReader section)
    {
        var defaults = new AzureStorageOptions();
        var accountKey = section["accountkey"].AsString();
        var credentials = section["credentials"].AsSection(credentials => (
            Type: credentials["type"],
            TypeName: credentials["type"].AsChoice(CredentialTypes),
            ClientId: credentials["clientid"].AsString(),
            TenantId: credentials["tenantid"].AsString(),
            Secret: credentials["secret"].AsString(),
            ClientSecretKeys: new[] { credentials["clientid"], credentials["tenantid"], credentials["secret"] }));

        // registry:2 (2.x) knows only the account key; Distribution 3 asks for a type every time.
        var type = credentials.TypeName switch
        {
            null when accountKey is not null => SharedKeyCredentials,
            null => throw credentials.Type.Invalid(
                $"required without storage.azure.accountkey: {SharedKeyCredentials}, {ClientSecretCredentials} or {DefaultCredentials}"),
            "default" => DefaultCredentials,
            var named => named,
        };

        if (type == SharedKeyCredentials && accountKey is null)
        {
            throw section["accountkey"].Invalid("required with shared_key credentials");
        }

        if (type != SharedKeyCredentials && accountKey is not null)
        {
            section["accountkey"].Warn($"not used with {type} credentials");
        }

        if (type != ClientSecretCredentials)
        {
            foreach (var value in credentials.ClientSecretKeys.Where(value => value.IsSet))
            {
                value.Warn($"used only with {ClientSecretCredentials} credentials; ignored with {type}");
            }
        }

        if (type == ClientSecretCredentials)
        {
            foreach (var (key, value) in new[] { ("clientid", credentials.ClientId), ("tenantid", credentials.TenantId), ("secret", credentials.Secret) })
            {
                if (value is null)
                {
                    throw ConfigurationException.ForKey($"{section.Key}.credentials.{key}", "required with client_secret credentials");
                }
            }
        }

        var container = section["container"];
        var containerName = container.AsRequiredString("required: the blob container to store the registry in");
        if (!Berth.Storage.Azure.AzureDriverOptions.IsContainerName(containerName))
        {
            throw container.Invalid($"'{containerName}' is not a container name: 3 to 63 lower-case letters, digits and single hyphens, "
                + "starting and ending with a letter or digit");
        }

        var serviceUrlValue = section["serviceurl"];
        var serviceUrl = serviceUrlValue.AsHttpUrl();
        if (serviceUrl is not null && serviceUrl.Query.Length > 0)
        {
            throw serviceUrlValue.Invalid("must be a URL without a query");
        }

        var accountName = section["accountname"].AsRequiredString("required: the storage account");
        var realmValue = section["realm"];
        var realm = realmValue.AsString(defaults.Realm);
        if (serviceUrl is null && Uri.CheckHostName($"{accountName}.blob.{realm}") != UriHostNameType.Dns)
        {
            throw realmValue.Invalid($"'{accountName}.blob.{realm}' is not a host name");
        }

        // Distribution's 3.0 release candidates named the copy polling keys copy_status_poll_*; 3.0 renamed them.
        var maxRetriesValue = PreferredSpelling(section["copy_status_poll_max_retry"], section["max_retries"]);
        var delayValue = PreferredSpelling(section["copy_status_poll_delay"], section["retry_delay"]);
        var maxRetries = maxRetriesValue.AsInt32(defaults.CopyStatusPollMaxRetry, minimum: -1);
        var delay = delayValue.AsDuration(defaults.CopyStatusPollDelay);
        if (delay > TimeSpan.FromMinutes(10))
        {
            throw delayValue.Invalid("at most 10m");
        }

        section.Ignore("connectionstring", "Distribution reads it but never uses it either; set accountname with accountkey or credentials");

        var redirectExpiryValue = section["redirectexpiry"];
        var redirectExpiry = redirectExpiryValue.AsDuration(defaults.RedirectExpiry);
        if (redirectExpiry <= TimeSpan.Zero || redirectExpiry > TimeSpan.FromDays(7))
        {
            throw redirectExpiryValue.Invalid("must be more than zero and at most 7 days (168h)");
        }

        return new AzureStorageOptions
        {
            AccountName = accountName,
            AccountKey = type == SharedKeyCredentials ? accountKey : null,
            Container = containerName,
            Realm = realm,
            RootDirectory = section["rootdirectory"].AsString(),
            ServiceUrl = serviceUrl,
            CredentialsType = type,
            ClientId = credentials.ClientId,
            TenantId = credentials.TenantId,
            Secret = credentials.Secret,
            // As in Distribution, 0 (also what an unset key reads as there) means the default.
            CopyStatusPollMaxRetry = maxRetries == 0 ? defaults.CopyStatusPollMaxRetry : maxRetries,
            CopyStatusPollDelay = delay,
            SkipVerify = section["skipverify"].AsBool(defaults.SkipVerify),
            LegacyRootPrefix = section["legacyrootprefix"].IsSet ? section["legacyrootprefix"].AsBool() : null,
            RedirectExpiry = redirectExpiry,
        };
    }
}

/// <summary><c>storage.delete</c>.</summary>
public sealed record StorageDeleteOptions
{
    /// <summary><c>storage.delete.enabled</c>: allow deleting blobs and manifests through the API (default false, as in registry:2).</summary>
    public bool Enabled { get; init; }

    internal static StorageDeleteOptions Read(SectionReader section) =>
        new() { Enabled = section["enabled"].AsBool() };
}

/// <summary><c>storage.redirect</c>.</summary>
public sealed record StorageRedirectOptions
{
    /// <summary><c>storage.redirect.disable</c>: serve blobs through the registry instead of redirecting to the storage backend.</summary>
    public bool Disable { get; init; }

    internal static StorageRedirectOptions Read(SectionReader section) =>
        new() { Disable = section["disable"].AsBool() };
}

/// <summary><c>storage.mount</c>: cross-repository blob mounts (a Berth extension; registry:2 has no such key).</summary>
public sealed record StorageMountOptions
{
    /// <summary>
    /// <c>storage.mount.automatic</c> (default true): a mount request without <c>from</c> links the
    /// blob when the registry holds it anywhere (OCI 1.1 automatic content discovery). Off, such a
    /// request opens an ordinary upload session, as registry:2 does.
    /// </summary>
    public bool Automatic { get; init; } = true;

    internal static StorageMountOptions Read(SectionReader section) =>
        new() { Automatic = section["automatic"].AsBool(defaultValue: true) };
}

/// <summary><c>storage.cache</c>: the blob descriptor cache.</summary>
public sealed record StorageCacheOptions
{
    /// <summary>Cache blob descriptors in process memory.</summary>
    public const string InMemoryCache = "inmemory";

    /// <summary>Cache blob descriptors in the Redis server of the <c>redis</c> section.</summary>
    public const string RedisCache = "redis";

    /// <summary>Distribution's default for <see cref="BlobDescriptorSize"/>.</summary>
    public const int DefaultBlobDescriptorSize = 10_000;

    /// <summary><c>storage.cache.blobdescriptor</c>: <see cref="InMemoryCache"/>, <see cref="RedisCache"/>, or null for no cache.</summary>
    public string? BlobDescriptor { get; init; }

    /// <summary><c>storage.cache.blobdescriptorsize</c>: the in-memory cache's entry limit (default 10000).</summary>
    public int BlobDescriptorSize { get; init; } = DefaultBlobDescriptorSize;

    internal static StorageCacheOptions Read(SectionReader section)
    {
        // `layerinfo` is the key's old name, still honoured by Distribution.
        var blobDescriptorValue = section["blobdescriptor"];
        var layerInfoValue = section["layerinfo"];
        var kindValue = blobDescriptorValue.IsSet ? blobDescriptorValue : layerInfoValue;
        if (!blobDescriptorValue.IsSet && layerInfoValue.IsSet)
        {
            layerInfoValue.Warn("deprecated; use storage.cache.blobdescriptor");
        }

        var kind = kindValue.AsString();
        if (kind is not null && kind != InMemoryCache && kind != RedisCache)
        {
            // Distribution logs this and carries on without a cache.
            kindValue.Warn($"unknown cache type '{kind}'; caching disabled");
            kind = null;
        }

        return new StorageCacheOptions
        {
            BlobDescriptor = kind,
            BlobDescriptorSize = section["blobdescriptorsize"].AsInt32(DefaultBlobDescriptorSize, minimum: 1),
        };
    }
}

/// <summary><c>storage.maintenance</c>.</summary>
public sealed record StorageMaintenanceOptions
{
    /// <summary><c>storage.maintenance.uploadpurging</c>.</summary>
    public UploadPurgingOptions UploadPurging { get; init; } = new();

    /// <summary><c>storage.maintenance.readonly</c>.</summary>
    public ReadOnlyModeOptions ReadOnly { get; init; } = new();

    /// <summary><c>storage.maintenance.garbagecollection</c> (Berth): online collection on a schedule.</summary>
    public GarbageCollectionScheduleOptions GarbageCollection { get; init; } = new();

    /// <summary><c>storage.maintenance.scrub</c> (Berth): integrity checks on a schedule.</summary>
    public ScrubScheduleOptions Scrub { get; init; } = new();

    internal static StorageMaintenanceOptions Read(SectionReader section)
    {
        var options = new StorageMaintenanceOptions
        {
            UploadPurging = section["uploadpurging"].AsSection(UploadPurgingOptions.Read),
            ReadOnly = section["readonly"].AsSection(ReadOnlyModeOptions.Read),
            GarbageCollection = section["garbagecollection"].AsSection(GarbageCollectionScheduleOptions.Read),
            Scrub = section["scrub"].AsSection(ScrubScheduleOptions.Read),
        };

        // Berth's scheduled work writes, so read-only mode holds it back; say so rather than leave an enabled key idle.
        // (Upload purging keeps registry:2's behaviour, which also skips it in read-only mode without a word.)
        if (options.ReadOnly.Enabled)
        {
            const string Paused = "enabled, but does not run while storage.maintenance.readonly.enabled is true; it starts once read-only mode is off";
            if (options.GarbageCollection.Enabled)
            {
                section["garbagecollection"].Warn(Paused);
            }

            if (options.Scrub.Enabled)
            {
                section["scrub"].Warn(Paused);
            }
        }

        return options;
    }
}

/// <summary>
/// <c>storage.maintenance.scrub</c>, Berth's own: <c>berth scrub</c> run by the server while it serves.
/// Off by default.
/// </summary>
public sealed record ScrubScheduleOptions
{
    /// <summary>The default <see cref="RateLimit"/>: 50 MiB/s, a fraction of a disk's or a LAN's bandwidth.</summary>
    public const long DefaultBytesPerSecond = 50L * 1024 * 1024;

    /// <summary><c>enabled</c> (default false).</summary>
    public bool Enabled { get; init; }

    /// <summary><c>interval</c>: time between scrubs (default 168h); the first starts one interval after start-up.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromHours(168);

    /// <summary><c>ratelimit</c>: blob bytes read per second (default 50MiB; 0 for no limit).</summary>
    public long RateLimit { get; init; } = DefaultBytesPerSecond;

    /// <summary><c>dryrun</c>: report problems without moving corrupt blobs aside.</summary>
    public bool DryRun { get; init; }

    internal static ScrubScheduleOptions Read(SectionReader section)
    {
        var defaults = new ScrubScheduleOptions();
        var intervalValue = section["interval"];
        var interval = intervalValue.AsDuration(defaults.Interval);
        if (interval <= TimeSpan.Zero)
        {
            throw intervalValue.Invalid("must be greater than zero");
        }

        var rateValue = section["ratelimit"];
        var rate = defaults.RateLimit;
        if (rateValue.AsString() is { } rateText && !ByteSizes.TryParseRate(rateText, out rate))
        {
            throw rateValue.Invalid($"'{rateText}' is not a byte rate: a number of bytes per second with an optional unit "
                + "(kB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 50MiB; 0 for no limit");
        }

        return new ScrubScheduleOptions
        {
            Enabled = section["enabled"].AsBool(defaults.Enabled),
            Interval = interval,
            RateLimit = rate,
            DryRun = section["dryrun"].AsBool(defaults.DryRun),
        };
    }
}

/// <summary>
/// <c>storage.maintenance.garbagecollection</c>, Berth's own: the collector of
/// <c>berth garbage-collect</c>, run by the server while it serves. Off by default.
/// </summary>
public sealed record GarbageCollectionScheduleOptions
{
    /// <summary><c>enabled</c> (default false).</summary>
    public bool Enabled { get; init; }

    /// <summary><c>interval</c>: time between runs (default 24h); the first run starts one interval after start-up.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromHours(24);

    /// <summary><c>graceperiod</c>: content younger than this is never collected (default 1h).</summary>
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromHours(1);

    /// <summary><c>deleteuntagged</c>: also remove manifests no tag reaches (default false).</summary>
    public bool DeleteUntagged { get; init; }

    /// <summary><c>dryrun</c>: log what would be collected without deleting it.</summary>
    public bool DryRun { get; init; }

    internal static GarbageCollectionScheduleOptions Read(SectionReader section)
    {
        var defaults = new GarbageCollectionScheduleOptions();
        var intervalValue = section["interval"];
        var interval = intervalValue.AsDuration(defaults.Interval);
        if (interval <= TimeSpan.Zero)
        {
            throw intervalValue.Invalid("must be greater than zero");
        }

        return new GarbageCollectionScheduleOptions
        {
            Enabled = section["enabled"].AsBool(defaults.Enabled),
            Interval = interval,
            GracePeriod = section["graceperiod"].AsDuration(defaults.GracePeriod),
            DeleteUntagged = section["deleteuntagged"].AsBool(defaults.DeleteUntagged),
            DryRun = section["dryrun"].AsBool(defaults.DryRun),
        };
    }
}

/// <summary><c>storage.maintenance.uploadpurging</c>: removal of abandoned uploads. Defaults are Distribution's.</summary>
public sealed record UploadPurgingOptions
{
    /// <summary><c>enabled</c> (default true).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary><c>age</c>: uploads older than this are purged (default 168h).</summary>
    public TimeSpan Age { get; init; } = TimeSpan.FromHours(168);

    /// <summary><c>interval</c>: how often to look (default 24h).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromHours(24);

    /// <summary><c>dryrun</c>: log what would be purged without deleting it.</summary>
    public bool DryRun { get; init; }

    internal static UploadPurgingOptions Read(SectionReader section)
    {
        var defaults = new UploadPurgingOptions();
        var intervalValue = section["interval"];
        var interval = intervalValue.AsDuration(defaults.Interval);
        if (interval == TimeSpan.Zero)
        {
            throw intervalValue.Invalid("must be greater than zero");
        }

        return new UploadPurgingOptions
        {
            Enabled = section["enabled"].AsBool(defaults.Enabled),
            Age = section["age"].AsDuration(defaults.Age),
            Interval = interval,
            DryRun = section["dryrun"].AsBool(defaults.DryRun),
        };
    }
}

/// <summary><c>storage.maintenance.readonly</c>.</summary>
public sealed record ReadOnlyModeOptions
{
    /// <summary><c>storage.maintenance.readonly.enabled</c>: refuse every write (pushes, deletes) with 405, e.g. during garbage collection.</summary>
    public bool Enabled { get; init; }

    internal static ReadOnlyModeOptions Read(SectionReader section) =>
        new() { Enabled = section["enabled"].AsBool() };
}
