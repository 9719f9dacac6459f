namespace Berth.Server.Configuration;

/// <summary>
/// <c>redis</c>: the Redis server replicas share for the blob descriptor cache. Reads both Distribution 3's keys
/// (<c>addrs</c>, the go-redis options) and registry:2's (<c>addr</c>). Berth's client multiplexes one connection
/// per server, so go-redis's pool and retry tuning has nothing to act on: those keys are accepted with a warning.
/// </summary>
public sealed record RedisOptions
{
    // go-redis tuning knobs Distribution passes through; they have no counterpart in Berth's client.
    private static readonly string[] GoRedisOnlyKeys =
    [
        "contexttimeoutenabled", "poolfifo", "maxredirects", "readonly", "routebylatency", "routerandomly",
        "disableidentity", "identitysuffix", "unstableresp3", "minretrybackoff", "maxretrybackoff",
    ];

    // go-redis's connection pool; Berth's client keeps one multiplexed connection per server instead.
    private static readonly string[] PoolKeys =
    [
        "poolsize", "pooltimeout", "minidleconns", "maxidleconns", "maxactiveconns", "connmaxidletime", "connmaxlifetime",
    ];

    /// <summary><c>redis.addrs</c> (or registry:2's single <c>redis.addr</c>): <c>host:port</c> of the server, or of cluster/sentinel nodes.</summary>
    public IReadOnlyList<string> Addrs { get; init; } = [];

    /// <summary>True when a Redis server is configured.</summary>
    public bool IsConfigured => Addrs.Count > 0;

    /// <summary><c>username</c> (Redis ACLs); also sent to Sentinels.</summary>
    public string? Username { get; init; }

    /// <summary><c>password</c>; also sent to Sentinels.</summary>
    public string? Password { get; init; }

    /// <summary><c>db</c>: the database number.</summary>
    public int Db { get; init; }

    /// <summary><c>clientname</c>: sent with CLIENT SETNAME.</summary>
    public string? ClientName { get; init; }

    /// <summary><c>protocol</c>: the RESP version (2 or 3); 0 for the client's default.</summary>
    public int Protocol { get; init; }

    /// <summary><c>mastername</c>: the Sentinel master name, when <see cref="Addrs"/> are Sentinels.</summary>
    public string? MasterName { get; init; }

    /// <summary><c>maxretries</c>: how often a connection is attempted; 0 for the client's default.</summary>
    public int MaxRetries { get; init; }

    /// <summary><c>dialtimeout</c>; zero for the client's default.</summary>
    public TimeSpan DialTimeout { get; init; }

    /// <summary><c>readtimeout</c>: the timeout of a whole command; zero for the client's default.</summary>
    public TimeSpan ReadTimeout { get; init; }

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
            section.Ignore(key, "a go-redis setting with no counterpart in Berth's Redis client");
        }

        foreach (var key in PoolKeys)
        {
            section.Ignore(key, "Berth's Redis client multiplexes one connection per server and has no pool to size");
        }

        // registry:2's pool section, superseded by the flat keys above.
        section.Ignore("pool", "Berth's Redis client multiplexes one connection per server and has no pool to size");
        section.Ignore("writetimeout", "in Berth's Redis client one timeout, redis.readtimeout, covers a whole command");

        var username = section["username"].AsString();
        var password = section["password"].AsString();

        // The client authenticates to Sentinels with the server's credentials (it has no separate ones), so
        // different Sentinel credentials would fail to connect and leave the cache unused.
        RefuseUnlessEqual(section["sentinelusername"], username, "redis.username");
        RefuseUnlessEqual(section["sentinelpassword"], password, "redis.password");

        var legacyAddr = legacyAddrValue.AsString();
        return new RedisOptions
        {
            Addrs = legacyAddr is null ? addrsValue.AsStringList(allowSingleValue: true) : [legacyAddr],
            Username = username,
            Password = password,
            Db = section["db"].AsInt32(0, minimum: 0),
            ClientName = section["clientname"].AsString(),
            Protocol = section["protocol"].AsInt32(0, 0, 3),
            MasterName = section["mastername"].AsString(),
            MaxRetries = section["maxretries"].AsInt32(0),
            DialTimeout = section["dialtimeout"].AsDuration(TimeSpan.Zero),
            ReadTimeout = section["readtimeout"].AsDuration(TimeSpan.Zero),
            Tls = section["tls"].AsSection(RedisTlsOptions.Read),
        };
    }

    private static void RefuseUnlessEqual(ConfigValue sentinelValue, string? serverValue, string serverKey)
    {
        var value = sentinelValue.AsString();
        if (value is not null && value != serverValue)
        {
            throw sentinelValue.Invalid(
                $"Berth's Redis client authenticates to Sentinels with {serverKey}; it cannot use separate Sentinel credentials. Give the Sentinels the same credentials and remove the key");
        }
    }
}

/// <summary><c>redis.tls</c>.</summary>
public sealed record RedisTlsOptions
{
    /// <summary><c>enabled</c>: connect with TLS. Also true when a certificate or root CA is configured.</summary>
    public bool Enabled { get; init; }

    /// <summary><c>certificate</c>: a client certificate file.</summary>
    public string? Certificate { get; init; }

    /// <summary><c>key</c>: the client certificate's key file.</summary>
    public string? Key { get; init; }

    /// <summary><c>rootcas</c>: CA files the server certificate is verified against; empty for the system store.</summary>
    public IReadOnlyList<string> RootCas { get; init; } = [];

    internal static RedisTlsOptions Read(SectionReader section)
    {
        // Distribution 3.0 put these CAs where a server would check its clients' certificates, which a client
        // connection never does; 3.1 renamed the key to rootcas and verifies the server with them.
        section.Ignore("clientcas", "Distribution 3.0's key, which had no effect on the connection to Redis; set redis.tls.rootcas to verify the server against these CAs");

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
