using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Berth.Proxy;

/// <summary>
/// Signs requests to one upstream the way registry clients do. The first request goes out bare (or with what the
/// last challenge asked for); a 401 names the scheme: <c>Basic</c> gets the credentials, <c>Bearer realm=...,
/// service=...</c> sends Berth to the realm for a token for the request's scope (with the credentials when it has
/// any, anonymously otherwise). Tokens are reused until they expire, and concurrent requests for the same scope wait
/// for one token fetch instead of each making their own.
/// </summary>
internal sealed class UpstreamAuthenticator(UpstreamOptions options, UpstreamCredentials credentials, HttpClient http, TimeProvider time)
{
    /// <summary>The token specification's default lifetime when the token service names none.</summary>
    private static readonly TimeSpan DefaultTokenLifetime = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, Task<BearerToken>> _tokens = new(StringComparer.Ordinal);
    private volatile Challenge? _challenge;

    /// <summary>Token fetches made (for tests and metrics: one per scope and lifetime).</summary>
    public int TokenFetches => _tokenFetches;

    private int _tokenFetches;

    /// <summary>Adds the Authorization the upstream asked for last time, if any.</summary>
    public async Task AuthorizeAsync(HttpRequestMessage request, string? scope, CancellationToken cancellationToken)
    {
        switch (_challenge)
        {
            case { Scheme: "basic" }:
                if (await credentials.GetAsync(options.RemoteUrl.Host, cancellationToken) is { } credential)
                {
                    request.Headers.Authorization = Basic(credential);
                }

                break;
            case { Scheme: "bearer" } bearer:
                var token = await TokenAsync(bearer, scope, cancellationToken);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Value);
                break;
        }
    }

    /// <summary>
    /// True when a 401 says the token was good but grants nothing for the repository: Docker Hub's answer for a
    /// repository that does not exist (or is private to someone else), which a mirror reports as unknown.
    /// </summary>
    public static bool IsInsufficientScope(HttpResponseMessage response) =>
        response.Headers.WwwAuthenticate.Select(Challenge.Parse).Any(c => c?.Error == "insufficient_scope");

    /// <summary>
    /// Learns from a 401 how to sign in. True when the request is worth retrying: the challenge is new, or it asks
    /// for a token whose scope Berth has not got yet. False when Berth already answered this challenge as best it can.
    /// </summary>
    public bool Learn(HttpResponseMessage response, string? scope, bool sentAuthorization)
    {
        var parsed = response.Headers.WwwAuthenticate.Select(Challenge.Parse).FirstOrDefault(c => c is not null);
        if (parsed is null)
        {
            return false;
        }

        var previous = _challenge;
        _challenge = parsed;
        if (parsed.Scheme == "bearer")
        {
            // A token Berth holds for this scope was refused (revoked, or the server restarted): fetch a new one once.
            var key = TokenKey(parsed, scope);
            if (_tokens.TryRemove(key, out _))
            {
                return true;
            }

            return !sentAuthorization || previous?.Scheme != "bearer";
        }

        return !sentAuthorization;
    }

    private async Task<BearerToken> TokenAsync(Challenge challenge, string? scope, CancellationToken cancellationToken)
    {
        var key = TokenKey(challenge, scope);
        while (true)
        {
            var mine = new TaskCompletionSource<BearerToken>(TaskCreationOptions.RunContinuationsAsynchronously);
            var fetch = _tokens.GetOrAdd(key, mine.Task);
            if (ReferenceEquals(fetch, mine.Task))
            {
                _ = FetchTokenIntoAsync(challenge, scope, mine);
            }

            BearerToken token;
            try
            {
                token = await fetch.WaitAsync(cancellationToken);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // A failed fetch is not kept: the next request tries again.
                _tokens.TryRemove(new KeyValuePair<string, Task<BearerToken>>(key, fetch));
                throw;
            }

            if (token.Expires > time.GetUtcNow())
            {
                return token;
            }

            _tokens.TryRemove(new KeyValuePair<string, Task<BearerToken>>(key, fetch));
        }
    }

    private async Task FetchTokenIntoAsync(Challenge challenge, string? scope, TaskCompletionSource<BearerToken> result)
    {
        try
        {
            result.TrySetResult(await FetchTokenAsync(challenge, scope));
        }
        catch (Exception ex)
        {
            result.TrySetException(ex);
        }
    }

    private async Task<BearerToken> FetchTokenAsync(Challenge challenge, string? scope)
    {
        Interlocked.Increment(ref _tokenFetches);
        var query = new List<string>();
        if (challenge.Service is { } service)
        {
            query.Add("service=" + Uri.EscapeDataString(service));
        }

        if ((scope ?? challenge.Scope) is { } wanted)
        {
            query.Add("scope=" + Uri.EscapeDataString(wanted));
        }

        var builder = new UriBuilder(challenge.Realm!);
        var existing = builder.Query.TrimStart('?');
        builder.Query = string.Join('&', new[] { existing }.Where(q => q.Length > 0).Concat(query));

        // Not the caller's token: other requests wait on this fetch too, so one client going away must not fail it.
        using var timeout = new CancellationTokenSource(options.RequestTimeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, builder.Uri);
        var credential = await credentials.GetAsync(options.RemoteUrl.Host, timeout.Token);
        if (credential is not null)
        {
            request.Headers.Authorization = Basic(credential);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, timeout.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            throw new UpstreamException(options.Name, UpstreamFailure.Unavailable, $"the token service {builder.Uri.Host} did not answer: {ex.Message}", inner: ex);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            ProxyMetrics.RecordUpstreamRequest(options.Name, status);
            if (status is 401 or 403)
            {
                throw new UpstreamException(options.Name, UpstreamFailure.Unauthorized,
                    $"the token service {builder.Uri.Host} refused the {(credential is null ? "anonymous request" : "credentials")} ({status})", status);
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new UpstreamException(options.Name, status == 429 ? UpstreamFailure.RateLimited : UpstreamFailure.Unavailable,
                    $"the token service {builder.Uri.Host} answered {status}", status, response.Headers.RetryAfter?.Delta);
            }

            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            return ParseToken(body, builder.Uri.Host);
        }
    }

    private BearerToken ParseToken(byte[] body, string host)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var value = (root.TryGetProperty("token", out var t) ? t.GetString() : null)
                ?? (root.TryGetProperty("access_token", out var a) ? a.GetString() : null);
            if (!string.IsNullOrEmpty(value))
            {
                var lifetime = root.TryGetProperty("expires_in", out var e) && e.TryGetInt32(out var seconds) && seconds > 0
                    ? TimeSpan.FromSeconds(seconds)
                    : DefaultTokenLifetime;

                // Renew a little early, so a token does not expire between being chosen and being checked.
                return new BearerToken(value, time.GetUtcNow() + lifetime * 0.9);
            }
        }
        catch (JsonException)
        {
        }

        throw new UpstreamException(options.Name, UpstreamFailure.Unavailable, $"the token service {host} answered without a token");
    }

    private static string TokenKey(Challenge challenge, string? scope) => $"{challenge.Realm}|{challenge.Service}|{scope}";

    private static AuthenticationHeaderValue Basic(UpstreamCredential credential) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credential.Username}:{credential.Secret}")));

    private sealed record BearerToken(string Value, DateTimeOffset Expires);

    /// <summary>A parsed <c>WWW-Authenticate</c> challenge.</summary>
    internal sealed record Challenge(string Scheme, Uri? Realm, string? Service, string? Scope, string? Error = null)
    {
        public static Challenge? Parse(AuthenticationHeaderValue header)
        {
            var scheme = header.Scheme.ToLowerInvariant();
            if (scheme == "basic")
            {
                return new Challenge(scheme, null, null, null);
            }

            if (scheme != "bearer")
            {
                return null;
            }

            var parameters = ParseParameters(header.Parameter ?? "");
            return parameters.TryGetValue("realm", out var realm) && Uri.TryCreate(realm, UriKind.Absolute, out var realmUri)
                   && realmUri.Scheme is "http" or "https"
                ? new Challenge(scheme, realmUri, parameters.GetValueOrDefault("service"), parameters.GetValueOrDefault("scope"), parameters.GetValueOrDefault("error"))
                : null;
        }

        /// <summary>Parses <c>key="value", key=value</c> pairs; quoted values may hold commas and escaped quotes.</summary>
        internal static Dictionary<string, string> ParseParameters(string text)
        {
            var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var i = 0;
            while (i < text.Length)
            {
                while (i < text.Length && (text[i] == ',' || char.IsWhiteSpace(text[i])))
                {
                    i++;
                }

                var equals = text.IndexOf('=', i);
                if (equals < 0)
                {
                    break;
                }

                var key = text[i..equals].Trim();
                i = equals + 1;
                var value = new StringBuilder();
                if (i < text.Length && text[i] == '"')
                {
                    i++;
                    while (i < text.Length && text[i] != '"')
                    {
                        if (text[i] == '\\' && i + 1 < text.Length)
                        {
                            i++;
                        }

                        value.Append(text[i++]);
                    }

                    i++;
                }
                else
                {
                    while (i < text.Length && text[i] != ',')
                    {
                        value.Append(text[i++]);
                    }
                }

                result[key] = value.ToString().Trim();
            }

            return result;
        }
    }
}
