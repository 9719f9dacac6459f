namespace Berth.Server.Configuration;

/// <summary><c>proxy</c>: run as a pull-through cache of another registry.</summary>
public sealed record ProxyOptions
{
    /// <summary>How long cached content is kept when <c>ttl</c> is not set (Distribution's default).</summary>
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromHours(168);

    /// <summary>Distribution's default for <see cref="CacheWriteTimeout"/>.</summary>
    public static readonly TimeSpan DefaultCacheWriteTimeout = TimeSpan.FromMinutes(5);

    /// <summary><c>remoteurl</c>: the upstream registry; null when not a proxy.</summary>
    public Uri? RemoteUrl { get; init; }

    /// <summary>True when the registry is a pull-through cache.</summary>
    public bool Enabled => RemoteUrl is not null;

    /// <summary><c>username</c> for the upstream.</summary>
    public string? Username { get; init; }

    /// <summary><c>password</c> for the upstream.</summary>
    public string? Password { get; init; }

    /// <summary><c>exec</c>: a credential helper for the upstream; when set, <see cref="Username"/> and <see cref="Password"/> are not used.</summary>
    public ProxyExecOptions? Exec { get; init; }

    /// <summary><c>ttl</c>: how long cached content is kept (default 168h); zero keeps it forever.</summary>
    public TimeSpan Ttl { get; init; } = DefaultTtl;

    /// <summary><c>cachewritetimeout</c>: the longest a blob may take to write to storage while being proxied (default 5m).</summary>
    public TimeSpan CacheWriteTimeout { get; init; } = DefaultCacheWriteTimeout;

    internal static ProxyOptions Read(SectionReader section)
    {
        var exec = section["exec"];
        return new ProxyOptions
        {
            RemoteUrl = section["remoteurl"].AsHttpUrl(),
            Username = section["username"].AsString(),
            Password = section["password"].AsString(),
            Exec = exec.IsSet ? exec.AsSection(ProxyExecOptions.Read) : null,
            Ttl = section["ttl"].AsDuration(DefaultTtl),
            CacheWriteTimeout = section["cachewritetimeout"].AsDuration(DefaultCacheWriteTimeout),
        };
    }
}

/// <summary><c>proxy.exec</c>: obtain upstream credentials from a command (a Docker credential helper).</summary>
public sealed record ProxyExecOptions
{
    /// <summary><c>command</c>: the helper to run (required).</summary>
    public required string Command { get; init; }

    /// <summary><c>lifetime</c>: how long its credentials are reused; zero runs it for every request, null only once.</summary>
    public TimeSpan? Lifetime { get; init; }

    internal static ProxyExecOptions Read(SectionReader section) => new()
    {
        Command = section["command"].AsRequiredString("required: the credential helper to run"),
        Lifetime = section["lifetime"].AsOptionalDuration(),
    };
}
