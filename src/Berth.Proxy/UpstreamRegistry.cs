using System.Net;
using System.Net.Http.Headers;
using Berth.Core;

namespace Berth.Proxy;

/// <summary>A manifest's identity as the upstream reports it for a HEAD.</summary>
public sealed record UpstreamManifestHead(Digest? Digest, string? MediaType, long? Size);

/// <summary>A manifest fetched from the upstream.</summary>
public sealed record UpstreamManifest(byte[] Content, string? MediaType, Digest? Digest);

/// <summary>
/// An HTTP client for one upstream registry: the distribution API's reads, signed as the upstream asks
/// (<see cref="UpstreamAuthenticator"/>), with every failure turned into an <see cref="UpstreamException"/> and
/// a 429 honoured by not asking again until the upstream's <c>Retry-After</c> has passed.
/// </summary>
public sealed class UpstreamRegistry : IDisposable
{
    /// <summary>The manifest formats Berth stores, newest first, sent as Accept so the upstream does not downgrade.</summary>
    internal static readonly string[] ManifestMediaTypes =
    [
        MediaTypes.OciIndex, MediaTypes.OciManifest, MediaTypes.DockerManifestList, MediaTypes.DockerManifest,
    ];

    /// <summary>How long Berth waits after a 429 that names no <c>Retry-After</c>.</summary>
    private static readonly TimeSpan DefaultBackOff = TimeSpan.FromSeconds(10);

    /// <summary>The longest back-off Berth accepts from a <c>Retry-After</c>.</summary>
    private static readonly TimeSpan MaxBackOff = TimeSpan.FromMinutes(15);

    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly UpstreamAuthenticator _authenticator;
    private long _backOffUntilTicks;
    private long _unreachableUntilTicks;
    private string _unreachableReason = "";

    /// <summary>How long an upstream that could not be reached is not asked again.</summary>
    private static readonly TimeSpan UnreachablePause = TimeSpan.FromSeconds(5);

