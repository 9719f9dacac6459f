namespace Berth.Auth;

/// <summary>Actions on a repository, as flags.</summary>
[Flags]
public enum RepositoryActions
{
    None = 0,
    Pull = 1,
    Push = 2,
    Delete = 4,
    All = Pull | Push | Delete,
}

/// <summary>
/// One rule of an <see cref="AccessPolicy"/>: on repositories matching any of <see cref="Repositories"/>,
/// everyone (signed in or not) gets <see cref="Anonymous"/>, every signed-in user gets <see cref="Authenticated"/>,
/// and the named <see cref="Users"/> and members of <see cref="Groups"/> get <see cref="Actions"/>.
/// </summary>
public sealed record AccessRule
{
    public required IReadOnlyList<RepositoryPattern> Repositories { get; init; }

    public RepositoryActions Anonymous { get; init; }

    public RepositoryActions Authenticated { get; init; }

    public IReadOnlyList<string> Users { get; init; } = [];

    public IReadOnlyList<string> Groups { get; init; } = [];

    public RepositoryActions Actions { get; init; }

    internal bool AppliesTo(string repository)
    {
        foreach (var pattern in Repositories)
        {
            if (pattern.Matches(repository))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Who may list the catalog (<c>registry:catalog:*</c>).</summary>
public sealed record CatalogAccess
{
    /// <summary>Anyone, signed in or not.</summary>
    public bool Anonymous { get; init; }

    /// <summary>Every signed-in user (the default, as registry:2 with htpasswd).</summary>
    public bool Authenticated { get; init; } = true;

    public IReadOnlyList<string> Users { get; init; } = [];

    public IReadOnlyList<string> Groups { get; init; } = [];
}

/// <summary>
/// Berth's access policy on top of htpasswd authentication. Without rules it is registry:2's behaviour:
/// every signed-in user may do everything and anonymous clients nothing. With rules, a request is allowed
/// exactly when the rules whose patterns match its repository together grant every action it needs;
/// everything else is refused. <c>push</c> implies <c>pull</c> (a client reads before it writes) and
/// <c>*</c> means pull, push and delete.
/// </summary>
public sealed class AccessPolicy
{
    private readonly IReadOnlyList<AccessRule> _rules;
    private readonly CatalogAccess _catalog;
    private readonly Dictionary<string, HashSet<string>> _groupsOfUser = new(StringComparer.Ordinal);

    public AccessPolicy(IReadOnlyDictionary<string, IReadOnlyList<string>>? groups = null, IReadOnlyList<AccessRule>? rules = null,
        CatalogAccess? catalog = null)
    {
        _rules = rules ?? [];
        _catalog = catalog ?? new CatalogAccess();
        foreach (var (group, members) in groups ?? new Dictionary<string, IReadOnlyList<string>>())
        {
            foreach (var member in members)
            {
                if (!_groupsOfUser.TryGetValue(member, out var memberOf))
                {
                    _groupsOfUser[member] = memberOf = new HashSet<string>(StringComparer.Ordinal);
                }

                memberOf.Add(group);
            }
        }
    }

    /// <summary>registry:2's behaviour: signed-in users may do everything, anonymous clients nothing.</summary>
    public static AccessPolicy Default { get; } = new();

    /// <summary>True when no rules are configured.</summary>
    public bool IsDefault => _rules.Count == 0;

    /// <summary>Parses <c>pull</c>, <c>push</c>, <c>delete</c> or <c>*</c>; push includes pull.</summary>
    public static bool TryParseAction(string text, out RepositoryActions action)
    {
        action = text switch
        {
            AccessRequest.Pull => RepositoryActions.Pull,
            AccessRequest.Push => RepositoryActions.Push | RepositoryActions.Pull,
            AccessRequest.Delete => RepositoryActions.Delete,
            AccessRequest.All => RepositoryActions.All,
            _ => RepositoryActions.None,
        };
        return action != RepositoryActions.None;
    }

    /// <summary>The actions <paramref name="user"/> (null for anonymous) has on <paramref name="repository"/>.</summary>
    public RepositoryActions ActionsOn(string? user, string repository)
    {
        if (_rules.Count == 0)
        {
            return user is null ? RepositoryActions.None : RepositoryActions.All;
        }

        var granted = RepositoryActions.None;
        foreach (var rule in _rules)
        {
            if (!rule.AppliesTo(repository))
            {
                continue;
            }

            granted |= rule.Anonymous;
            if (user is not null)
            {
                granted |= rule.Authenticated;
                if (IsNamed(user, rule.Users, rule.Groups))
                {
                    granted |= rule.Actions;
                }
            }
        }

        return granted;
    }

    /// <summary>True when <paramref name="user"/> (null for anonymous) may do everything <paramref name="request"/> asks.</summary>
    public bool Allows(string? user, AccessRequest request)
    {
        if (request.IsCatalog)
        {
            return _catalog.Anonymous
                || (user is not null && (_catalog.Authenticated || IsNamed(user, _catalog.Users, _catalog.Groups)));
        }

        if (request.Type != AccessRequest.RepositoryType)
        {
            return false;
        }

        var needed = RepositoryActions.None;
        foreach (var action in request.Actions)
        {
            // "push" needs exactly push here; the implied pull applies to what rules grant, not to what is asked.
            var flag = action switch
            {
                AccessRequest.Pull => RepositoryActions.Pull,
                AccessRequest.Push => RepositoryActions.Push,
                AccessRequest.Delete => RepositoryActions.Delete,
                AccessRequest.All => RepositoryActions.All,
                _ => RepositoryActions.None,
            };
            if (flag == RepositoryActions.None)
            {
                return false;
            }

            needed |= flag;
        }

        return (ActionsOn(user, request.Name) & needed) == needed;
    }

    private bool IsNamed(string user, IReadOnlyList<string> users, IReadOnlyList<string> groups)
    {
        foreach (var named in users)
        {
            if (string.Equals(named, user, StringComparison.Ordinal))
            {
                return true;
            }
        }

        if (groups.Count > 0 && _groupsOfUser.TryGetValue(user, out var memberOf))
        {
            foreach (var group in groups)
            {
                if (memberOf.Contains(group))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
