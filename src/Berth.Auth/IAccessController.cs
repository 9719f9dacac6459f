using Microsoft.AspNetCore.Http;

namespace Berth.Auth;

/// <summary>
/// One resource and the actions a request needs on it, in the Docker token specification's terms:
/// <c>repository:team/app:pull,push</c> or <c>registry:catalog:*</c>.
/// </summary>
public sealed record AccessRequest(string Type, string Name, IReadOnlyList<string> Actions)
{
    public const string RepositoryType = "repository";
    public const string RegistryType = "registry";
    public const string Pull = "pull";
    public const string Push = "push";
    public const string Delete = "delete";

    public static AccessRequest Repository(string name, params string[] actions) => new(RepositoryType, name, actions);

    /// <summary>The catalog, which lists every repository.</summary>
    public static AccessRequest Catalog() => new(RegistryType, "catalog", ["*"]);

    /// <summary>The scope string of a challenge: <c>repository:team/app:pull,push</c>.</summary>
    public string Scope => $"{Type}:{Name}:{string.Join(',', Actions)}";
}

/// <summary>What an access controller decided about a request.</summary>
public enum AccessOutcome
{
    /// <summary>Go ahead.</summary>
    Granted,

    /// <summary>No or bad credentials: 401 UNAUTHORIZED with <see cref="AccessDecision.Challenge"/>.</summary>
    Unauthenticated,

    /// <summary>Authenticated but not allowed: 403 DENIED.</summary>
    Denied,

    /// <summary>Too many failed attempts from this client: 429 TOOMANYREQUESTS.</summary>
    Throttled,
}

/// <summary>
/// An access decision. <see cref="Challenge"/> is the <c>WWW-Authenticate</c> value that goes on
/// a 401 (and is harmless on others); <see cref="RetryAfter"/> goes on a 429.
/// </summary>
public sealed record AccessDecision(AccessOutcome Outcome, string? Subject = null, string? Challenge = null, TimeSpan? RetryAfter = null,
    string? Reason = null)
{
    public static AccessDecision Grant(string? subject) => new(AccessOutcome.Granted, subject);
}

/// <summary>
/// Decides whether a request may do what it asks. Implementations: none (everything granted),
/// htpasswd (basic auth against a bcrypt file, plus access policies), token (Docker token
/// specification JWTs). The HTTP layer computes the <see cref="AccessRequest"/>s of each route
/// and maps the outcome to the spec's status and error code; implementations never write responses.
/// </summary>
public interface IAccessController
{
    /// <summary>
    /// Authorizes <paramref name="requested"/> (empty for the version check, which needs only an
    /// authenticated client when authentication is on).
    /// </summary>
    ValueTask<AccessDecision> AuthorizeAsync(HttpContext context, IReadOnlyList<AccessRequest> requested, CancellationToken cancellationToken);
}
