using System.Diagnostics;

namespace Berth.Server;

/// <summary>
/// One line per request (method, path, status, bytes, duration, client), as registry:2's access
/// log; turned off with <c>log.accesslog.disabled</c>. Query strings are left out because upload
/// URLs carry signed state.
/// </summary>
public sealed partial class AccessLogMiddleware(RequestDelegate next, ILogger<AccessLogMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var request = context.Request;
            LogRequest(logger, request.Method, request.PathBase + request.Path, context.Response.StatusCode,
                context.Response.ContentLength ?? 0, Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                context.Connection.RemoteIpAddress?.ToString() ?? "-", context.TraceIdentifier);
        }
    }

    [LoggerMessage(EventId = 3100, Level = LogLevel.Information,
        Message = "{Method} {Path} {Status} {Bytes}B {DurationMs:0.0}ms from {RemoteAddress} id={RequestId}")]
    private static partial void LogRequest(ILogger logger, string method, string path, int status, long bytes, double durationMs,
        string remoteAddress, string requestId);
}
