using Microsoft.AspNetCore.Http;

namespace Berth.Auth;

/// <summary>The result of a sign-in attempt from the web UI's form.</summary>
public enum SignInOutcome
{
    /// <summary>User and password are right.</summary>
    SignedIn,

    /// <summary>Wrong user or password (which of the two is never said).</summary>
    Refused,

    /// <summary>Too many failed attempts from this address; the limiter that guards the API guards the form too.</summary>
    Throttled,
}

/// <summary>
/// What the web UI needs from an access controller that people can sign in to with a password: checking the
/// password once (the UI then keeps a signed session cookie), and the access of a signed-in or anonymous visitor
/// without credentials on every request. Access controllers that cannot do this (token authentication, where only
/// the token server knows passwords) do not implement it, and the UI says it is off.
/// </summary>
public interface IBrowserSignIn
{
    /// <summary>True when anyone may browse without signing in (no authentication configured).</summary>
    bool SignInNeeded { get; }

    /// <summary>Checks <paramref name="user"/> and <paramref name="password"/>, counting failures per client address as API logins do.</summary>
    ValueTask<SignInOutcome> SignInAsync(HttpContext context, string user, string password, CancellationToken cancellationToken);

    /// <summary>
    /// A stamp of the user's current credential (a hash of the entry in the password file), kept in the session so a
    /// changed password or a removed user ends every session at once; null when the user no longer exists.
    /// </summary>
    string? CredentialStamp(string user);

    /// <summary>What <paramref name="user"/> (null for an anonymous visitor) may do, by the same rules the API applies.</summary>
    IAccessGrant GrantFor(string? user);
}
