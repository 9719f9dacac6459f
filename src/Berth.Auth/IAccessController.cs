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

    /// <summary>Every action on a resource; the catalog's only action.</summary>
    public const string All = "*";

    public static AccessRequest Repository(string name, params string[] actions) => new(RepositoryType, name, actions);

    /// <summary>The catalog, which lists every repository.</summary>
    public static AccessRequest Catalog() => new(RegistryType, "catalog", [All]);

    /// <summary>The scope string of a challenge: <c>repository:team/app:pull,push</c>.</summary>
    public string Scope => $"{Type}:{Name}:{string.Join(',', Actions)}";

    /// <summary>True for <c>registry:catalog:*</c>.</summary>
    public bool IsCatalog => Type == RegistryType && Name == "catalog";
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
/// What a request may do once it was let in: the HTTP layer asks it again for access the route
/// alone does not name (the source repository of a cross-repository mount).
/// </summary>
public interface IAccessGrant
{
    /// <summary>The authenticated user or token subject; null for an anonymous client.</summary>
    string? Subject { get; }

    /// <summary>True when every action of <paramref name="request"/> is allowed.</summary>
    bool Allows(AccessRequest request);
}

/// <summary>
/// An access decision. <see cref="Challenge"/> is the <c>WWW-Authenticate</c> value that goes on
/// a 401; <see cref="RetryAfter"/> goes on a 429; <see cref="Grant"/> is set when granted.
/// <see cref="Reason"/> is safe to show the client (it never says which of user or password was wrong).
/// </summary>
public sealed record AccessDecision(AccessOutcome Outcome, string? Subject = null, string? Challenge = null, TimeSpan? RetryAfter = null,
    string? Reason = null)
{
    /// <summary>What the client may do; set exactly when <see cref="Outcome"/> is <see cref="AccessOutcome.Granted"/>.</summary>
    public IAccessGrant? Grant { get; init; }

    public static AccessDecision Granted(IAccessGrant grant) => new(AccessOutcome.Granted, grant.Subject) { Grant = grant };

    public static AccessDecision Unauthenticated(string challenge, string? reason = null) =>
        new(AccessOutcome.Unauthenticated, Challenge: challenge, Reason: reason);

    public static AccessDecision Denied(string? subject, string? reason = null) => new(AccessOutcome.Denied, subject, Reason: reason);

    public static AccessDecision Throttled(TimeSpan retryAfter) =>
        new(AccessOutcome.Throttled, RetryAfter: retryAfter, Reason: "too many failed logins from this address; try again later");
}

/// <summary>
/// Decides whether a request may do what it asks. Implementations: none (everything granted),
/// htpasswd (basic auth against a bcrypt file, plus access policies), token (Docker token
/// specification JWTs), silly (development only). The HTTP layer computes the <see cref="AccessRequest"/>s
/// of each route and maps the outcome to the spec's status and error code; implementations never write responses.
/// </summary>
public interface IAccessController
{
    /// <summary>
    /// Authorizes <paramref name="requested"/> (empty for the version check, which needs only an
    /// authenticated client when authentication is on). Never throws for bad client input: malformed
    /// credentials are an <see cref="AccessOutcome.Unauthenticated"/> decision.
    /// </summary>
    ValueTask<AccessDecision> AuthorizeAsync(HttpContext context, IReadOnlyList<AccessRequest> requested, CancellationToken cancellationToken);
}
