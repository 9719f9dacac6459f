using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Berth.Auth;
using Microsoft.AspNetCore.Http;

namespace Berth.Ui.Security;

/// <summary>
/// Browser sessions and CSRF tokens, with no state on the server: a session is a cookie holding the user, an expiry
/// and a stamp of the user's password entry, signed with an HMAC key derived from <c>http.secret</c>. Any replica with
/// the same secret accepts it; changing the password or removing the user ends it everywhere at once.
/// </summary>
/// <remarks>
/// The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it, so a forged form
/// arrives signed out) and Secure on TLS. Forms carry a token bound to the session (or, signed out, to a random
/// cookie of the same kind), and a POST whose Origin or Sec-Fetch-Site says another site sent it is refused before
/// the token is looked at.
/// </remarks>
public sealed class UiSessions
{
    public const string SessionCookie = "berth_session";
    public const string AnonymousCookie = "berth_csrf";
    public const string CsrfField = "csrf";

    private readonly byte[] _sessionKey;
    private readonly byte[] _csrfKey;
    private readonly IBrowserSignIn _signIn;
    private readonly TimeSpan _lifetime;
    private readonly TimeProvider _time;
    private readonly string? _externalOrigin;

    /// <param name="signIn">The accounts.</param>
    /// <param name="secret">Derives the keys of cookies and form tokens.</param>
    /// <param name="lifetime">How long a session lasts.</param>
    /// <param name="time">The clock.</param>
    /// <param name="externalBase"><c>http.host</c>: the origin browsers see behind a reverse proxy, accepted on forms.</param>
    public UiSessions(IBrowserSignIn signIn, ReadOnlySpan<byte> secret, TimeSpan lifetime, TimeProvider time, Uri? externalBase = null)
    {
        _signIn = signIn;
        _externalOrigin = externalBase?.GetLeftPart(UriPartial.Authority);
        _lifetime = lifetime;
        _time = time;
        _sessionKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret.ToArray(), 32, info: "berth web ui session"u8.ToArray());
        _csrfKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret.ToArray(), 32, info: "berth web ui csrf"u8.ToArray());
    }

    /// <summary>The visitor of <paramref name="context"/>: the session's user when its cookie is valid, else anonymous.</summary>
    public Viewer Identify(HttpContext context)
    {
        var user = _signIn.SignInNeeded ? SessionUser(context.Request.Cookies[SessionCookie]) : null;
        return new Viewer(user, _signIn.GrantFor(user), _signIn.SignInNeeded, CsrfToken(context, user));
    }

    /// <summary>Starts a session for <paramref name="user"/>, whose password was just checked.</summary>
    public void SignIn(HttpContext context, string user)
    {
        var stamp = _signIn.CredentialStamp(user) ?? "";
        var expires = _time.GetUtcNow().Add(_lifetime).ToUnixTimeSeconds();
        var payload = Encoding.UTF8.GetBytes($"{expires}\n{stamp}\n{user}");
        var value = Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(HMACSHA256.HashData(_sessionKey, payload));
        context.Response.Cookies.Append(SessionCookie, value, CookieOptions(context, _lifetime));
    }

    public void SignOut(HttpContext context) =>
        context.Response.Cookies.Delete(SessionCookie, CookieOptions(context, null));

    /// <summary>
    /// True when a form POST came from one of this registry's own pages: not sent by another site (Origin,
    /// Sec-Fetch-Site) and carrying the token of the visitor's session.
    /// </summary>
    public bool IsGenuineForm(HttpContext context, string? token)
    {
        var request = context.Request;
        var fetchSite = request.Headers["Sec-Fetch-Site"].ToString();
        if (fetchSite.Length > 0 && fetchSite is not ("same-origin" or "none"))
        {
            return false;
        }

        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && origin != "null" && !IsOwnOrigin(request, origin))
        {
            return false;
        }

        if (string.IsNullOrEmpty(token))
        {
            return false;
        }

        var user = _signIn.SignInNeeded ? SessionUser(request.Cookies[SessionCookie]) : null;
        var binding = Binding(context, user, create: false);
        if (binding is null)
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(TokenFor(binding));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(token));
    }

    /// <summary>
    /// True when <paramref name="origin"/> is this registry as the browser reached it: directly, or behind a reverse
    /// proxy named by <c>http.host</c> or by <c>X-Forwarded-Proto</c>/<c>-Host</c> (as the API's absolute URLs honour them).
    /// A page of another site cannot set those headers on a form it posts, so they cannot make a forged form look local.
    /// </summary>
    private bool IsOwnOrigin(HttpRequest request, string origin)
    {
        if (string.Equals(origin, $"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase)
            || (_externalOrigin is not null && string.Equals(origin, _externalOrigin, StringComparison.OrdinalIgnoreCase)))
        {
            return true;
        }

        var scheme = FirstValue(request.Headers["X-Forwarded-Proto"]) ?? request.Scheme;
        var host = FirstValue(request.Headers["X-Forwarded-Host"]) ?? request.Host.Value;
        return string.Equals(origin, $"{scheme}://{host}", StringComparison.OrdinalIgnoreCase);
    }

    private static string? FirstValue(string? header) =>
        string.IsNullOrWhiteSpace(header) ? null : header.Split(',', 2)[0].Trim();

    /// <summary>The user of a valid, unexpired session cookie whose password entry has not changed since; else null.</summary>
    private string? SessionUser(string? cookie)
    {
        if (string.IsNullOrEmpty(cookie) || cookie.Length > 4096)
        {
            return null;
        }

        var dot = cookie.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0)
        {
            return null;
        }

        byte[] payload, signature;
        try
        {
            payload = Base64Url.DecodeFromChars(cookie.AsSpan(0, dot));
            signature = Base64Url.DecodeFromChars(cookie.AsSpan(dot + 1));
        }
        catch (FormatException)
        {
            return null;
        }

        if (!CryptographicOperations.FixedTimeEquals(HMACSHA256.HashData(_sessionKey, payload), signature))
        {
            return null;
        }

        var parts = Encoding.UTF8.GetString(payload).Split('\n', 3);
        if (parts.Length != 3 || !long.TryParse(parts[0], out var expires) || _time.GetUtcNow().ToUnixTimeSeconds() >= expires)
        {
            return null;
        }

        var stamp = _signIn.CredentialStamp(parts[2]);
        return stamp is not null && stamp == parts[1] ? parts[2] : null;
    }

    private string CsrfToken(HttpContext context, string? user) => Binding(context, user, create: true) is { } binding ? TokenFor(binding) : "";

    /// <summary>What a form token is bound to: the session cookie when signed in, else a random cookie set on first sight.</summary>
    private string? Binding(HttpContext context, string? user, bool create)
    {
        if (user is not null)
        {
            return "session:" + context.Request.Cookies[SessionCookie];
        }

        var anonymous = context.Request.Cookies[AnonymousCookie];
        if (!string.IsNullOrEmpty(anonymous) && anonymous.Length is >= 16 and <= 128)
        {
            return "anonymous:" + anonymous;
        }

        if (!create)
        {
            return null;
        }

        if (context.Items[AnonymousCookie] is string issued)
        {
            return "anonymous:" + issued;
        }

        var value = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(24));
        context.Items[AnonymousCookie] = value;
        context.Response.Cookies.Append(AnonymousCookie, value, CookieOptions(context, null));
        return "anonymous:" + value;
    }

    private string TokenFor(string binding) => Base64Url.EncodeToString(HMACSHA256.HashData(_csrfKey, Encoding.UTF8.GetBytes(binding)));

    /// <summary>
    /// Secure whenever the browser's side of the connection is TLS: served over TLS, or behind a TLS-terminating proxy
    /// (<c>X-Forwarded-Proto: https</c>, or an <c>https</c> <c>http.host</c>).
    /// </summary>
    private CookieOptions CookieOptions(HttpContext context, TimeSpan? maxAge) => new()
    {
        HttpOnly = true,
        Secure = context.Request.IsHttps
            || string.Equals(FirstValue(context.Request.Headers["X-Forwarded-Proto"]), "https", StringComparison.OrdinalIgnoreCase)
            || (_externalOrigin?.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ?? false),
        SameSite = SameSiteMode.Strict,
        Path = context.Request.PathBase.HasValue ? context.Request.PathBase.Value : "/",
        MaxAge = maxAge,
        IsEssential = true,
    };
}
