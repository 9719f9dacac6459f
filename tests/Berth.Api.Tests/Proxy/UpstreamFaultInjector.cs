using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Berth.Api.Tests.Proxy;

/// <summary>What the injector does to the requests it forwards.</summary>
public enum UpstreamFault
{
    /// <summary>Forward faithfully.</summary>
    None,

    /// <summary>Drop the connection without an answer.</summary>
    Refuse,

    /// <summary>Never answer (until the client gives up).</summary>
    Hang,

    /// <summary>Answer 503.</summary>
    ServiceUnavailable,

    /// <summary>Answer 429 with <see cref="UpstreamFaultInjector.RetryAfterSeconds"/> (when set).</summary>
    TooManyRequests,

    /// <summary>Forward blob bodies with their last half missing: the connection is cut after half of them.</summary>
    CutBlobBodyShort,

    /// <summary>Forward blob bodies with one byte changed.</summary>
    CorruptBlobByte,
}

/// <summary>
/// A real HTTP server between Berth and its upstream (a real registry): forwards every request and its answer, logs
/// them, and breaks them on demand (<see cref="Fault"/>), so tests see exactly what reached the upstream and how
/// Berth copes with an upstream that fails.
/// </summary>
public sealed class UpstreamFaultInjector : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _forward;
    private readonly ConcurrentQueue<string> _requests = new();

    private UpstreamFaultInjector(WebApplication app, Uri upstream)
    {
        _app = app;
        _forward = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, AutomaticDecompression = DecompressionMethods.None })
        {
            BaseAddress = upstream,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>The injector's own address: configure it as Berth's upstream.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The fault applied to requests from now on.</summary>
    public UpstreamFault Fault { get; set; }

    /// <summary>The Retry-After a <see cref="UpstreamFault.TooManyRequests"/> answer names, or null for none.</summary>
    public int? RetryAfterSeconds { get; set; }

    /// <summary>Blob bodies are sent at most this many bytes per second (0: as fast as they come), so concurrent pulls overlap.</summary>
    public int BlobBytesPerSecond { get; set; }

    /// <summary>"METHOD /path?query" of every request received, faulted or not.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    /// <summary>Requests received whose method is <paramref name="method"/> and whose path contains <paramref name="pathPart"/>.</summary>
    public int Count(string method, string pathPart) =>
        _requests.Count(r => r.StartsWith(method + " ", StringComparison.Ordinal) && r.Contains(pathPart, StringComparison.Ordinal));

    /// <summary>Forgets the requests logged so far.</summary>
    public void ClearLog() => _requests.Clear();

    public static async Task<UpstreamFaultInjector> StartAsync(Uri upstream)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var injector = new UpstreamFaultInjector(app, upstream);
        app.Run(injector.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        injector.BaseAddress = new Uri(address);
        return injector;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        _requests.Enqueue($"{request.Method} {request.Path}{request.QueryString}");
        var fault = Fault;
        switch (fault)
        {
            case UpstreamFault.Refuse:
                context.Abort();
                return;
            case UpstreamFault.Hang:
                try
                {
                    await Task.Delay(Timeout.Infinite, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                }

                return;
            case UpstreamFault.ServiceUnavailable:
                context.Response.StatusCode = 503;
                return;
            case UpstreamFault.TooManyRequests:
                context.Response.StatusCode = 429;
                if (RetryAfterSeconds is { } seconds)
                {
                    context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                return;
        }

        using var forwarded = new HttpRequestMessage(new HttpMethod(request.Method), $"{request.Path}{request.QueryString}");
        foreach (var header in request.Headers)
        {
            if (header.Key is "Authorization" or "Accept" or "Range" or "User-Agent")
            {
                forwarded.Headers.TryAddWithoutValidation(header.Key, header.Value.ToArray());
            }
        }

        using var answer = await _forward.SendAsync(forwarded, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        var response = context.Response;
        response.StatusCode = (int)answer.StatusCode;
        foreach (var header in answer.Headers.Concat(answer.Content.Headers))
        {
            if (header.Key is not ("Transfer-Encoding" or "Connection"))
            {
                response.Headers[header.Key] = header.Value.ToArray();
            }
        }

        // Realms and redirects name the upstream itself; a client following them goes around the injector, which is fine.
        var isBlob = request.Path.Value?.Contains("/blobs/sha256:", StringComparison.Ordinal) == true && HttpMethods.IsGet(request.Method)
            && answer.IsSuccessStatusCode;
        await using var body = await answer.Content.ReadAsStreamAsync(context.RequestAborted);
        if (!isBlob || (fault == UpstreamFault.None && BlobBytesPerSecond == 0))
        {
            await body.CopyToAsync(response.Body, context.RequestAborted);
            return;
        }

        var length = answer.Content.Headers.ContentLength ?? 0;
        var buffer = new byte[16 * 1024];
        long sent = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            if (fault == UpstreamFault.CutBlobBodyShort && sent + read > length / 2)
            {
                await response.Body.WriteAsync(buffer.AsMemory(0, (int)(length / 2 - sent)), context.RequestAborted);
                await response.Body.FlushAsync(context.RequestAborted);
                context.Abort();
                return;
            }

            if (fault == UpstreamFault.CorruptBlobByte && sent <= length / 2 && length / 2 < sent + read)
            {
                buffer[length / 2 - sent] ^= 0xff;
            }

            await response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
            sent += read;
            if (BlobBytesPerSecond > 0)
            {
                await response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(TimeSpan.FromSeconds((double)read / BlobBytesPerSecond), context.RequestAborted);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _forward.Dispose();
    }
}
