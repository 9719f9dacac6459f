using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Auth;

/// <summary>The settings of <see cref="TokenAccessController"/> (<c>auth.token</c>).</summary>
public sealed record TokenAuthSettings
{
    /// <summary>The algorithms accepted when <c>signingalgorithms</c> is not set: the asymmetric ones Distribution accepts.</summary>
    public static readonly IReadOnlyList<string> DefaultAlgorithms =
        ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"];

    public required string Realm { get; init; }

    public required string Service { get; init; }

    public required string Issuer { get; init; }

    /// <summary>Build the realm from the request's host and <see cref="AutoRedirectPath"/> instead of <see cref="Realm"/>.</summary>
    public bool AutoRedirect { get; init; }

    public string AutoRedirectPath { get; init; } = "/auth/token";

    public IReadOnlyList<string> Algorithms { get; init; } = DefaultAlgorithms;

    /// <summary>Clock skew allowed on <c>exp</c> and <c>nbf</c>, as Distribution's leeway.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// Bearer tokens per the Docker token specification (registry:2's <c>auth.token</c>): a JWT signed by a trusted
/// key (<see cref="TokenSigningKeys"/>) with the configured issuer, the service as audience, a current
/// <c>exp</c>/<c>nbf</c> (60 s leeway) and an <c>access</c> claim that must grant every action a request needs.
/// Anything else is a 401 with a Bearer challenge naming the scope to ask the token server for; a valid token
/// without the scope gets <c>error="insufficient_scope"</c>, so clients fetch a wider token, as with registry:2.
/// </summary>
public sealed partial class TokenAccessController : IAccessController
{
    private readonly TokenAuthSettings _settings;
    private readonly TokenSigningKeys _keys;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly JsonWebTokenHandler _handler = new() { MaximumTokenSizeInBytes = 64 * 1024 };
    private readonly TokenValidationParameters _parameters;

    public TokenAccessController(TokenAuthSettings settings, TokenSigningKeys keys, ILogger<TokenAccessController>? logger = null, TimeProvider? time = null)
    {
        _settings = settings;
        _keys = keys;
        _logger = logger ?? NullLogger<TokenAccessController>.Instance;
        _time = time ?? TimeProvider.System;
        _parameters = new TokenValidationParameters
        {
            ValidIssuer = settings.Issuer,
            ValidAudience = settings.Service,
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidateIssuerSigningKey = false,
            ClockSkew = settings.ClockSkew,
            ValidAlgorithms = settings.Algorithms,
            TryAllIssuerSigningKeys = false,
            // Our own clock, so tests can move it; the same rule as Distribution's: exp + skew, nbf - skew.
            LifetimeValidator = (notBefore, expires, _, _) => IsCurrent(notBefore, expires),
            IssuerSigningKeyResolver = (_, token, _, _) => ResolveKeys(token),
        };
    }

    public async ValueTask<AccessDecision> AuthorizeAsync(HttpContext context, IReadOnlyList<AccessRequest> requested, CancellationToken cancellationToken)
    {
        var header = context.Request.Headers.Authorization;
        if (header.Count != 1 || string.IsNullOrEmpty(header[0]))
        {
            return header.Count > 1
                ? Challenge(context, requested, "invalid_request", "several Authorization headers")
                : Challenge(context, requested, null, null);
        }

        var value = header[0]!.Trim();
        var space = value.IndexOf(' ', StringComparison.Ordinal);
        if (space < 0 || !value.AsSpan(0, space).Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            // Credentials for another scheme: the client should first fetch a token.
            return Challenge(context, requested, null, null);
        }

        var raw = value[(space + 1)..].Trim();
        var claims = await ValidateAsync(raw);
        if (claims is null)
        {
            return Challenge(context, requested, "invalid_token", "invalid or expired token");
        }

        foreach (var request in requested)
        {
            if (!claims.Allows(request))
            {
                LogInsufficientScope(_logger, HtpasswdAccessController.Printable(claims.Subject ?? "-"), request.Scope);
                return Challenge(context, requested, "insufficient_scope", "the token does not grant " + request.Scope);
            }
        }

        return AccessDecision.Granted(claims);
    }

