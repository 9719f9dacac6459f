using System.Text;

namespace Berth.Auth;

/// <summary>Builds <c>WWW-Authenticate</c> values.</summary>
public static class Challenges
{
    /// <summary><c>Basic realm="..."</c>, as registry:2's htpasswd controller sends it.</summary>
    public static string Basic(string realm) => $"Basic realm={Quote(realm)}";

    /// <summary>
    /// <c>Bearer realm="...",service="...",scope="repository:a:pull,push repository:b:pull",error="..."</c>: the
    /// Docker token specification's challenge. Scopes are space-separated in one parameter, as Distribution sends them.
    /// </summary>
    public static string Bearer(string realm, string service, IReadOnlyList<AccessRequest> requested, string? error)
    {
        var builder = new StringBuilder("Bearer realm=").Append(Quote(realm)).Append(",service=").Append(Quote(service));
        if (requested.Count > 0)
        {
            builder.Append(",scope=").Append(Quote(string.Join(' ', requested.Select(r => r.Scope))));
        }

        if (error is not null)
        {
            builder.Append(",error=").Append(Quote(error));
        }

        return builder.ToString();
    }

    /// <summary>
    /// An RFC 7230 quoted-string: backslash and double quote escaped. Anything outside printable ASCII becomes
    /// <c>?</c>: repository names in scopes come from the request path before they are validated, and a response
    /// header must stay ASCII.
    /// </summary>
    internal static string Quote(string value)
    {
        var builder = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            if (c is '"' or '\\')
            {
                builder.Append('\\').Append(c);
            }
            else
            {
                builder.Append(c is >= ' ' and <= '~' ? c : '?');
            }
        }

        return builder.Append('"').ToString();
    }
}
