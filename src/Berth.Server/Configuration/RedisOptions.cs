namespace Berth.Server.Configuration;

/// <summary>
/// <c>redis</c>: the Redis server replicas share for the blob descriptor cache. Reads both Distribution 3's keys
/// (<c>addrs</c>, <c>poolsize</c>, <c>maxidleconns</c>...) and registry:2's (<c>addr</c>, <c>pool.maxidle</c>...),
/// folding the old ones into the new properties.
/// </summary>
public sealed record RedisOptions
{
    // go-redis tuning knobs Distribution 3 passes through; they have no counterpart in Berth's client.
    private static readonly string[] GoRedisOnlyKeys =
    [
        "contexttimeoutenabled", "poolfifo", "maxredirects", "readonly", "routebylatency", "routerandomly",
        "disableidentity", "identitysuffix", "unstableresp3",
    ];

    /// <summary><c>redis.addrs</c> (or registry:2's single <c>redis.addr</c>): <c>host:port</c> of the server, or of cluster/sentinel nodes.</summary>
    public IReadOnlyList<string> Addrs { get; init; } = [];

    /// <summary>True when a Redis server is configured.</summary>
    public bool IsConfigured => Addrs.Count > 0;

    /// <summary><c>username</c> (Redis ACLs).</summary>
    public string? Username { get; init; }

    /// <summary><c>password</c>.</summary>
    public string? Password { get; init; }

    /// <summary><c>db</c>: the database number.</summary>
    public int Db { get; init; }

    /// <summary><c>clientname</c>: sent with CLIENT SETNAME.</summary>
    public string? ClientName { get; init; }

    /// <summary><c>protocol</c>: the RESP version (2 or 3); 0 for the client's default.</summary>
    public int Protocol { get; init; }

    /// <summary><c>mastername</c>: the Sentinel master name, when <see cref="Addrs"/> are Sentinels.</summary>
    public string? MasterName { get; init; }

    /// <summary><c>sentinelusername</c>.</summary>
    public string? SentinelUsername { get; init; }

    /// <summary><c>sentinelpassword</c>.</summary>
    public string? SentinelPassword { get; init; }

    /// <summary><c>maxretries</c>; 0 for the client's default.</summary>
    public int MaxRetries { get; init; }

    /// <summary><c>minretrybackoff</c>; zero for the client's default.</summary>
    public TimeSpan MinRetryBackoff { get; init; }

    /// <summary><c>maxretrybackoff</c>; zero for the client's default.</summary>
    public TimeSpan MaxRetryBackoff { get; init; }

    /// <summary><c>dialtimeout</c>; zero for the client's default.</summary>
    public TimeSpan DialTimeout { get; init; }

    /// <summary><c>readtimeout</c>; zero for the client's default.</summary>
    public TimeSpan ReadTimeout { get; init; }

    /// <summary><c>writetimeout</c>; zero for the client's default.</summary>
    public TimeSpan WriteTimeout { get; init; }

    /// <summary><c>poolsize</c>: the most connections; 0 for the client's default.</summary>
    public int PoolSize { get; init; }

    /// <summary><c>pooltimeout</c>: how long to wait for a free connection; zero for the client's default.</summary>
    public TimeSpan PoolTimeout { get; init; }

    /// <summary><c>minidleconns</c>.</summary>
    public int MinIdleConns { get; init; }

    /// <summary><c>maxidleconns</c> (registry:2: <c>pool.maxidle</c>).</summary>
    public int MaxIdleConns { get; init; }

    /// <summary><c>maxactiveconns</c> (registry:2: <c>pool.maxactive</c>).</summary>
    public int MaxActiveConns { get; init; }

    /// <summary><c>connmaxidletime</c> (registry:2: <c>pool.idletimeout</c>).</summary>
    public TimeSpan ConnMaxIdleTime { get; init; }

    /// <summary><c>connmaxlifetime</c>.</summary>
    public TimeSpan ConnMaxLifetime { get; init; }

    /// <summary><c>redis.tls</c>.</summary>
    public RedisTlsOptions Tls { get; init; } = new();

