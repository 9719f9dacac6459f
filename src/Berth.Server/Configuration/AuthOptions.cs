namespace Berth.Server.Configuration;

/// <summary>
/// <c>auth</c>: at most one access controller, named by the section's single key (<c>htpasswd</c>, <c>token</c>
/// or <c>silly</c>). As in Distribution, <c>auth: htpasswd</c> (or <c>REGISTRY_AUTH=htpasswd</c>) names one with no
/// parameters. Exactly one of <see cref="Htpasswd"/>, <see cref="Token"/>, <see cref="Silly"/> is set when
/// <see cref="Type"/> is not null.
/// </summary>
public sealed record AuthOptions
{
    /// <summary>Basic authentication against an Apache htpasswd file (bcrypt entries).</summary>
    public const string HtpasswdType = "htpasswd";

    /// <summary>Bearer tokens issued by an external token server (the Docker token specification).</summary>
    public const string TokenType = "token";

    /// <summary>Distribution's development controller: any request with an Authorization header is let in.</summary>
    public const string SillyType = "silly";

    /// <summary>The access controller: <see cref="HtpasswdType"/>, <see cref="TokenType"/>, <see cref="SillyType"/>, or null for none (anonymous access).</summary>
    public string? Type { get; init; }

    /// <summary><c>auth.htpasswd</c>.</summary>
    public HtpasswdAuthOptions? Htpasswd { get; init; }

    /// <summary><c>auth.token</c>.</summary>
    public TokenAuthOptions? Token { get; init; }

    /// <summary><c>auth.silly</c>.</summary>
    public SillyAuthOptions? Silly { get; init; }

    internal static AuthOptions Read(SectionReader section)
    {
        var types = section.PresentKeys;
        if (types.Count > 1)
        {
            throw section.Invalid($"exactly one access controller may be configured, found {string.Join(", ", types)}");
        }

        if (types.Count == 0)
        {
            return new AuthOptions();
        }

        var type = types[0];
        var parameters = section[type];
        return type switch
        {
            HtpasswdType => new AuthOptions { Type = type, Htpasswd = parameters.AsSection(HtpasswdAuthOptions.Read) },
            TokenType => new AuthOptions { Type = type, Token = parameters.AsSection(TokenAuthOptions.Read) },
            SillyType => new AuthOptions { Type = type, Silly = parameters.AsSection(SillyAuthOptions.Read) },
            _ => throw parameters.Invalid($"the '{type}' access controller is not supported; use {HtpasswdType}, {TokenType} or {SillyType}"),
        };
    }
}

/// <summary><c>auth.htpasswd</c>.</summary>
public sealed record HtpasswdAuthOptions
{
    /// <summary><c>realm</c>: the realm in the Basic challenge (required).</summary>
    public required string Realm { get; init; }

    /// <summary><c>path</c>: the htpasswd file (required). Distribution creates it with a random user when missing.</summary>
    public required string Path { get; init; }

    internal static HtpasswdAuthOptions Read(SectionReader section) => new()
    {
        Realm = section["realm"].AsRequiredString("required for htpasswd authentication"),
        Path = section["path"].AsRequiredString("required for htpasswd authentication: the htpasswd file"),
    };
}

/// <summary><c>auth.token</c>: trust bearer tokens signed by a token server.</summary>
public sealed record TokenAuthOptions
{
    /// <summary>Where Distribution redirects to when <see cref="AutoRedirect"/> is on and no path is given.</summary>
    public const string DefaultAutoRedirectPath = "/auth/token";

    /// <summary><c>realm</c>: the token server URL clients are sent to (required).</summary>
    public required string Realm { get; init; }

    /// <summary><c>service</c>: the service name tokens must be issued for (required).</summary>
    public required string Service { get; init; }

    /// <summary><c>issuer</c>: the issuer tokens must carry (required).</summary>
    public required string Issuer { get; init; }

    /// <summary><c>rootcertbundle</c>: PEM certificates whose keys may sign tokens.</summary>
    public string? RootCertBundle { get; init; }

    /// <summary><c>jwks</c>: a JSON Web Key Set file whose keys may sign tokens.</summary>
    public string? Jwks { get; init; }

    /// <summary><c>autoredirect</c>: build the realm from the request's host and <see cref="AutoRedirectPath"/>.</summary>
    public bool AutoRedirect { get; init; }

    /// <summary><c>autoredirectpath</c> (default <c>/auth/token</c>).</summary>
    public string AutoRedirectPath { get; init; } = DefaultAutoRedirectPath;

    /// <summary><c>signingalgorithms</c>: the JWS algorithms accepted; empty for the default set.</summary>
    public IReadOnlyList<string> SigningAlgorithms { get; init; } = [];

    internal static TokenAuthOptions Read(SectionReader section)
    {
        var options = new TokenAuthOptions
        {
            Realm = section["realm"].AsRequiredString("required for token authentication"),
            Service = section["service"].AsRequiredString("required for token authentication"),
            Issuer = section["issuer"].AsRequiredString("required for token authentication"),
            RootCertBundle = section["rootcertbundle"].AsString(),
            Jwks = section["jwks"].AsString(),
            AutoRedirect = section["autoredirect"].AsBool(),
            AutoRedirectPath = section["autoredirectpath"].AsString(DefaultAutoRedirectPath),
            SigningAlgorithms = section["signingalgorithms"].AsStringList(),
        };

        if (options.RootCertBundle is null && options.Jwks is null)
        {
            throw section.Invalid("token authentication needs a signing key: set rootcertbundle or jwks");
        }

        return options;
    }
}

/// <summary><c>auth.silly</c>: for development only.</summary>
public sealed record SillyAuthOptions
{
    /// <summary><c>realm</c> (required).</summary>
    public required string Realm { get; init; }

    /// <summary><c>service</c> (required).</summary>
    public required string Service { get; init; }

    internal static SillyAuthOptions Read(SectionReader section) => new()
    {
        Realm = section["realm"].AsRequiredString("required for silly authentication"),
        Service = section["service"].AsRequiredString("required for silly authentication"),
    };
}
