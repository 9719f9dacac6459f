namespace Berth.Server.Configuration;

/// <summary>
/// <c>proxy</c>: run as a pull-through cache. registry:2's form mirrors one registry (<c>remoteurl</c>) at the root
/// and accepts no pushes; Berth's <c>upstreams</c> list mirrors several, each under its own repository prefix, beside
/// local repositories that accept pushes as usual.
/// </summary>
public sealed record ProxyOptions
{
    /// <summary>How long cached content is kept when <c>ttl</c> is not set (Distribution's default).</summary>
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromHours(168);

    /// <summary>Distribution's default for <see cref="CacheWriteTimeout"/>.</summary>
    public static readonly TimeSpan DefaultCacheWriteTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Berth's default for <see cref="TagCheckInterval"/>.</summary>
    public static readonly TimeSpan DefaultTagCheckInterval = TimeSpan.FromSeconds(30);

    /// <summary><c>remoteurl</c>: the upstream registry mirrored at the root; null when not in registry:2's proxy mode.</summary>
    public Uri? RemoteUrl { get; init; }

    /// <summary>True when the registry is a pull-through cache of anything.</summary>
    public bool Enabled => RemoteUrl is not null || Upstreams.Count > 0;

    /// <summary><c>username</c> for the upstream.</summary>
    public string? Username { get; init; }

    /// <summary><c>password</c> for the upstream.</summary>
    public string? Password { get; init; }

    /// <summary><c>exec</c>: a credential helper for the upstream; when set, <see cref="Username"/> and <see cref="Password"/> are not used.</summary>
    public ProxyExecOptions? Exec { get; init; }

    /// <summary><c>ttl</c>: how long cached content is kept (default 168h); zero keeps it forever.</summary>
    public TimeSpan Ttl { get; init; } = DefaultTtl;

    /// <summary><c>cachewritetimeout</c>: the longest a blob may take to arrive and be written to storage (default 5m).</summary>
    public TimeSpan CacheWriteTimeout { get; init; } = DefaultCacheWriteTimeout;

    /// <summary>
    /// <c>tagcheckinterval</c> (Berth extension): how long a cached tag is served before the upstream is asked again
    /// with one HEAD (default 30s); the default for every upstream.
    /// </summary>
    public TimeSpan TagCheckInterval { get; init; } = DefaultTagCheckInterval;

    /// <summary>Berth's default for <see cref="RequestTimeout"/>.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>requesttimeout</c> (Berth extension): how long an upstream may take to start answering before it counts as
    /// failed (default 30s); after such a failure it is not asked again for 5 s, so cached content keeps flowing.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = DefaultRequestTimeout;

    /// <summary><c>upstreams</c> (Berth extension): several registries mirrored under repository prefixes.</summary>
    public IReadOnlyList<ProxyUpstreamOptions> Upstreams { get; init; } = [];

