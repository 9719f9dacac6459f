using Berth.Core;

namespace Berth.Proxy;

/// <summary>A repository Berth serves from an upstream: which upstream, and the name the upstream knows it by.</summary>
/// <param name="Upstream">The upstream that holds the repository.</param>
/// <param name="LocalName">The name clients use here, under which the cache stores it.</param>
/// <param name="RemoteName">The name on the upstream.</param>
public sealed record ProxiedRepository(UpstreamRegistry Upstream, RepositoryName LocalName, string RemoteName);

/// <summary>
/// Decides, for each request, whether a repository is local (pushed here) or mirrored from an upstream, and under
/// which name the upstream knows it. The one place the three ways of asking a mirror meet:
/// <list type="bullet">
/// <item>registry:2's proxy mode: one upstream mirrored at the root, every repository is the upstream's;</item>
/// <item>a repository prefix per upstream (<c>dockerhub/library/alpine</c> is <c>library/alpine</c> on Docker Hub);</item>
/// <item>containerd's <c>hosts.toml</c> mirrors, which keep the name and add <c>?ns=docker.io</c> to every request.</item>
/// </list>
/// </summary>
public sealed class ProxyRouter
{
    private readonly IReadOnlyList<UpstreamRegistry> _upstreams;
    private readonly UpstreamRegistry? _root;
    private readonly UpstreamRegistry? _default;

    /// <param name="upstreams">The mirrored registries; at most one without a prefix (mirrored at the root).</param>
    public ProxyRouter(IReadOnlyList<UpstreamRegistry> upstreams)
    {
        ArgumentNullException.ThrowIfNull(upstreams);
        _upstreams = upstreams;
        var roots = upstreams.Where(u => string.IsNullOrEmpty(u.Options.Prefix)).ToList();
        if (roots.Count > 1)
        {
            throw new ArgumentException("at most one upstream may be mirrored without a prefix", nameof(upstreams));
        }

        _root = roots.SingleOrDefault();
        var defaults = upstreams.Where(u => u.Options.IsDefault).ToList();
        if (defaults.Count > 1 || (defaults.Count == 1 && _root is not null))
        {
            throw new ArgumentException("at most one upstream may be the default, and not beside one mirrored at the root", nameof(upstreams));
        }

        _default = defaults.SingleOrDefault();
    }

    /// <summary>
    /// The upstream that answers reads of names no prefix or <c>ns</c> claims and no local repository holds (the Docker
    /// engine's <c>registry-mirrors</c> ask for <c>library/alpine</c> as it is), or null.
    /// </summary>
    public UpstreamRegistry? Default => _default;

    /// <summary><paramref name="name"/> as the default upstream's repository, cached under its prefix.</summary>
    public ProxiedRepository? RouteToDefault(RepositoryName name) => _default is null ? null : UnderPrefix(_default, name);

    /// <summary>The mirrored registries.</summary>
    public IReadOnlyList<UpstreamRegistry> Upstreams => _upstreams;

    /// <summary>True when every repository is mirrored (registry:2's proxy mode): nothing is pushed here.</summary>
    public bool MirrorsEverything => _root is not null;

    /// <summary>
    /// The upstream repository <paramref name="name"/> stands for, or null when it is a local repository.
    /// </summary>
    /// <param name="name">The repository named in the request path.</param>
    /// <param name="ns">containerd's <c>ns</c> query parameter (the registry host the client wanted), if any.</param>
    public ProxiedRepository? Route(RepositoryName name, string? ns)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!string.IsNullOrEmpty(ns))
        {
            foreach (var upstream in _upstreams)
            {
                if (upstream.Options.Hosts.Contains(ns, StringComparer.OrdinalIgnoreCase))
                {
                    return UnderPrefix(upstream, name);
                }
            }
        }

        foreach (var upstream in _upstreams)
        {
            var prefix = upstream.Options.Prefix;
            if (!string.IsNullOrEmpty(prefix)
                && name.Value.Length > prefix.Length + 1
                && name.Value.StartsWith(prefix, StringComparison.Ordinal)
                && name.Value[prefix.Length] == '/')
            {
                var remote = RemoteNameFor(upstream, name.Value[(prefix.Length + 1)..]);

                // hub/alpine is hub/library/alpine: one copy, one schedule, one name for access rules.
                return new ProxiedRepository(upstream, RepositoryName.TryParse($"{prefix}/{remote}", out var local) ? local : name, remote);
            }
        }

        return _root is null ? null : new ProxiedRepository(_root, name, RemoteNameFor(_root, name.Value));
    }

    /// <summary>A name the upstream knows as it is, cached under the upstream's prefix so every way of asking shares one copy.</summary>
    private static ProxiedRepository UnderPrefix(UpstreamRegistry upstream, RepositoryName name)
    {
        var prefix = upstream.Options.Prefix;
        var remote = RemoteNameFor(upstream, name.Value);
        var localName = string.IsNullOrEmpty(prefix) || !RepositoryName.TryParse($"{prefix}/{remote}", out var prefixed) ? name : prefixed;
        return new ProxiedRepository(upstream, localName, remote);
    }

    /// <summary>
    /// Docker Hub keeps official images under <c>library/</c>, and its clients add it; a mirror asked for
    /// <c>alpine</c> must ask Docker Hub for <c>library/alpine</c>, as the Docker engine would.
    /// </summary>
    private static string RemoteNameFor(UpstreamRegistry upstream, string name) =>
        upstream.IsDockerHub && !name.Contains('/', StringComparison.Ordinal) ? "library/" + name : name;
}
