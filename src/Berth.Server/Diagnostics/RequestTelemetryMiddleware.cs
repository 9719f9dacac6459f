using System.Diagnostics;
using System.Diagnostics.Metrics;
using Berth.Api;

namespace Berth.Server.Diagnostics;

/// <summary>
/// Measures every request (count, latency, bytes in and out by route kind, method and status;
/// meter <c>Berth.Http</c>) and writes registry:2's access log line unless
/// <c>log.accesslog.disabled</c>, with the request's W3C trace id. Query strings are never logged: upload URLs carry
/// signed state.
/// </summary>
public sealed partial class RequestTelemetryMiddleware(RequestDelegate next, ILogger<RequestTelemetryMiddleware> logger, RequestTelemetryOptions options)
{
    public const string MeterName = "Berth.Http";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Requests = Meter.CreateCounter<long>("requests", description: "Requests served");
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("request.duration", unit: "s",
        description: "Time from request start to response end");
    private static readonly Counter<long> BytesIn = Meter.CreateCounter<long>("received.bytes", unit: "By",
        description: "Request body bytes declared by clients");
    private static readonly Counter<long> BytesOut = Meter.CreateCounter<long>("sent.bytes", unit: "By",
        description: "Response body bytes declared by the server");

    public async Task InvokeAsync(HttpContext context)
    {
        if (!options.AccessLog && !Requests.Enabled && !Duration.Enabled && !BytesIn.Enabled && !BytesOut.Enabled)
        {
            // Nobody listens (no Prometheus endpoint, no metrics exporter) and the access log is off: parsing the
            // route again and building the tags would be work for nobody, on every request.
            await next(context);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var request = context.Request;
            var response = context.Response;
            var elapsed = Stopwatch.GetElapsedTime(started);
            var route = request.Path.StartsWithSegments("/v2", out var rest) ? RegistryRoute.Parse(rest.Value ?? "").Kind.ToString() : "other";
            var tags = new TagList { { "route", route }, { "method", request.Method }, { "status", response.StatusCode } };
            Requests.Add(1, tags);
            Duration.Record(elapsed.TotalSeconds, tags);
            if (request.ContentLength is > 0 and var received)
            {
                BytesIn.Add(received, tags);
            }

            if (response.ContentLength is > 0 and var sent && !HttpMethods.IsHead(request.Method))
            {
                BytesOut.Add(sent, tags);
            }

            if (options.AccessLog)
            {
                LogRequest(logger, request.Method, request.PathBase + request.Path, response.StatusCode, response.ContentLength ?? 0,
                    elapsed.TotalMilliseconds, context.Connection.RemoteIpAddress?.ToString() ?? "-", context.TraceIdentifier,
                    TraceIdOf(request));
            }
        }
    }

    /// <summary>
    /// The request's W3C trace id: its span's when requests are traced; otherwise the caller's <c>traceparent</c>, so
    /// the line still ties to the caller's trace; otherwise a fresh one. Without tracing no activity is started for a
    /// request (see <see cref="RegistryHost"/>'s logging filters), so the header is read here.
    /// </summary>
    internal static string TraceIdOf(HttpRequest request)
    {
        if (Activity.Current is { IdFormat: ActivityIdFormat.W3C } activity)
        {
            return activity.TraceId.ToHexString();
        }

        return request.Headers.TryGetValue("traceparent", out var traceparent)
            && ActivityContext.TryParse(traceparent.ToString(), traceState: null, out var parent)
            ? parent.TraceId.ToHexString()
            : ActivityTraceId.CreateRandom().ToHexString();
    }

    [LoggerMessage(EventId = 3100, Level = LogLevel.Information,
        Message = "{Method} {Path} {Status} {Bytes}B {DurationMs:0.0}ms from {RemoteAddress} id={RequestId} trace={TraceId}")]
    private static partial void LogRequest(ILogger logger, string method, string path, int status, long bytes, double durationMs,
        string remoteAddress, string requestId, string traceId);
}

/// <summary>Settings of <see cref="RequestTelemetryMiddleware"/>.</summary>
public sealed record RequestTelemetryOptions(bool AccessLog);