    /// <summary>Validates <paramref name="raw"/>; null when it is not a currently valid token from the trusted issuer for this service.</summary>
    internal async Task<TokenGrant?> ValidateAsync(string raw)
    {
        if (raw.Length == 0 || raw.Length > _handler.MaximumTokenSizeInBytes)
        {
            return null;
        }

        TokenValidationResult result;
        try
        {
            result = await _handler.ValidateTokenAsync(raw, _parameters);
        }
        catch (Exception ex) when (ex is ArgumentException or SecurityTokenException or JsonException or FormatException)
        {
            LogInvalidToken(_logger, ex.GetType().Name);
            return null;
        }

        if (!result.IsValid || result.SecurityToken is not JsonWebToken token)
        {
            LogInvalidToken(_logger, result.Exception?.GetType().Name ?? "invalid");
            return null;
        }

        try
        {
            return TokenGrant.FromPayload(token.EncodedPayload);
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            LogInvalidToken(_logger, "malformed access claim");
            return null;
        }
    }

    private bool IsCurrent(DateTime? notBefore, DateTime? expires)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        return expires is { } exp && now <= exp.ToUniversalTime() + _settings.ClockSkew
            && (notBefore is not { } nbf || now >= nbf.ToUniversalTime() - _settings.ClockSkew);
    }

    private IEnumerable<SecurityKey> ResolveKeys(SecurityToken token)
    {
        if (token is not JsonWebToken jwt)
        {
            return [];
        }

        try
        {
            using var header = JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(jwt.EncodedHeader));
            return header.RootElement.ValueKind == JsonValueKind.Object ? _keys.Resolve(header.RootElement, _time.GetUtcNow()) : [];
        }
        catch (Exception ex) when (ex is JsonException or FormatException or ArgumentException)
        {
            return [];
        }
    }

    private AccessDecision Challenge(HttpContext context, IReadOnlyList<AccessRequest> requested, string? error, string? reason) =>
        AccessDecision.Unauthenticated(Challenges.Bearer(Realm(context), _settings.Service, requested, error), reason);

    private string Realm(HttpContext context)
    {
        if (!_settings.AutoRedirect)
        {
            return _settings.Realm;
        }

        // As Distribution: https unless a proxy says otherwise, the request's host, the configured path.
        var forwarded = context.Request.Headers["X-Forwarded-Proto"].ToString();
        var scheme = forwarded is "http" or "https" ? forwarded : "https";
        return $"{scheme}://{context.Request.Host.Value}{_settings.AutoRedirectPath}";
    }

    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "Rejected a bearer token: {Problem}")]
    private static partial void LogInvalidToken(ILogger logger, string problem);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Information, Message = "The token of '{Subject}' does not grant {Scope}")]
    private static partial void LogInsufficientScope(ILogger logger, string subject, string scope);
}

/// <summary>The <c>sub</c> and <c>access</c> claims of a validated token.</summary>
internal sealed class TokenGrant : IAccessGrant
{
    private readonly Dictionary<(string Type, string Name), HashSet<string>> _access = [];

    private TokenGrant(string? subject)
    {
        Subject = subject;
    }

    public string? Subject { get; }

    public bool Allows(AccessRequest request)
    {
        if (!_access.TryGetValue((request.Type, request.Name), out var actions))
        {
            return false;
        }

        // "*" in a token grants every action on the resource, as in Distribution.
        return actions.Contains(AccessRequest.All) || request.Actions.All(actions.Contains);
    }

    /// <summary>Reads the claims from the base64url payload of a token whose signature was verified.</summary>
    public static TokenGrant FromPayload(string encodedPayload)
    {
        using var payload = JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(encodedPayload));
        var root = payload.RootElement;
        var subject = root.TryGetProperty("sub", out var sub) && sub.ValueKind == JsonValueKind.String ? sub.GetString() : null;
        var grant = new TokenGrant(subject);
        if (!root.TryGetProperty("access", out var access) || access.ValueKind == JsonValueKind.Null)
        {
            return grant;
        }

        if (access.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("the access claim is not a list");
        }

        foreach (var entry in access.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object
                || !entry.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String
                || !entry.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
            {
                throw new FormatException("an access entry lacks its type or name");
            }

            var key = (type.GetString()!, name.GetString()!);
            if (!grant._access.TryGetValue(key, out var actions))
            {
                grant._access[key] = actions = new HashSet<string>(StringComparer.Ordinal);
            }

            if (entry.TryGetProperty("actions", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                foreach (var action in list.EnumerateArray())
                {
                    if (action.ValueKind == JsonValueKind.String)
                    {
                        actions.Add(action.GetString()!);
                    }
                }
            }
        }

        return grant;
    }
}
