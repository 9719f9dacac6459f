using System.Diagnostics;
using Berth.Api;
using Berth.Auth;
using Berth.Server.Configuration;
using Berth.Storage;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Berth.Server.Diagnostics;

/// <summary>
/// OpenTelemetry, as the <c>OTEL_*</c> variables ask (<see cref="TracingOptions"/>): spans of every request
/// (ASP.NET Core), of every storage driver call (<c>Berth.Storage</c>), of the access decision (<c>Berth.Auth</c>)
/// and of every outgoing HTTP call (the pull-through cache's upstream, S3, Azure, notifications), exported over OTLP;
/// optionally Berth's meters over OTLP too. With both off nothing is registered: no listener, no per-request cost.
/// </summary>
internal static class TracingExtensions
{
    /// <summary>The repository a request addresses, as a span attribute (the route template leaves it out).</summary>
    public const string RepositoryAttribute = "berth.repository";

    /// <summary>The tag, digest or upload id after the resource keyword.</summary>
    public const string ReferenceAttribute = "berth.reference";

    public static IServiceCollection AddBerthTracing(this IServiceCollection services, TracingOptions options, int? debugPort)
    {
        if (!options.Enabled && !options.MetricsEnabled)
        {
            return services;
        }

        var telemetry = services.AddOpenTelemetry().ConfigureResource(resource => resource
            .Clear()
            .AddService(options.ServiceName, serviceVersion: BerthCommandLine.Version)
            .AddTelemetrySdk()
            .AddAttributes(options.ResourceAttributes.Select(p => new KeyValuePair<string, object>(p.Key, p.Value))));

        if (options.Enabled)
        {
            telemetry.WithTracing(tracing => tracing
                .SetSampler(CreateSampler(options))
                .AddSource(StorageTracing.ActivitySourceName, AccessTracing.ActivitySourceName)
                .AddAspNetCoreInstrumentation(aspnet =>
                {
                    // Health probes and scrapes on the debug listener would bury the registry's own traffic.
                    aspnet.Filter = context => debugPort is not { } port || context.Connection.LocalPort != port;
                    aspnet.EnrichWithHttpResponse = NameRequestSpan;
                })
                .AddHttpClientInstrumentation()
                .AddOtlpExporter(exporter =>
                {
                    exporter.Endpoint = options.TracesEndpoint;
                    exporter.Protocol = Transport(options.Protocol);
                    exporter.Headers = options.Headers;
                    exporter.TimeoutMilliseconds = options.TimeoutMilliseconds;
                    exporter.ExportProcessorType = ExportProcessorType.Batch;
                    exporter.BatchExportProcessorOptions = new BatchExportProcessorOptions<Activity>
                    {
                        ScheduledDelayMilliseconds = options.BatchScheduleDelayMilliseconds,
                        MaxQueueSize = options.BatchMaxQueueSize,
                        MaxExportBatchSize = options.BatchMaxExportSize,
                        ExporterTimeoutMilliseconds = options.BatchExportTimeoutMilliseconds,
                    };
                }));
        }

        if (options.MetricsEnabled)
        {
            // Berth's own meters (the debug listener's Prometheus endpoint adds the runtime's and Kestrel's); both listen side by side.
            telemetry.WithMetrics(metrics => metrics
                .AddMeter("Berth.*")
                .AddOtlpExporter((exporter, reader) =>
                {
                    exporter.Endpoint = options.MetricsEndpoint;
                    exporter.Protocol = Transport(options.MetricsProtocol);
                    exporter.Headers = options.MetricsHeaders;
                    exporter.TimeoutMilliseconds = options.MetricsTimeoutMilliseconds;
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = options.MetricsExportIntervalMilliseconds;
                    reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
                }));
        }

        return services;
    }

    /// <summary>
    /// Names a <c>/v2</c> request's span after its route template (<c>GET /v2/{name}/manifests/{reference}</c>),
    /// low-cardinality as OpenTelemetry's HTTP conventions ask, and puts the repository and reference in attributes.
    /// ASP.NET Core alone would name every registry request after the one catch-all route.
    /// </summary>
    internal static void NameRequestSpan(Activity span, HttpResponse response)
    {
        var request = response.HttpContext.Request;
        if (!request.Path.StartsWithSegments("/v2", out var rest))
        {
            return;
        }

        var route = RegistryRoute.Parse(rest.Value ?? "");
        var template = RouteTemplate(route.Kind);
        span.DisplayName = request.Method + " " + template;
        span.SetTag("http.route", template);
        if (route.Name.Length > 0)
        {
            span.SetTag(RepositoryAttribute, route.Name);
        }

        if (route.Argument.Length > 0 && route.Kind is RouteKind.Manifest or RouteKind.Blob or RouteKind.Referrers)
        {
            span.SetTag(ReferenceAttribute, route.Argument);
        }
    }

    /// <summary>The OCI distribution spec's names for each endpoint's path.</summary>
    internal static string RouteTemplate(RouteKind kind) => kind switch
    {
        RouteKind.Base => "/v2/",
        RouteKind.Catalog => "/v2/_catalog",
        RouteKind.Tags => "/v2/{name}/tags/list",
        RouteKind.Manifest => "/v2/{name}/manifests/{reference}",
        RouteKind.Blob => "/v2/{name}/blobs/{digest}",
        RouteKind.UploadStart => "/v2/{name}/blobs/uploads/",
        RouteKind.Upload => "/v2/{name}/blobs/uploads/{uuid}",
        RouteKind.Referrers => "/v2/{name}/referrers/{digest}",
        _ => "/v2/{**path}",
    };

    private static Sampler CreateSampler(TracingOptions options) => options.Sampler switch
    {
        TraceSamplerKind.AlwaysOn => new AlwaysOnSampler(),
        TraceSamplerKind.AlwaysOff => new AlwaysOffSampler(),
        TraceSamplerKind.TraceIdRatio => new TraceIdRatioBasedSampler(options.SamplerRatio),
        TraceSamplerKind.ParentBasedAlwaysOff => new ParentBasedSampler(new AlwaysOffSampler()),
        TraceSamplerKind.ParentBasedTraceIdRatio => new ParentBasedSampler(new TraceIdRatioBasedSampler(options.SamplerRatio)),
        _ => new ParentBasedSampler(new AlwaysOnSampler()),
    };

    private static OtlpExportProtocol Transport(OtlpTransport transport) =>
        transport == OtlpTransport.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
}