    internal static RedisOptions Read(SectionReader section)
    {
        // Distribution 3 inlines a Go struct named Options here, so REGISTRY_REDIS_OPTIONS_PASSWORD works too.
        section.AcceptInlineEnvironmentGroup("options");

        var addrsValue = section["addrs"];
        var legacyAddrValue = section["addr"];
        if (addrsValue.IsSet && legacyAddrValue.IsSet)
        {
            throw legacyAddrValue.Invalid("set either redis.addr or redis.addrs, not both");
        }

        foreach (var key in GoRedisOnlyKeys)
        {
            section.Ignore(key, "a go-redis setting with no effect in Berth");
        }

        var legacyAddr = legacyAddrValue.AsString();
        var legacyPool = section["pool"].AsSection(LegacyRedisPool.Read);
        return new RedisOptions
        {
            Addrs = legacyAddr is null ? addrsValue.AsStringList(allowSingleValue: true) : [legacyAddr],
            Username = section["username"].AsString(),
            Password = section["password"].AsString(),
            Db = section["db"].AsInt32(0, minimum: 0),
            ClientName = section["clientname"].AsString(),
            Protocol = section["protocol"].AsInt32(0, 0, 3),
            MasterName = section["mastername"].AsString(),
            SentinelUsername = section["sentinelusername"].AsString(),
            SentinelPassword = section["sentinelpassword"].AsString(),
            MaxRetries = section["maxretries"].AsInt32(0),
            MinRetryBackoff = section["minretrybackoff"].AsDuration(TimeSpan.Zero),
            MaxRetryBackoff = section["maxretrybackoff"].AsDuration(TimeSpan.Zero),
            DialTimeout = section["dialtimeout"].AsDuration(TimeSpan.Zero),
            ReadTimeout = section["readtimeout"].AsDuration(TimeSpan.Zero),
            WriteTimeout = section["writetimeout"].AsDuration(TimeSpan.Zero),
            PoolSize = section["poolsize"].AsInt32(0, minimum: 0),
            PoolTimeout = section["pooltimeout"].AsDuration(TimeSpan.Zero),
            MinIdleConns = section["minidleconns"].AsInt32(0, minimum: 0),
            MaxIdleConns = section["maxidleconns"].AsInt32(legacyPool.MaxIdle, minimum: 0),
            MaxActiveConns = section["maxactiveconns"].AsInt32(legacyPool.MaxActive, minimum: 0),
            ConnMaxIdleTime = section["connmaxidletime"].AsDuration(legacyPool.IdleTimeout),
            ConnMaxLifetime = section["connmaxlifetime"].AsDuration(TimeSpan.Zero),
            Tls = section["tls"].AsSection(RedisTlsOptions.Read),
        };
    }

    // registry:2's `redis.pool` section, superseded by the flat keys above.
    private sealed record LegacyRedisPool(int MaxIdle, int MaxActive, TimeSpan IdleTimeout)
    {
        public static LegacyRedisPool Read(SectionReader section) => new(
            section["maxidle"].AsInt32(0, minimum: 0),
            section["maxactive"].AsInt32(0, minimum: 0),
            section["idletimeout"].AsDuration(TimeSpan.Zero));
    }
}

/// <summary><c>redis.tls</c>.</summary>
public sealed record RedisTlsOptions
{
    /// <summary><c>enabled</c> (registry:2): connect with TLS. Also true when a certificate or root CA is configured.</summary>
    public bool Enabled { get; init; }

    /// <summary><c>certificate</c>: a client certificate file.</summary>
    public string? Certificate { get; init; }

    /// <summary><c>key</c>: the client certificate's key file.</summary>
    public string? Key { get; init; }

    /// <summary><c>rootcas</c>: CA files the server certificate is verified against; empty for the system store.</summary>
    public IReadOnlyList<string> RootCas { get; init; } = [];

    internal static RedisTlsOptions Read(SectionReader section)
    {
        var certificate = section["certificate"].AsString();
        var rootCas = section["rootcas"].AsStringList();
        return new RedisTlsOptions
        {
            Enabled = section["enabled"].AsBool() || certificate is not null || rootCas.Count > 0,
            Certificate = certificate,
            Key = section["key"].AsString(),
            RootCas = rootCas,
        };
    }
}
