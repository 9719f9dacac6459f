using System.Text;
using Berth.Ui.Security;
using Microsoft.AspNetCore.Http;

namespace Berth.Ui.Tests;

public sealed class UiSessionsTests
{
    private static readonly byte[] Secret = Encoding.UTF8.GetBytes("ui-sessions-tests-secret");
    private static readonly TimeSpan Lifetime = TimeSpan.FromHours(8);

    private readonly ManualTime _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly TestAccounts _accounts = new();
    private readonly UiSessions _sessions;

    public UiSessionsTests()
    {
        _accounts.Add("alice", "alice-pw");
        _accounts.Add("bob", "bob-pw");
        _sessions = new UiSessions(_accounts, Secret, Lifetime, _time);
    }

    [Fact]
    public void Identify_ValidSessionCookie_IsTheSignedInUser()
    {
        var cookie = SignIn("alice");

        var viewer = _sessions.Identify(Request(session: cookie));

        Assert.Equal("alice", viewer.User);
        Assert.True(viewer.SignInNeeded);
        Assert.False(string.IsNullOrEmpty(viewer.CsrfToken));
    }

    [Fact]
    public void SignIn_Cookie_IsHttpOnlySameSiteStrictAndLastsTheLifetime()
    {
        var context = Request();
        _sessions.SignIn(context, "alice");

        var header = SetCookie(context, UiSessions.SessionCookie);
        Assert.Contains("httponly", header, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", header, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/", header, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("max-age=28800", header, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", header.Replace("samesite", "", StringComparison.OrdinalIgnoreCase), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void SignIn_OverHttps_CookieIsSecure()
    {
        var context = Request();
        context.Request.Scheme = "https";
        context.Request.IsHttps = true;
        _sessions.SignIn(context, "alice");

        Assert.Contains("; secure", SetCookie(context, UiSessions.SessionCookie), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void SignIn_BehindTlsTerminatingProxy_CookieIsSecure()
    {
        var context = Request();
        context.Request.Headers["X-Forwarded-Proto"] = "https";
        _sessions.SignIn(context, "alice");

        Assert.Contains("; secure", SetCookie(context, UiSessions.SessionCookie), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void SignOut_Cookie_IsExpired()
    {
        var context = Request(session: SignIn("alice"));
        _sessions.SignOut(context);

        var header = SetCookie(context, UiSessions.SessionCookie);
        Assert.StartsWith(UiSessions.SessionCookie + "=;", header, StringComparison.Ordinal);
        Assert.Contains("expires=Thu, 01 Jan 1970", header, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Identify_TamperedPayload_IsAnonymous()
    {
        var cookie = SignIn("alice");
        var dot = cookie.IndexOf('.', StringComparison.Ordinal);
        var payload = Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(cookie.AsSpan(0, dot)));
        var forged = System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload.Replace("alice", "admin", StringComparison.Ordinal)));
        _accounts.Add("admin", "admin-pw");

        Assert.Null(_sessions.Identify(Request(session: forged + cookie[dot..])).User);
    }

    [Fact]
    public void Identify_TamperedSignature_IsAnonymous()
    {
        var cookie = SignIn("alice");
        var last = cookie[^2] == 'A' ? 'B' : 'A';
        var forged = cookie[..^2] + last + cookie[^1];

        Assert.Null(_sessions.Identify(Request(session: forged)).User);
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData(".")]
    [InlineData("abc.")]
    [InlineData(".abc")]
    [InlineData("!!!.???")]
    public void Identify_MalformedCookie_IsAnonymous(string cookie)
    {
        Assert.Null(_sessions.Identify(Request(session: cookie)).User);
    }

    [Fact]
    public void Identify_SessionFromAnotherSecret_IsAnonymous()
    {
        var other = new UiSessions(_accounts, Encoding.UTF8.GetBytes("another-secret"), Lifetime, _time);
        var context = Request();
        other.SignIn(context, "alice");

        Assert.Null(_sessions.Identify(Request(session: CookieValue(context, UiSessions.SessionCookie))).User);
    }

    [Fact]
    public void Identify_ExpiredSession_IsAnonymous()
    {
        var cookie = SignIn("alice");

        _time.Advance(Lifetime - TimeSpan.FromSeconds(1));
        Assert.Equal("alice", _sessions.Identify(Request(session: cookie)).User);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(_sessions.Identify(Request(session: cookie)).User);
    }

    [Fact]
    public void Identify_PasswordChanged_EndsTheSession()
    {
        var cookie = SignIn("alice");

        _accounts.Add("alice", "new-password");

        Assert.Null(_sessions.Identify(Request(session: cookie)).User);
    }

    [Fact]
    public void Identify_UserRemoved_EndsTheSession()
    {
        var cookie = SignIn("bob");

        _accounts.Remove("bob");

        Assert.Null(_sessions.Identify(Request(session: cookie)).User);
    }

    [Fact]
    public void IsGenuineForm_SessionToken_IsAccepted()
    {
        var cookie = SignIn("alice");
        var token = _sessions.Identify(Request(session: cookie)).CsrfToken;

        Assert.True(_sessions.IsGenuineForm(Request(session: cookie), token));
    }

    [Fact]
    public void IsGenuineForm_TokenOfAnotherSession_IsRefused()
    {
        var alice = SignIn("alice");
        var bob = SignIn("bob");
        var bobsToken = _sessions.Identify(Request(session: bob)).CsrfToken;

        Assert.False(_sessions.IsGenuineForm(Request(session: alice), bobsToken));
    }

    [Fact]
    public void IsGenuineForm_AnonymousToken_IsBoundToItsCookie()
    {
        var first = Request();
        var token = _sessions.Identify(first).CsrfToken;
        var anonymous = CookieValue(first, UiSessions.AnonymousCookie);

        Assert.True(_sessions.IsGenuineForm(Request(anonymous: anonymous), token));
        Assert.False(_sessions.IsGenuineForm(Request(), token));
        Assert.False(_sessions.IsGenuineForm(Request(anonymous: "another-random-cookie-value"), token));
    }

    [Fact]
    public void Identify_Anonymous_SetsOneHttpOnlyStrictCsrfCookie()
    {
        var context = Request();
        var first = _sessions.Identify(context).CsrfToken;
        var second = _sessions.Identify(context).CsrfToken;

        Assert.Equal(first, second);
        var headers = context.Response.Headers.SetCookie.Where(h => h!.StartsWith(UiSessions.AnonymousCookie + "=", StringComparison.Ordinal)).ToList();
        var header = Assert.Single(headers)!;
        Assert.Contains("httponly", header, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", header, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void IsGenuineForm_AnonymousTokenAfterSignIn_IsRefused()
    {
        var first = Request();
        var token = _sessions.Identify(first).CsrfToken;
        var anonymous = CookieValue(first, UiSessions.AnonymousCookie);

        Assert.False(_sessions.IsGenuineForm(Request(session: SignIn("alice"), anonymous: anonymous), token));
    }

    [Fact]
    public void IsGenuineForm_SessionTokenAfterExpiry_IsRefused()
    {
        var cookie = SignIn("alice");
        var token = _sessions.Identify(Request(session: cookie)).CsrfToken;

        _time.Advance(Lifetime);

        Assert.False(_sessions.IsGenuineForm(Request(session: cookie), token));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("wrong")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void IsGenuineForm_MissingOrWrongToken_IsRefused(string? token)
    {
        var cookie = SignIn("alice");

        Assert.False(_sessions.IsGenuineForm(Request(session: cookie), token));
    }

    [Theory]
    [InlineData("https://evil.example")]
    [InlineData("http://evil.example")]
    [InlineData("http://registry.example:5001")]
    [InlineData("https://registry.example:5000")]
    public void IsGenuineForm_ForeignOrigin_IsRefused(string origin)
    {
        var cookie = SignIn("alice");
        var token = _sessions.Identify(Request(session: cookie)).CsrfToken;
        var context = Request(session: cookie);
        context.Request.Headers.Origin = origin;

        Assert.False(_sessions.IsGenuineForm(context, token));
    }

    [Fact]
    public void IsGenuineForm_OwnOrigin_IsAccepted()
    {
        var cookie = SignIn("alice");
        var token = _sessions.Identify(Request(session: cookie)).CsrfToken;
        var context = Request(session: cookie);
        context.Request.Headers.Origin = "http://registry.example:5000";
        context.Request.Headers["Sec-Fetch-Site"] = "same-origin";

        Assert.True(_sessions.IsGenuineForm(context, token));
    }

    [Theory]
    [InlineData("https", "registry.example.com", "https://registry.example.com", true)]
    [InlineData("https", null, "https://registry.example:5000", true)]
    [InlineData("https", "registry.example.com", "https://evil.example", false)]
    [InlineData(null, null, "https://registry.example:5000", false)]
    public void IsGenuineForm_BehindForwardingProxy_AcceptsThePublicOrigin(string? proto, string? host, string origin, bool accepted)
    {
        var cookie = SignIn("alice");
        var token = _sessions.Identify(Request(session: cookie)).CsrfToken;
        var context = Request(session: cookie);
        context.Request.Headers.Origin = origin;
        if (proto is not null)
        {
            context.Request.Headers["X-Forwarded-Proto"] = proto;
        }

        if (host is not null)
        {
            context.Request.Headers["X-Forwarded-Host"] = host;
        }

        Assert.Equal(accepted, _sessions.IsGenuineForm(context, token));
    }

    [Fact]
    public void IsGenuineForm_ExternalBase_AcceptsItsOrigin()
    {
        var sessions = new UiSessions(_accounts, Secret, Lifetime, _time, new Uri("https://registry.example.com/"));
        var context = Request();
        sessions.SignIn(context, "alice");
        var cookie = CookieValue(context, UiSessions.SessionCookie);
        var token = sessions.Identify(Request(session: cookie)).CsrfToken;
        var posted = Request(session: cookie);
        posted.Request.Headers.Origin = "https://registry.example.com";
        var foreign = Request(session: cookie);
        foreign.Request.Headers.Origin = "https://evil.example";

        Assert.True(sessions.IsGenuineForm(posted, token));
        Assert.False(sessions.IsGenuineForm(foreign, token));
    }

    [Theory]
    [InlineData("cross-site")]
    [InlineData("same-site")]
    public void IsGenuineForm_SecFetchSiteNotSameOrigin_IsRefused(string site)
    {
        var cookie = SignIn("alice");
        var token = _sessions.Identify(Request(session: cookie)).CsrfToken;
        var context = Request(session: cookie);
        context.Request.Headers["Sec-Fetch-Site"] = site;

        Assert.False(_sessions.IsGenuineForm(context, token));
    }

    private string SignIn(string user)
    {
        var context = Request();
        _sessions.SignIn(context, user);
        return CookieValue(context, UiSessions.SessionCookie);
    }

    private static DefaultHttpContext Request(string? session = null, string? anonymous = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("registry.example:5000");
        context.Request.Method = "POST";
        var cookies = new List<string>();
        if (session is not null)
        {
            cookies.Add($"{UiSessions.SessionCookie}={session}");
        }

        if (anonymous is not null)
        {
            cookies.Add($"{UiSessions.AnonymousCookie}={anonymous}");
        }

        if (cookies.Count > 0)
        {
            context.Request.Headers.Cookie = string.Join("; ", cookies);
        }

        return context;
    }

    private static string SetCookie(HttpContext context, string name) =>
        context.Response.Headers.SetCookie.Single(header => header!.StartsWith(name + "=", StringComparison.Ordinal))!;

    private static string CookieValue(HttpContext context, string name)
    {
        var header = SetCookie(context, name);
        var value = header[(name.Length + 1)..];
        return value[..value.IndexOf(';', StringComparison.Ordinal)];
    }
}