    internal static ProxyOptions Read(SectionReader section)
    {
        var exec = section["exec"];
        var tagCheckInterval = section["tagcheckinterval"].AsDuration(DefaultTagCheckInterval);
        if (tagCheckInterval < TimeSpan.Zero)
        {
            throw section["tagcheckinterval"].Invalid("must not be negative");
        }

        var ttl = section["ttl"].AsDuration(DefaultTtl);
        var requestTimeout = RequestTimeoutOf(section["requesttimeout"], DefaultRequestTimeout);
        var cacheWriteTimeout = section["cachewritetimeout"].AsDuration(DefaultCacheWriteTimeout);
        if (cacheWriteTimeout > MaxCacheWriteTimeout)
        {
            // It bounds a wait for storage to make progress; beyond a day it is a hung write, and timers cannot
            // count much further (about 49 days).
            throw section["cachewritetimeout"].Invalid($"at most {MaxCacheWriteTimeout.TotalHours:0}h (it is the longest a storage write may make no progress)");
        }

        var options = new ProxyOptions
        {
            RemoteUrl = section["remoteurl"].AsHttpUrl(),
            Username = section["username"].AsString(),
            Password = section["password"].AsString(),
            Exec = exec.IsSet ? exec.AsSection(ProxyExecOptions.Read) : null,
            Ttl = ttl,
            // Distribution: zero or negative means the default.
            CacheWriteTimeout = cacheWriteTimeout > TimeSpan.Zero ? cacheWriteTimeout : DefaultCacheWriteTimeout,
            TagCheckInterval = tagCheckInterval,
            RequestTimeout = requestTimeout,
            Upstreams = section["upstreams"].AsList(item => item.AsSection(s => ProxyUpstreamOptions.Read(s, ttl, tagCheckInterval, requestTimeout))),
        };

        WarnAboutCredentialsBesideExec(section, options.Exec, options.Username, options.Password);
        if (options.RemoteUrl is null && (options.Username is not null || options.Password is not null || options.Exec is not null))
        {
            throw section["remoteurl"].Invalid("required when proxy.username, proxy.password or proxy.exec is set");
        }

        if (options.RemoteUrl is not null && options.Upstreams.Count > 0)
        {
            throw section["upstreams"].Invalid(
                "proxy.remoteurl mirrors one registry at the root, so every repository is the upstream's; list that registry in proxy.upstreams with a prefix instead");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var prefixes = new List<string>();
        var hosts = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < options.Upstreams.Count; i++)
        {
            var upstream = options.Upstreams[i];
            if (!names.Add(upstream.Name))
            {
                throw ConfigurationException.ForKey($"proxy.upstreams.{i}.name", $"'{upstream.Name}' names two upstreams");
            }

            if (prefixes.FirstOrDefault(p => Overlaps(p, upstream.Prefix)) is { } overlapping)
            {
                throw ConfigurationException.ForKey($"proxy.upstreams.{i}.prefix",
                    $"'{upstream.Prefix}' overlaps '{overlapping}'; one repository must belong to one upstream");
            }

            prefixes.Add(upstream.Prefix);
            if (upstream.Default && options.Upstreams.Take(i).Any(u => u.Default))
            {
                throw ConfigurationException.ForKey($"proxy.upstreams.{i}.default", "only one upstream can answer names without a prefix");
            }

            foreach (var host in upstream.Hosts)
            {
                if (!hosts.Add(host))
                {
                    throw ConfigurationException.ForKey($"proxy.upstreams.{i}.hosts", $"'{host}' is named by two upstreams");
                }
            }
        }

        return options;
    }

    /// <summary>The longest <c>requesttimeout</c> accepted.</summary>
    internal static readonly TimeSpan MaxRequestTimeout = TimeSpan.FromHours(1);

    /// <summary>The longest <c>cachewritetimeout</c> accepted.</summary>
    internal static readonly TimeSpan MaxCacheWriteTimeout = TimeSpan.FromHours(24);

    /// <summary>A <c>requesttimeout</c>: positive, at most an hour.</summary>
    internal static TimeSpan RequestTimeoutOf(ConfigValue value, TimeSpan defaultValue)
    {
        var timeout = value.AsDuration(defaultValue);
        return timeout <= TimeSpan.Zero || timeout > MaxRequestTimeout
            ? throw value.Invalid($"must be more than 0 and at most {MaxRequestTimeout.TotalHours:0}h (how long an upstream may take to start answering)")
            : timeout;
    }

    /// <summary>registry:2 uses the credential helper and drops a fixed pair set beside it; Berth does too, and says so.</summary>
    internal static void WarnAboutCredentialsBesideExec(SectionReader section, ProxyExecOptions? exec, string? username, string? password)
    {
        if (exec is null)
        {
            return;
        }

        foreach (var key in new[] { ("username", username), ("password", password) }.Where(k => k.Item2 is not null).Select(k => k.Item1))
        {
            section[key].Warn("ignored: credentials come from the exec credential helper; remove one or the other");
        }
    }

    private static bool Overlaps(string a, string b) =>
        a == b || b.StartsWith(a + "/", StringComparison.Ordinal) || a.StartsWith(b + "/", StringComparison.Ordinal);
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

/// <summary>One <c>proxy.upstreams</c> item (Berth extension): a registry mirrored under a repository prefix.</summary>
public sealed record ProxyUpstreamOptions
{
    /// <summary><c>name</c>: for logs, metrics and errors (default: the prefix).</summary>
    public required string Name { get; init; }

