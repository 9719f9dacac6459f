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

    /// <summary><c>ui</c> (Berth extension): the built-in web UI.</summary>
    public UiOptions Ui { get; init; } = new();

    /// <summary><c>quotas</c> (Berth extension): per-repository storage limits; the first rule matching a repository applies.</summary>
    public IReadOnlyList<QuotaRuleOptions> Quotas { get; init; } = [];

    /// <summary><c>usage</c> (Berth extension): how storage-use figures are kept and exported.</summary>
    public UsageOptions Usage { get; init; } = new();

    /// <summary>Tracing and OTLP metrics, from the <c>OTEL_*</c> environment variables (not from the file).</summary>
    public TracingOptions Tracing { get; init; } = new();
    /// <summary><c>retention</c> (Berth extension): tag and manifest retention rules.</summary>
    public RetentionOptions Retention { get; init; } = new();

    /// <summary><c>immutabletags</c> (Berth extension): tags that never move and are never deleted.</summary>
    public Berth.Storage.Lifecycle.ImmutableTagPolicy ImmutableTags { get; init; } = Berth.Storage.Lifecycle.ImmutableTagPolicy.None;

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
            Ui = root["ui"].AsSection(UiOptions.Read),
            Quotas = QuotaRuleOptions.ReadList(root["quotas"]),
            Usage = root["usage"].AsSection(UsageOptions.Read),
            Retention = root["retention"].AsSection(RetentionOptions.Read),
            ImmutableTags = LifecycleConfiguration.ReadImmutableTags(root["immutabletags"]),
        };

        root["tags"].AsSection(tags =>
        {
            tags.Ignore("maxtags", "Berth answers a tags list with as many tags as the client's n asks for (all of them without n); it does not cap n");
            return true;
        });

        root["policy"].AsSection(policy => policy["repository"].AsSection(repository =>
        {
            // An allow-list of content classes: ignoring it would accept pushes the operator meant to refuse.
            var classes = repository["classes"];
            if (classes.HasContent)
            {
                classes.Refuse("Berth does not restrict manifests to repository classes; remove the key");
            }

            return true;
        }));

        root["middleware"].AsSection(ReadMiddleware);
        root["reporting"].AsSection(reporting =>
        {
            reporting.Ignore("bugsnag", "error reporting to Bugsnag is not built into Berth");
            reporting.Ignore("newrelic", "New Relic instrumentation is not built into Berth");
            return true;
        });

        root["compatibility"].AsSection(compatibility => compatibility["schema1"].AsSection(schema1 =>
        {
            var enabled = schema1["enabled"];
            if (enabled.AsBool())
            {
                throw enabled.Invalid("Berth does not accept or serve schema1 manifests; remove the key or set it to false");
            }

            schema1.Ignore("signingkeyfile", "it signs schema1 manifests, which Berth does not serve");
            return true;
        }));

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

        if (configuration.Retention.Enabled)
        {
            // Scheduled retention runs at the start of each online collection, which gives the space back in the same cycle.
            if (!configuration.Storage.Maintenance.GarbageCollection.Enabled)
            {
                throw ConfigurationException.ForKey("retention.enabled",
                    "scheduled retention runs before each online garbage collection; set storage.maintenance.garbagecollection.enabled: true, or run `berth retention` on a schedule of your own");
            }

            if (!configuration.Retention.DryRun && !configuration.Storage.Delete.Enabled)
            {
                throw ConfigurationException.ForKey("retention.enabled", "retention deletes tags and manifests, which needs storage.delete.enabled: true (or set retention.dryrun: true)");
            }

            if (configuration.Retention.Rules.Count == 0)
            {
                throw ConfigurationException.ForKey("retention.rules", "retention is enabled but has no rules; add rules or set retention.enabled: false");
            }
        }

        return configuration;
    }

    /// <summary>
    /// <c>middleware</c>: Distribution wraps its registry, repositories and storage driver in the middleware named
    /// here. Berth has none of them, and each would change what clients get (the storage ones send blob downloads
    /// to a CDN or proxy), so a configured one stops start-up.
    /// </summary>
    private static bool ReadMiddleware(SectionReader section)
    {
        foreach (var (name, refusal) in (ReadOnlySpan<(string, string)>)[
            ("registry", "Berth has no registry middleware; remove the entry"),
            ("repository", "Berth has no repository middleware; remove the entry"),
            ("storage",
                "Berth has no storage middleware (cloudfront, redirect, rewrite), so blob downloads would not go where it says; remove the entry. "
                + "storage.s3.redirectendpoint sends redirects to another host; storage.redirect.disable: true serves blobs through Berth"),
        ])
        {
            var middleware = section[name];
            if (middleware.HasContent)
            {
                middleware.Refuse(refusal);
            }

            middleware.Overrides?.MarkAllUsed();
        }

        return true;
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

/// <summary><c>ui</c> (Berth extension): the web UI served beside <c>/v2/</c> on the registry's own listener.</summary>
public sealed record UiOptions
{
    /// <summary>The longest a sign-in may last: a day's work, not a stolen laptop's week.</summary>
    public static readonly TimeSpan MaxSessionLifetime = TimeSpan.FromDays(7);

    /// <summary><c>ui.enabled</c> (default true); <c>REGISTRY_UI_ENABLED=false</c> leaves only the registry API (and an empty 200 at <c>/</c>, as registry:2).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary><c>ui.sessionlifetime</c> (default 8h): how long a browser stays signed in.</summary>
    public TimeSpan SessionLifetime { get; init; } = TimeSpan.FromHours(8);

    internal static UiOptions Read(SectionReader section)
    {
        var defaults = new UiOptions();
        var lifetimeValue = section["sessionlifetime"];
        var lifetime = lifetimeValue.AsDuration(defaults.SessionLifetime);
        if (lifetime <= TimeSpan.Zero || lifetime > MaxSessionLifetime)
        {
            throw lifetimeValue.Invalid("must be more than 0 and at most 168h");
        }

        return new UiOptions { Enabled = section["enabled"].AsBool(defaults.Enabled), SessionLifetime = lifetime };
    }
}
