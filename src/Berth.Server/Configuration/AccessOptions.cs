using System.Collections.ObjectModel;
using System.Net;
using Berth.Auth;

namespace Berth.Server.Configuration;

/// <summary>
/// <c>access</c> (a Berth extension; registry:2 has no such section): who may do what on which repositories when
/// <c>auth.htpasswd</c> is on, and the failed-login limiter of every access controller.
/// </summary>
/// <example>
/// <code>
/// access:
///   groups:
///     devs: [alice, bob]
///   rules:
///     - repositories: ["public/**"]
///       anonymous: [pull]
///     - repositories: ["team/**"]
///       groups: [devs]
///       actions: [pull, push, delete]
///   catalog:
///     authenticated: true
///   failedlogins:
///     limit: 10
///     window: 5m
/// </code>
/// </example>
public sealed record AccessOptions
{
    /// <summary><c>access.groups</c>: group name to user names.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Groups { get; init; } = ReadOnlyDictionary<string, IReadOnlyList<string>>.Empty;

    /// <summary><c>access.rules</c>; empty keeps registry:2's behaviour (signed-in users may do everything, anonymous clients nothing).</summary>
    public IReadOnlyList<AccessRule> Rules { get; init; } = [];

    /// <summary><c>access.catalog</c>: who may list the catalog.</summary>
    public CatalogAccess Catalog { get; init; } = new();

    /// <summary><c>access.failedlogins</c>.</summary>
    public FailedLoginLimits FailedLogins { get; init; } = new();

    /// <summary>True when rules, groups or a catalog section are configured (they need htpasswd authentication).</summary>
    public bool HasPolicy { get; init; }

    /// <summary>The policy the rules describe.</summary>
    public AccessPolicy ToPolicy() => new(Groups, Rules, Catalog);

    internal static AccessOptions Read(SectionReader section)
    {
        var groupsValue = section["groups"];
        var groups = groupsValue.AsMap(value => value.AsStringList(allowSingleValue: true));
        foreach (var (group, members) in groups)
        {
            for (var i = 0; i < members.Count; i++)
            {
                if (!HtpasswdFile.IsValidUser(members[i], out var problem))
                {
                    throw ConfigurationException.ForKey($"{groupsValue.Key}.{group}.{i}", problem!);
                }
            }
        }

        var rulesValue = section["rules"];
        var rules = rulesValue.AsList(item => item.AsSection(rule => ReadRule(rule, groups)));
        var catalogValue = section["catalog"];
        var catalog = catalogValue.AsSection(catalogSection => ReadCatalog(catalogSection, groups));
        return new AccessOptions
        {
            Groups = groups,
            Rules = rules,
            Catalog = catalog,
            FailedLogins = section["failedlogins"].AsSection(ReadFailedLogins),
            HasPolicy = groupsValue.IsSet || rulesValue.IsSet || catalogValue.IsSet,
        };
    }

    private static AccessRule ReadRule(SectionReader section, IReadOnlyDictionary<string, IReadOnlyList<string>> groups)
    {
        var repositories = section["repositories"].AsList(ReadPattern, allowSingleValue: true);
        if (repositories.Count == 0)
        {
            throw section["repositories"].Invalid("required: the repository patterns the rule applies to, e.g. [\"team/**\"]");
        }

        var users = section["users"].AsStringList(allowSingleValue: true);
        var groupNames = ReadGroupNames(section["groups"], groups);
        var actionsValue = section["actions"];
        var actions = ReadActions(actionsValue);
        var anonymous = ReadActions(section["anonymous"]);
        var authenticated = ReadActions(section["authenticated"]);
        if ((users.Count > 0 || groupNames.Count > 0) && actions == RepositoryActions.None)
        {
            throw actionsValue.Invalid("required when users or groups are named: the actions they get, e.g. [pull, push]");
        }

        if (actions != RepositoryActions.None && users.Count == 0 && groupNames.Count == 0)
        {
            throw actionsValue.Invalid("actions are given to the rule's users or groups; name them, or use 'anonymous' or 'authenticated'");
        }

        if (actions == RepositoryActions.None && anonymous == RepositoryActions.None && authenticated == RepositoryActions.None)
        {
            throw section.Invalid("the rule grants nothing: set anonymous, authenticated, or users/groups with actions");
        }

        return new AccessRule
        {
            Repositories = repositories,
            Users = users,
            Groups = groupNames,
            Actions = actions,
            Anonymous = anonymous,
            Authenticated = authenticated,
        };
    }