    /// <summary><c>prefix</c> (required): local repositories <c>PREFIX/...</c> are the upstream's <c>...</c>.</summary>
    public required string Prefix { get; init; }

    /// <summary><c>remoteurl</c> (required): the upstream registry.</summary>
    public required Uri RemoteUrl { get; init; }

    /// <summary><c>hosts</c>: registry host names this upstream stands for, for containerd's <c>?ns=</c> (default: the remote URL's host).</summary>
    public IReadOnlyList<string> Hosts { get; init; } = [];

    /// <summary>
    /// <c>default</c>: this upstream also answers reads of names no prefix claims and no local repository holds, as the
    /// Docker engine's <c>registry-mirrors</c> ask for Docker Hub's images (<c>library/alpine</c>); at most one.
    /// </summary>
    public bool Default { get; init; }

    /// <summary><c>username</c>.</summary>
    public string? Username { get; init; }

    /// <summary><c>password</c>.</summary>
    public string? Password { get; init; }

    /// <summary><c>exec</c>: a credential helper instead of a fixed pair.</summary>
    public ProxyExecOptions? Exec { get; init; }

    /// <summary><c>ttl</c> (default: <c>proxy.ttl</c>).</summary>
    public TimeSpan Ttl { get; init; }

    /// <summary><c>tagcheckinterval</c> (default: <c>proxy.tagcheckinterval</c>).</summary>
    public TimeSpan TagCheckInterval { get; init; }

    /// <summary><c>requesttimeout</c> (default: <c>proxy.requesttimeout</c>).</summary>
    public TimeSpan RequestTimeout { get; init; }

    internal static ProxyUpstreamOptions Read(SectionReader section, TimeSpan defaultTtl, TimeSpan defaultTagCheckInterval, TimeSpan defaultRequestTimeout)
    {
        var prefixValue = section["prefix"];
        var prefix = prefixValue.AsRequiredString("required: the repository prefix the upstream is mirrored under (for example dockerhub)").Trim('/');
        if (!Core.RepositoryName.TryParse(prefix, out _))
        {
            throw prefixValue.Invalid($"'{prefix}' is not a valid repository name prefix (lower-case letters, digits, separators)");
        }

        var remoteUrl = section["remoteurl"].AsHttpUrl() ?? throw section["remoteurl"].Invalid("required: the upstream registry's URL");
        var exec = section["exec"];
        var hosts = section["hosts"].AsStringList(allowSingleValue: true);
        var tagCheckInterval = section["tagcheckinterval"].AsDuration(defaultTagCheckInterval);
        if (tagCheckInterval < TimeSpan.Zero)
        {
            throw section["tagcheckinterval"].Invalid("must not be negative");
        }

        var requestTimeout = ProxyOptions.RequestTimeoutOf(section["requesttimeout"], defaultRequestTimeout);

        var username = section["username"].AsString();
        var password = section["password"].AsString();
        var helper = exec.IsSet ? exec.AsSection(ProxyExecOptions.Read) : null;
        ProxyOptions.WarnAboutCredentialsBesideExec(section, helper, username, password);
        return new ProxyUpstreamOptions
        {
            Name = section["name"].AsString(prefix),
            Prefix = prefix,
            RemoteUrl = remoteUrl,
            Hosts = hosts.Count > 0 ? hosts : DefaultHosts(remoteUrl),
            Default = section["default"].AsBool(),
            Username = username,
            Password = password,
            Exec = helper,
            Ttl = section["ttl"].AsDuration(defaultTtl),
            TagCheckInterval = tagCheckInterval,
            RequestTimeout = requestTimeout,
        };
    }

    /// <summary>The registry host clients name: the remote's, and <c>docker.io</c> for Docker Hub's API host.</summary>
    private static IReadOnlyList<string> DefaultHosts(Uri remoteUrl) =>
        remoteUrl.Host is "registry-1.docker.io" or "index.docker.io" ? ["docker.io", remoteUrl.Host] : [remoteUrl.Host];
}
