using System.Text;
using Microsoft.Extensions.Primitives;

namespace Berth.Auth;

/// <summary>What an <c>Authorization</c> header holds, as far as Basic authentication is concerned.</summary>
public enum CredentialsKind
{
    /// <summary>No header: an anonymous client.</summary>
    None,

    /// <summary><c>Basic</c> with an empty user and password (<c>Og==</c>), which podman and skopeo send when they have no credentials.</summary>
    Anonymous,

    /// <summary>A user and password.</summary>
    Basic,

    /// <summary>Another scheme (<c>Bearer</c>, ...).</summary>
    OtherScheme,

    /// <summary>A header that cannot be read: several values, bad base64, no ':', invalid UTF-8, too long.</summary>
    Malformed,
}

/// <summary>A parsed <c>Authorization</c> header. <see cref="Password"/> never goes into a log or an exception.</summary>
public readonly record struct BasicCredentials(CredentialsKind Kind, string User = "", string Password = "")
{
    /// <summary>Longer Basic tokens are refused without decoding: no user name and password need 4 KiB.</summary>
    private const int MaxTokenLength = 4096;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static BasicCredentials Parse(StringValues header)
    {
        if (header.Count == 0 || (header.Count == 1 && string.IsNullOrEmpty(header[0])))
        {
            return new(CredentialsKind.None);
        }

        if (header.Count > 1)
        {
            return new(CredentialsKind.Malformed);
        }

        var value = header[0]!.AsSpan().Trim();
        var space = value.IndexOf(' ');
        var scheme = space < 0 ? value : value[..space];
        if (!scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            return new(scheme.Length == 0 ? CredentialsKind.Malformed : CredentialsKind.OtherScheme);
        }

        var token = space < 0 ? [] : value[(space + 1)..].TrimStart(' ');
        if (token.Length == 0 || token.Length > MaxTokenLength)
        {
            return new(CredentialsKind.Malformed);
        }

        var bytes = new byte[(token.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64Chars(token, bytes, out var written))
        {
            return new(CredentialsKind.Malformed);
        }

        string decoded;
        try
        {
            decoded = StrictUtf8.GetString(bytes, 0, written);
        }
        catch (DecoderFallbackException)
        {
            return new(CredentialsKind.Malformed);
        }
        finally
        {
            Array.Clear(bytes);
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return new(CredentialsKind.Malformed);
        }

        var user = decoded[..colon];
        var password = decoded[(colon + 1)..];
        if (user.Length == 0)
        {
            return password.Length == 0 ? new(CredentialsKind.Anonymous) : new(CredentialsKind.Malformed);
        }

        return new(CredentialsKind.Basic, user, password);
    }

    /// <summary>Never shows the password.</summary>
    public override string ToString() => Kind == CredentialsKind.Basic ? $"Basic {User}:***" : Kind.ToString();
}