    private static CatalogAccess ReadCatalog(SectionReader section, IReadOnlyDictionary<string, IReadOnlyList<string>> groups)
    {
        var defaults = new CatalogAccess();
        return new CatalogAccess
        {
            Anonymous = section["anonymous"].AsBool(defaults.Anonymous),
            Authenticated = section["authenticated"].AsBool(defaults.Authenticated),
            Users = section["users"].AsStringList(allowSingleValue: true),
            Groups = ReadGroupNames(section["groups"], groups),
        };
    }

    private static FailedLoginLimits ReadFailedLogins(SectionReader section)
    {
        var defaults = new FailedLoginLimits();
        var limit = section["limit"].AsInt32(defaults.Limit, minimum: 0, maximum: 1_000_000);
        var threshold = section["threshold"];
        var limits = new FailedLoginLimits
        {
            Limit = limit,
            Threshold = threshold.AsInt32(Math.Min(defaults.Threshold, limit), minimum: 0, maximum: 1_000_000),
            Window = section["window"].AsDuration(defaults.Window),
            MaxDelay = section["maxdelay"].AsDuration(defaults.MaxDelay),
            MaxClients = section["maxclients"].AsInt32(defaults.MaxClients, minimum: 16, maximum: 10_000_000),
            TrustedProxies = section["trustedproxies"].AsList(ReadNetwork, allowSingleValue: true),
        };

        if (limits.Enabled && limits.Threshold > limits.Limit)
        {
            throw threshold.Invalid($"must not exceed access.failedlogins.limit ({limits.Limit})");
        }

        if (limits.Enabled && limits.Window <= TimeSpan.Zero)
        {
            throw section["window"].Invalid("must be positive when the limiter is on (set limit: 0 to turn it off)");
        }

        if (limits.MaxDelay > TimeSpan.FromSeconds(30))
        {
            throw section["maxdelay"].Invalid("must be at most 30s: a delayed request holds its connection");
        }

        return limits;
    }

    private static RepositoryPattern ReadPattern(ConfigValue value)
    {
        var text = value.AsRequiredString("a repository pattern must not be empty");
        return RepositoryPattern.TryParse(text, out var pattern, out var error) ? pattern : throw value.Invalid(error);
    }

    private static IReadOnlyList<string> ReadGroupNames(ConfigValue value, IReadOnlyDictionary<string, IReadOnlyList<string>> groups) =>
        value.AsList(
            item =>
            {
                var name = item.AsRequiredString("a group name must not be empty");
                return groups.ContainsKey(name) ? name : throw item.Invalid($"unknown group '{name}'; define it under access.groups");
            },
            allowSingleValue: true);

    private static RepositoryActions ReadActions(ConfigValue value)
    {
        var actions = RepositoryActions.None;
        foreach (var item in value.AsList(item => item, allowSingleValue: true))
        {
            var text = item.AsRequiredString("an action must not be empty");
            if (!AccessPolicy.TryParseAction(text, out var action))
            {
                throw item.Invalid($"'{text}' is not an action; use pull, push, delete or *");
            }

            actions |= action;
        }

        return actions;
    }

    private static IPNetwork ReadNetwork(ConfigValue value)
    {
        var text = value.AsRequiredString("an address must not be empty");
        if (IPNetwork.TryParse(text, out var network))
        {
            return network;
        }

        return IPAddress.TryParse(text, out var address)
            ? new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)
            : throw value.Invalid($"expected an IP address or a CIDR range such as 10.0.0.0/8, got '{text}'");
    }
}
