namespace Berth.Server.Configuration;

/// <summary>
/// The registry's configuration: Distribution's <c>config.yml</c> schema (version 0.1) after the
/// <c>REGISTRY_*</c> overrides, validated and with defaults filled in. Built by <see cref="ConfigurationLoader"/>.
/// </summary>
public sealed record RegistryConfiguration
{
    /// <summary>The only configuration version Distribution (and so Berth) understands.</summary>
    public const string SupportedVersion = "0.1";

    /// <summary><c>version</c>: always <see cref="SupportedVersion"/>; anything else fails to load.</summary>
    public string Version { get; init; } = SupportedVersion;

    /// <summary><c>log</c>.</summary>
    public LogOptions Log { get; init; } = new();

    /// <summary><c>storage</c>: the storage driver and the registry's storage behaviour.</summary>
    public StorageOptions Storage { get; init; } = new();

    /// <summary><c>auth</c>: the access controller, if any.</summary>
    public AuthOptions Auth { get; init; } = new();

    /// <summary><c>access</c> (Berth extension): access rules on top of htpasswd, and the failed-login limiter.</summary>
    public AccessOptions Access { get; init; } = new();

    /// <summary><c>http</c>: the listener and HTTP behaviour.</summary>
    public HttpOptions Http { get; init; } = new();

    /// <summary><c>notifications</c>: webhook endpoints for registry events.</summary>
    public NotificationsOptions Notifications { get; init; } = new();

    /// <summary><c>redis</c>: the Redis server shared by replicas, if any.</summary>
    public RedisOptions Redis { get; init; } = new();

    /// <summary><c>health</c>: health checks.</summary>
    public HealthOptions Health { get; init; } = new();

    /// <summary><c>proxy</c>: pull-through cache mode.</summary>
    public ProxyOptions Proxy { get; init; } = new();

    /// <summary><c>validation</c>: manifest validation rules.</summary>
    public ValidationOptions Validation { get; init; } = new();

    /// <summary><c>catalog</c>: the <c>/v2/_catalog</c> endpoint.</summary>
    public CatalogOptions Catalog { get; init; } = new();

    /// <summary><c>tags</c>: the <c>/v2/&lt;name&gt;/tags/list</c> endpoint.</summary>
    public TagsOptions Tags { get; init; } = new();

    /// <summary><c>policy</c>: repository policies.</summary>
    public PolicyOptions Policy { get; init; } = new();

    internal static RegistryConfiguration Read(SectionReader root)
    {
        // The loader has already checked the file's version; it decides how the rest is read, so Distribution
        // does not let the environment change it either.
        var version = root["version"];
        if (version.Variable is not null)
        {
            version.Warn("the configuration version cannot be set from the environment; ignored");
        }

        var legacyLogLevel = root["loglevel"];
        if (legacyLogLevel.IsSet)
        {
            legacyLogLevel.Warn("deprecated; use log.level");
        }

        var legacyLevel = legacyLogLevel.AsChoice(LogOptions.Levels);
        var configuration = new RegistryConfiguration
        {
            Log = root["log"].AsSection(section => LogOptions.Read(section, legacyLevel)),
            Storage = root["storage"].AsDriverSection(StorageOptions.Read),
            Auth = root["auth"].AsDriverSection(AuthOptions.Read),
            Access = root["access"].AsSection(AccessOptions.Read),
            Http = root["http"].AsSection(HttpOptions.Read),
            Notifications = root["notifications"].AsSection(NotificationsOptions.Read),
            Redis = root["redis"].AsSection(RedisOptions.Read),
            Health = root["health"].AsSection(HealthOptions.Read),
            Proxy = root["proxy"].AsSection(ProxyOptions.Read),
            Validation = root["validation"].AsSection(ValidationOptions.Read),
            Catalog = root["catalog"].AsSection(CatalogOptions.Read),
            Tags = root["tags"].AsSection(TagsOptions.Read),
            Policy = root["policy"].AsSection(PolicyOptions.Read),
        };

        root.Ignore("middleware", "Distribution middleware (registry, repository and storage middleware) is not supported by Berth");
        root.Ignore("reporting", "error reporting (bugsnag, newrelic) is not supported by Berth");
        root.Ignore("compatibility", "schema1 manifest compatibility is not supported by Berth");

        if (configuration.Storage.Cache.BlobDescriptor == StorageCacheOptions.RedisCache && !configuration.Redis.IsConfigured)
        {
            throw ConfigurationException.ForKey("storage.cache.blobdescriptor", "the redis cache needs a redis server; set redis.addrs (or redis.addr)");
        }

        if (configuration.Access.HasPolicy && configuration.Auth.Type != AuthOptions.HtpasswdType)
        {
            // With a token server the token decides; without authentication nobody is known by name.
            throw ConfigurationException.ForKey("access",
                configuration.Auth.Type is null
                    ? "access rules need auth.htpasswd (without authentication everyone may do everything)"
                    : $"access rules apply to auth.htpasswd; with auth.{configuration.Auth.Type} the {(configuration.Auth.Type == AuthOptions.TokenType ? "token server" : "controller")} decides access");
        }

        return configuration;
    }
}

/// <summary><c>catalog</c>: the <c>/v2/_catalog</c> endpoint.</summary>
public sealed record CatalogOptions
{
    /// <summary>Distribution's default page limit.</summary>
    public const int DefaultMaxEntries = 1000;

    /// <summary><c>catalog.maxentries</c>: the most repositories one catalog response returns. Zero or negative means the default, 1000.</summary>
    public int MaxEntries { get; init; } = DefaultMaxEntries;

    internal static CatalogOptions Read(SectionReader section)
    {
        var maxEntries = section["maxentries"].AsInt32(DefaultMaxEntries);
        return new CatalogOptions { MaxEntries = maxEntries <= 0 ? DefaultMaxEntries : maxEntries };
    }
}

/// <summary><c>tags</c>: the tags list endpoint.</summary>
public sealed record TagsOptions
{
    /// <summary>Distribution's default page limit.</summary>
    public const int DefaultMaxTags = 1000;

    /// <summary><c>tags.maxtags</c>: the most tags one tags-list response returns (default 1000).</summary>
    public int MaxTags { get; init; } = DefaultMaxTags;

    internal static TagsOptions Read(SectionReader section)
    {
        var maxTags = section["maxtags"].AsInt32(DefaultMaxTags, minimum: 0);
        return new TagsOptions { MaxTags = maxTags == 0 ? DefaultMaxTags : maxTags };
    }
}

/// <summary><c>policy</c>: repository policies.</summary>
public sealed record PolicyOptions
{
    /// <summary><c>policy.repository</c>.</summary>
    public RepositoryPolicyOptions Repository { get; init; } = new();

    internal static PolicyOptions Read(SectionReader section) =>
        new() { Repository = section["repository"].AsSection(RepositoryPolicyOptions.Read) };
}

/// <summary><c>policy.repository</c>.</summary>
public sealed record RepositoryPolicyOptions
{
    /// <summary><c>policy.repository.classes</c>: the repository classes content may belong to; empty allows all.</summary>
    public IReadOnlyList<string> Classes { get; init; } = [];

    internal static RepositoryPolicyOptions Read(SectionReader section) =>
        new() { Classes = section["classes"].AsStringList() };
}
