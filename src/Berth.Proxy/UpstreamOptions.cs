namespace Berth.Proxy;

/// <summary>
/// One registry Berth mirrors: where it is, how to sign in, how long cached content lives, and which local
/// repositories it answers for.
/// </summary>
public sealed record UpstreamOptions
{
    /// <summary>How long cached content is kept when no ttl is given (registry:2's default, a week).</summary>
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromHours(168);

    /// <summary>How long a tag's digest is trusted before the upstream is asked again (one HEAD).</summary>
    public static readonly TimeSpan DefaultTagCheckInterval = TimeSpan.FromSeconds(30);

    /// <summary>The longest a blob may take to arrive from the upstream and be written (registry:2's default).</summary>
    public static readonly TimeSpan DefaultCacheWriteTimeout = TimeSpan.FromMinutes(5);

    /// <summary>A short name for logs, metrics and errors (<c>dockerhub</c>); the remote host when not named.</summary>
    public required string Name { get; init; }

    /// <summary>The upstream registry's base URL (<c>https://registry-1.docker.io</c>).</summary>
    public required Uri RemoteUrl { get; init; }

    /// <summary>
    /// The local repository prefix the upstream is mirrored under (<c>dockerhub</c> serves
    /// <c>dockerhub/library/alpine</c> from the upstream's <c>library/alpine</c>); null mirrors it at the root, as
    /// registry:2's proxy mode does.
    /// </summary>
    public string? Prefix { get; init; }

    /// <summary>
    /// Registry host names this upstream stands for (<c>docker.io</c>), matched against containerd's <c>?ns=</c>.
    /// </summary>
    public IReadOnlyList<string> Hosts { get; init; } = [];

    /// <summary>
    /// True for the one upstream that answers reads of names that match no prefix, no <c>ns</c> and no local
    /// repository: the Docker engine's <c>registry-mirrors</c> ask for Docker Hub's names without either.
    /// </summary>
    public bool IsDefault { get; init; }

    /// <summary>Basic credentials for the upstream, or null for anonymous access (or <see cref="Exec"/>).</summary>
    public string? Username { get; init; }

    /// <summary>The password that goes with <see cref="Username"/>.</summary>
    public string? Password { get; init; }

    /// <summary>A Docker credential helper to ask for credentials instead of a fixed pair.</summary>
    public CredentialHelperOptions? Exec { get; init; }

    /// <summary>How long cached content is kept after it was fetched; <see cref="TimeSpan.Zero"/> keeps it forever.</summary>
    public TimeSpan Ttl { get; init; } = DefaultTtl;

    /// <summary>How long a tag's digest is served without asking the upstream again.</summary>
    public TimeSpan TagCheckInterval { get; init; } = DefaultTagCheckInterval;

    /// <summary>The longest one blob may take to arrive and be written to storage.</summary>
    public TimeSpan CacheWriteTimeout { get; init; } = DefaultCacheWriteTimeout;

    /// <summary>How long a single upstream request may take to start answering before it counts as failed.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>A Docker credential helper (<c>docker-credential-*</c> protocol): run with <c>get</c>, host on stdin.</summary>
/// <param name="Command">The program to run.</param>
/// <param name="Lifetime">How long its answer is reused; null for the life of the process, zero for every request.</param>
public sealed record CredentialHelperOptions(string Command, TimeSpan? Lifetime);