    /// <param name="options">The upstream.</param>
    /// <param name="time">The clock for token lifetimes and back-off.</param>
    /// <param name="handler">The HTTP handler (tests pass their own); null for a pooled <see cref="SocketsHttpHandler"/>.</param>
    public UpstreamRegistry(UpstreamOptions options, TimeProvider time, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _time = time;
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = DecompressionMethods.None,
            // Docker Hub and S3-backed registries answer blob GETs with a redirect to their storage;
            // .NET drops the Authorization header when following one, as it must.
            AllowAutoRedirect = true,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("berth-proxy", "1"));
        _authenticator = new UpstreamAuthenticator(options, UpstreamCredentials.For(options, time), _http, time);
    }

    public UpstreamOptions Options { get; }

    /// <summary>Token fetches made so far.</summary>
    public int TokenFetches => _authenticator.TokenFetches;

    /// <summary>True for Docker Hub, whose official images live under <c>library/</c>.</summary>
    public bool IsDockerHub => Options.RemoteUrl.Host is "registry-1.docker.io" or "index.docker.io" or "docker.io";

    /// <summary>The manifest a tag or digest names: its digest, media type and size, or null when the upstream has none.</summary>
    public async Task<UpstreamManifestHead?> HeadManifestAsync(string repository, string reference, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Head, $"v2/{repository}/manifests/{reference}", repository, ManifestMediaTypes,
            HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        EnsureSuccess(response);
        return new UpstreamManifestHead(DigestHeader(response), response.Content.Headers.ContentType?.MediaType, response.Content.Headers.ContentLength);
    }

    /// <summary>A manifest by tag or digest, or null when the upstream has none.</summary>
    public async Task<UpstreamManifest?> GetManifestAsync(string repository, string reference, int maxBytes, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, $"v2/{repository}/manifests/{reference}", repository, ManifestMediaTypes,
            HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        EnsureSuccess(response);
        if (response.Content.Headers.ContentLength > maxBytes)
        {
            throw Unavailable($"the manifest {repository}:{reference} is larger than {maxBytes} bytes");
        }

        var content = await ReadBodyAsync(response, maxBytes, cancellationToken);
        return new UpstreamManifest(content, response.Content.Headers.ContentType?.MediaType, DigestHeader(response));
    }

    /// <summary>A blob's size, or null when the upstream does not have it.</summary>
    public async Task<long?> HeadBlobAsync(string repository, Digest digest, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Head, $"v2/{repository}/blobs/{digest}", repository, null,
            HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        EnsureSuccess(response);
        return response.Content.Headers.ContentLength ?? throw Unavailable($"the upstream's HEAD of {digest} named no length");
    }

    /// <summary>
    /// Starts a blob download: the response with its headers read and its body still to come, or null when the upstream
    /// does not have the blob. The caller disposes it.
    /// </summary>
    public async Task<HttpResponseMessage?> GetBlobAsync(string repository, Digest digest, CancellationToken cancellationToken)
    {
        var response = await SendAsync(HttpMethod.Get, $"v2/{repository}/blobs/{digest}", repository, null,
            HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            response.Dispose();
            return null;
        }

        try
        {
            EnsureSuccess(response);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>The upstream's tag list page (its JSON body and Link header), or null when it does not know the repository.</summary>
    public async Task<(byte[] Body, string? Link)?> GetTagsAsync(string repository, string query, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, $"v2/{repository}/tags/list{query}", repository, null,
            HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        EnsureSuccess(response);
        var link = response.Headers.TryGetValues("Link", out var values) ? values.FirstOrDefault() : null;
        return (await ReadBodyAsync(response, 16 * 1024 * 1024, cancellationToken), link);
    }

    /// <summary>True while Berth is waiting out an upstream's 429.</summary>
    public bool IsBackingOff => _time.GetUtcNow().UtcTicks < Interlocked.Read(ref _backOffUntilTicks);

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string repository, string[]? accept,
        HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        var backOffUntil = Interlocked.Read(ref _backOffUntilTicks);
        var now = _time.GetUtcNow();
        if (now.UtcTicks < backOffUntil)
        {
            var wait = TimeSpan.FromTicks(backOffUntil - now.UtcTicks);
            throw new UpstreamException(Options.Name, UpstreamFailure.RateLimited,
                $"upstream {Options.Name} asked for no requests until {new DateTimeOffset(backOffUntil, TimeSpan.Zero):u}", 429, wait);
        }

        var unreachableUntil = Interlocked.Read(ref _unreachableUntilTicks);
        if (now.UtcTicks < unreachableUntil)
        {
            // Every cached tag would otherwise wait out the same timeout, one request after another.
            throw Unavailable($"{_unreachableReason} (not asked again for {UnreachablePause.TotalSeconds:0} s)");
        }

        var scope = $"repository:{repository}:pull";
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(method, new Uri(BaseUri, path));
            foreach (var type in accept ?? [])
            {
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
            }

            await _authenticator.AuthorizeAsync(request, scope, cancellationToken);
            var response = await SendOnceAsync(request, completion, cancellationToken);
            var status = (int)response.StatusCode;
            ProxyMetrics.RecordUpstreamRequest(Options.Name, status);
            // One retry: after learning the scheme, or after a token the upstream no longer takes.
            if (status == 401 && attempt == 0 && _authenticator.Learn(response, scope, request.Headers.Authorization is not null))
            {
                response.Dispose();
                continue;
            }

            if (status == 401 && request.Headers.Authorization is { Scheme: "Bearer" } && UpstreamAuthenticator.IsInsufficientScope(response))
            {
                response.Dispose();
                return new HttpResponseMessage(HttpStatusCode.NotFound) { RequestMessage = request };
            }

            if (status is 401 or 403)
            {
                response.Dispose();
                throw new UpstreamException(Options.Name, UpstreamFailure.Unauthorized,
                    $"upstream {Options.Name} refused Berth's credentials for {repository} ({status})", status);
            }

            if (status == 429)
            {
                var retryAfter = RetryAfter(response.Headers.RetryAfter, now);
                response.Dispose();
                var until = _time.GetUtcNow() + retryAfter;
                InterlockedMax(ref _backOffUntilTicks, until.UtcTicks);
                throw new UpstreamException(Options.Name, UpstreamFailure.RateLimited,
                    $"upstream {Options.Name} is rate limiting (429); retrying after {retryAfter.TotalSeconds:0} s", 429, retryAfter);
            }

            if (status >= 500)
            {
                response.Dispose();
                throw new UpstreamException(Options.Name, UpstreamFailure.Unavailable, $"upstream {Options.Name} answered {status}", status);
            }

            return response;
        }
    }

    private async Task<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.RequestTimeout);
        try
        {
            return await _http.SendAsync(request, completion, timeout.Token);
        }
        catch (HttpRequestException ex)
        {
            throw Unreachable($"upstream {Options.Name} cannot be reached: {ex.Message}", ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw Unreachable($"upstream {Options.Name} did not answer within {Options.RequestTimeout.TotalSeconds:0} s", ex);
        }
    }

    private Uri BaseUri => Options.RemoteUrl.AbsolutePath.EndsWith('/') ? Options.RemoteUrl : new Uri(Options.RemoteUrl + "/");

    private static TimeSpan RetryAfter(RetryConditionHeaderValue? header, DateTimeOffset now)
    {
        var wait = header?.Delta ?? (header?.Date is { } date ? date - now : DefaultBackOff);
        return wait < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : wait > MaxBackOff ? MaxBackOff : wait;
    }

    private static void InterlockedMax(ref long location, long value)
    {
        var current = Interlocked.Read(ref location);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private void EnsureSuccess(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw Unavailable($"upstream {Options.Name} answered {(int)response.StatusCode} for {response.RequestMessage?.RequestUri?.AbsolutePath}");
        }
    }

    private static Digest? DigestHeader(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var digest)
            ? digest
            : null;

    private async Task<byte[]> ReadBodyAsync(HttpResponseMessage response, int maxBytes, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    throw Unavailable($"upstream {Options.Name} sent more than {maxBytes} bytes");
                }

                await buffer.WriteAsync(chunk.AsMemory(0, read), cancellationToken);
            }

            return buffer.ToArray();
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            throw Unavailable($"upstream {Options.Name} broke off its answer: {ex.Message}", ex);
        }
    }

    private UpstreamException Unreachable(string message, Exception inner)
    {
        ProxyMetrics.RecordUpstreamRequest(Options.Name, 0);
        _unreachableReason = message;
        Interlocked.Exchange(ref _unreachableUntilTicks, (_time.GetUtcNow() + UnreachablePause).UtcTicks);
        return Unavailable(message, inner);
    }

    private UpstreamException Unavailable(string message, Exception? inner = null) =>
        new(Options.Name, UpstreamFailure.Unavailable, message, inner: inner);

    public void Dispose() => _http.Dispose();
}
