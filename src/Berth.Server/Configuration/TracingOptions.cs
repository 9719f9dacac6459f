using System.Globalization;

namespace Berth.Server.Configuration;

/// <summary>The OTLP transport of exported spans.</summary>
public enum OtlpTransport
{
    /// <summary><c>http/protobuf</c>: <c>POST /v1/traces</c> with a protobuf body (OTLP's and Distribution's default).</summary>
    HttpProtobuf,

    /// <summary><c>grpc</c>.</summary>
    Grpc,
}

/// <summary>The sampler <c>OTEL_TRACES_SAMPLER</c> names.</summary>
public enum TraceSamplerKind
{
    AlwaysOn,
    AlwaysOff,
    TraceIdRatio,
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedTraceIdRatio,
}

/// <summary>
/// Tracing (and optional OTLP metrics), set with OpenTelemetry's standard <c>OTEL_*</c> environment variables as
/// Distribution 3 does, not with <c>config.yml</c> keys. Tracing is on when <c>OTEL_TRACES_EXPORTER</c> says
/// <c>otlp</c> or an OTLP endpoint variable is set; otherwise nothing listens and requests pay nothing for it.
/// Every <c>OTEL_*</c> variable is either honoured, warned about (naming it) or, for a value Berth cannot use,
/// refused at start-up.
/// </summary>
public sealed record TracingOptions
{
    public const string DefaultServiceName = "berth";

    /// <summary>True when spans are exported.</summary>
    public bool Enabled { get; init; }

    /// <summary>Where spans go: the full URL (for <c>http/protobuf</c>, with <c>/v1/traces</c>).</summary>
    public Uri TracesEndpoint { get; init; } = new("http://localhost:4318/v1/traces");

    public OtlpTransport Protocol { get; init; } = OtlpTransport.HttpProtobuf;

    /// <summary><c>OTEL_EXPORTER_OTLP_[TRACES_]HEADERS</c> as given (<c>k=v,k2=v2</c>); may hold credentials, never logged.</summary>
    public string? Headers { get; init; }

    /// <summary><c>OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT</c>, milliseconds.</summary>
    public int TimeoutMilliseconds { get; init; } = 10_000;

    public string ServiceName { get; init; } = DefaultServiceName;

    /// <summary><c>OTEL_RESOURCE_ATTRIBUTES</c>, parsed.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ResourceAttributes { get; init; } = [];

    public TraceSamplerKind Sampler { get; init; } = TraceSamplerKind.ParentBasedAlwaysOn;

    /// <summary><c>OTEL_TRACES_SAMPLER_ARG</c> for the ratio samplers.</summary>
    public double SamplerRatio { get; init; } = 1.0;

    /// <summary><c>OTEL_BSP_SCHEDULE_DELAY</c>, milliseconds between batch exports.</summary>
    public int BatchScheduleDelayMilliseconds { get; init; } = 5000;

    /// <summary><c>OTEL_BSP_MAX_QUEUE_SIZE</c>: spans kept waiting for export; more are dropped, never blocking a request.</summary>
    public int BatchMaxQueueSize { get; init; } = 2048;

    /// <summary><c>OTEL_BSP_MAX_EXPORT_BATCH_SIZE</c>.</summary>
    public int BatchMaxExportSize { get; init; } = 512;

    /// <summary><c>OTEL_BSP_EXPORT_TIMEOUT</c>, milliseconds.</summary>
    public int BatchExportTimeoutMilliseconds { get; init; } = 30_000;

    /// <summary>True when <c>OTEL_METRICS_EXPORTER=otlp</c>: Berth's meters are also pushed over OTLP.</summary>
    public bool MetricsEnabled { get; init; }

    /// <summary>Where metrics go (for <c>http/protobuf</c>, with <c>/v1/metrics</c>).</summary>
    public Uri MetricsEndpoint { get; init; } = new("http://localhost:4318/v1/metrics");

    public OtlpTransport MetricsProtocol { get; init; } = OtlpTransport.HttpProtobuf;

    /// <summary><c>OTEL_EXPORTER_OTLP_[METRICS_]HEADERS</c>; never logged.</summary>
    public string? MetricsHeaders { get; init; }

    /// <summary><c>OTEL_EXPORTER_OTLP_[METRICS_]TIMEOUT</c>, milliseconds.</summary>
    public int MetricsTimeoutMilliseconds { get; init; } = 10_000;

    /// <summary><c>OTEL_METRIC_EXPORT_INTERVAL</c>, milliseconds.</summary>
    public int MetricsExportIntervalMilliseconds { get; init; } = 60_000;

    /// <summary>What the start-up summary says about tracing.</summary>
    public string Describe()
    {
        var traces = Enabled
            ? $"OTLP {ProtocolName(Protocol)} to {TracesEndpoint} (service {ServiceName}, sampler {SamplerName(Sampler)}{(Sampler is TraceSamplerKind.TraceIdRatio or TraceSamplerKind.ParentBasedTraceIdRatio ? " " + SamplerRatio.ToString(CultureInfo.InvariantCulture) : "")})"
            : "off";
        return MetricsEnabled ? $"{traces}; OTLP metrics {ProtocolName(MetricsProtocol)} to {MetricsEndpoint}" : traces;
    }

    private static readonly string[] KnownExporters = ["otlp", "none", "console", "zipkin", "jaeger", "prometheus", "logging"];

    // Every OTEL_* variable read below; any other is reported as not read.
    private static readonly HashSet<string> Honoured = new(StringComparer.Ordinal)
    {
        "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
        "OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
        "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_PROPAGATORS",
        "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_EXPORT_TIMEOUT",
        "OTEL_METRIC_EXPORT_INTERVAL",
    };

    // Read by the OpenTelemetry .NET SDK and its OTLP exporter straight from the process environment (TLS material,
    // compression, span limits): honoured without Berth carrying them.
    private static readonly string[] PassedToTheSdk =
    [
        "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
        "OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        "OTEL_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_EVENT_COUNT_LIMIT", "OTEL_SPAN_LINK_COUNT_LIMIT",
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    ];

    /// <summary>Reads the <c>OTEL_*</c> variables of <paramref name="environment"/>.</summary>
    /// <param name="environment">The environment variables.</param>
    /// <param name="warnings">Receives a warning, naming the variable, for each one Berth does not act on.</param>
    /// <exception cref="ConfigurationException">A value Berth cannot start with; the message names the variable.</exception>
    public static TracingOptions FromEnvironment(IReadOnlyDictionary<string, string> environment, List<string> warnings)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(warnings);
        string? Get(string name) => environment.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

        // OTEL_DOTNET_* (self-diagnostics, the exporter's retry and disk buffering) are OpenTelemetry .NET's own, read by it.
        foreach (var name in environment.Keys.Where(n => n.StartsWith("OTEL_", StringComparison.Ordinal) && !Honoured.Contains(n) && !PassedToTheSdk.Contains(n)
                         && !n.StartsWith("OTEL_DOTNET_", StringComparison.Ordinal))
                     .Order(StringComparer.Ordinal))
        {
            warnings.Add($"{name}: Berth does not read this OpenTelemetry variable; ignored");
        }

        var disabled = Get("OTEL_SDK_DISABLED") is { } disabledText && ParseBoolean("OTEL_SDK_DISABLED", disabledText);

        var tracesExporters = ParseExporters("OTEL_TRACES_EXPORTER", Get("OTEL_TRACES_EXPORTER"), "traces", warnings);
        var metricsExporters = ParseExporters("OTEL_METRICS_EXPORTER", Get("OTEL_METRICS_EXPORTER"), "metrics", warnings);
        if (Get("OTEL_LOGS_EXPORTER") is { } logs && !string.Equals(logs, "none", StringComparison.OrdinalIgnoreCase))
        {
            warnings.Add($"OTEL_LOGS_EXPORTER: Berth writes its logs to standard output only; '{logs}' ignored");
        }

        var generalEndpoint = ParseEndpoint("OTEL_EXPORTER_OTLP_ENDPOINT", Get("OTEL_EXPORTER_OTLP_ENDPOINT"));
        var tracesEndpoint = ParseEndpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", Get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
        var metricsEndpoint = ParseEndpoint("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", Get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"));

        // As Distribution's exporter selection: an explicit list decides; without one, an endpoint means "export
        // there". Distribution also exports to localhost:4318 when nothing is set at all; Berth stays off instead,
        // so an untouched registry:2 setup neither pays for spans nor logs a failed export every few seconds.
        var tracesOn = tracesExporters?.Contains("otlp") ?? (generalEndpoint is not null || tracesEndpoint is not null);
        var metricsOn = metricsExporters?.Contains("otlp") ?? false;
        if (disabled && (tracesOn || metricsOn))
        {
            warnings.Add("OTEL_SDK_DISABLED: true, so no traces or metrics are exported whatever the other OTEL_* variables say");
            tracesOn = metricsOn = false;
        }

        var protocol = ParseProtocol("OTEL_EXPORTER_OTLP_PROTOCOL", Get("OTEL_EXPORTER_OTLP_PROTOCOL")) ?? OtlpTransport.HttpProtobuf;
        var tracesProtocol = ParseProtocol("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", Get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")) ?? protocol;
        var metricsProtocol = ParseProtocol("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", Get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")) ?? protocol;

        // Read by OpenTelemetry's exporter itself from the environment; checked here so a typo fails start-up.
        foreach (var name in new[] { "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION" })
        {
            if (Get(name) is { } compression && compression.ToLowerInvariant() is not ("gzip" or "none"))
            {
                throw new ConfigurationException($"{name}: expected gzip or none, got '{compression}'");
            }
        }

        foreach (var name in PassedToTheSdk.Where(n => n.EndsWith("_LIMIT", StringComparison.Ordinal)))
        {
            _ = ParseCount(name, Get(name));
        }

        foreach (var name in new[] { "OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_METRICS_INSECURE" })
        {
            if (Get(name) is not null)
            {
                warnings.Add($"{name}: ignored; the endpoint's scheme decides (http:// plain, https:// TLS verified against the system's trust store)");
            }
        }

        var propagators = Get("OTEL_PROPAGATORS");
        if (propagators is not null && propagators.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Any(p => p is not ("tracecontext" or "baggage")))
        {
            warnings.Add($"OTEL_PROPAGATORS: Berth reads and sends W3C trace context and baggage only; '{propagators}' ignored");
        }

        var (sampler, ratio) = ParseSampler(Get("OTEL_TRACES_SAMPLER"), Get("OTEL_TRACES_SAMPLER_ARG"), warnings);
        var headers = Get("OTEL_EXPORTER_OTLP_HEADERS");
        var tracesHeaders = Get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") ?? headers;
        var metricsHeaders = Get("OTEL_EXPORTER_OTLP_METRICS_HEADERS") ?? headers;
        CheckHeaders("OTEL_EXPORTER_OTLP_HEADERS", headers);
        CheckHeaders("OTEL_EXPORTER_OTLP_TRACES_HEADERS", Get("OTEL_EXPORTER_OTLP_TRACES_HEADERS"));
        CheckHeaders("OTEL_EXPORTER_OTLP_METRICS_HEADERS", Get("OTEL_EXPORTER_OTLP_METRICS_HEADERS"));
        var timeout = ParseMilliseconds("OTEL_EXPORTER_OTLP_TIMEOUT", Get("OTEL_EXPORTER_OTLP_TIMEOUT")) ?? 10_000;
        var tracesTimeout = ParseMilliseconds("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", Get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")) ?? timeout;
        var metricsTimeout = ParseMilliseconds("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", Get("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT")) ?? timeout;

        var resource = ParseResourceAttributes(Get("OTEL_RESOURCE_ATTRIBUTES"));
        var serviceName = Get("OTEL_SERVICE_NAME")
            ?? resource.Where(p => p.Key == "service.name").Select(p => p.Value).LastOrDefault()
            ?? DefaultServiceName;

        var defaults = new TracingOptions();
        return new TracingOptions
        {
            Enabled = tracesOn,
            Protocol = tracesProtocol,
            TracesEndpoint = tracesEndpoint ?? SignalEndpoint(generalEndpoint, tracesProtocol, "v1/traces"),
            Headers = tracesHeaders,
            TimeoutMilliseconds = tracesTimeout,
            ServiceName = serviceName,
            ResourceAttributes = resource.Where(p => p.Key != "service.name").ToList(),
            Sampler = sampler,
            SamplerRatio = ratio,
            BatchScheduleDelayMilliseconds = ParseMilliseconds("OTEL_BSP_SCHEDULE_DELAY", Get("OTEL_BSP_SCHEDULE_DELAY")) ?? defaults.BatchScheduleDelayMilliseconds,
            BatchMaxQueueSize = ParseCount("OTEL_BSP_MAX_QUEUE_SIZE", Get("OTEL_BSP_MAX_QUEUE_SIZE")) ?? defaults.BatchMaxQueueSize,
            BatchMaxExportSize = ParseCount("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", Get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")) ?? defaults.BatchMaxExportSize,
            BatchExportTimeoutMilliseconds = ParseMilliseconds("OTEL_BSP_EXPORT_TIMEOUT", Get("OTEL_BSP_EXPORT_TIMEOUT")) ?? defaults.BatchExportTimeoutMilliseconds,
            MetricsEnabled = metricsOn,
            MetricsProtocol = metricsProtocol,
            MetricsHeaders = metricsHeaders,
            MetricsTimeoutMilliseconds = metricsTimeout,
            MetricsEndpoint = metricsEndpoint ?? SignalEndpoint(generalEndpoint, metricsProtocol, "v1/metrics"),
            MetricsExportIntervalMilliseconds = ParseMilliseconds("OTEL_METRIC_EXPORT_INTERVAL", Get("OTEL_METRIC_EXPORT_INTERVAL")) ?? defaults.MetricsExportIntervalMilliseconds,
        } is var options && options.BatchMaxExportSize > options.BatchMaxQueueSize
            ? throw new ConfigurationException(
                $"OTEL_BSP_MAX_EXPORT_BATCH_SIZE: {options.BatchMaxExportSize} is larger than OTEL_BSP_MAX_QUEUE_SIZE ({options.BatchMaxQueueSize})")
            : options;
    }

    /// <summary>OTLP's rule: the general endpoint gets the signal's path for http/protobuf; gRPC uses it as given.</summary>
    private static Uri SignalEndpoint(Uri? general, OtlpTransport protocol, string signalPath)
    {
        var baseUri = general ?? new Uri(protocol == OtlpTransport.Grpc ? "http://localhost:4317" : "http://localhost:4318");
        if (protocol == OtlpTransport.Grpc)
        {
            return baseUri;
        }

        var text = baseUri.ToString();
        return new Uri(text.EndsWith('/') ? text + signalPath : text + "/" + signalPath);
    }

    private static HashSet<string>? ParseExporters(string variable, string? value, string signal, List<string> warnings)
    {
        if (value is null)
        {
            return null;
        }

        var names = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(n => n.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (!KnownExporters.Contains(name))
            {
                throw new ConfigurationException($"{variable}: unknown exporter '{name}'; Berth exports {signal} with 'otlp' or not at all ('none')");
            }

            if (name is not ("otlp" or "none"))
            {
                warnings.Add($"{variable}: Berth exports {signal} over OTLP only; the '{name}' exporter is ignored");
            }
        }

        if (names.Contains("none") && names.Count > 1)
        {
            throw new ConfigurationException($"{variable}: 'none' cannot be combined with other exporters ('{value}')");
        }

        return names;
    }

    private static Uri? ParseEndpoint(string variable, string? value)
    {
        if (value is null)
        {
            return null;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host))
        {
            throw new ConfigurationException($"{variable}: expected an http:// or https:// URL, got '{value}'");
        }

        return uri;
    }

    private static OtlpTransport? ParseProtocol(string variable, string? value) => value?.ToLowerInvariant() switch
    {
        null => null,
        "http/protobuf" => OtlpTransport.HttpProtobuf,
        "grpc" => OtlpTransport.Grpc,
        "http/json" => throw new ConfigurationException($"{variable}: 'http/json' is not supported by Berth's OTLP exporter; use http/protobuf or grpc"),
        _ => throw new ConfigurationException($"{variable}: expected http/protobuf or grpc, got '{value}'"),
    };

    private static (TraceSamplerKind Kind, double Ratio) ParseSampler(string? name, string? argument, List<string> warnings)
    {
        var kind = name?.ToLowerInvariant() switch
        {
            null or "parentbased_always_on" => TraceSamplerKind.ParentBasedAlwaysOn,
            "always_on" => TraceSamplerKind.AlwaysOn,
            "always_off" => TraceSamplerKind.AlwaysOff,
            "traceidratio" => TraceSamplerKind.TraceIdRatio,
            "parentbased_always_off" => TraceSamplerKind.ParentBasedAlwaysOff,
            "parentbased_traceidratio" => TraceSamplerKind.ParentBasedTraceIdRatio,
            _ => throw new ConfigurationException(
                $"OTEL_TRACES_SAMPLER: '{name}' is not a sampler Berth has (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio)"),
        };

        var usesRatio = kind is TraceSamplerKind.TraceIdRatio or TraceSamplerKind.ParentBasedTraceIdRatio;
        if (argument is null)
        {
            return (kind, 1.0);
        }

        if (!usesRatio)
        {
            warnings.Add($"OTEL_TRACES_SAMPLER_ARG: the {name ?? "parentbased_always_on"} sampler takes no argument; ignored");
            return (kind, 1.0);
        }

        if (!double.TryParse(argument, NumberStyles.Float, CultureInfo.InvariantCulture, out var ratio) || ratio is < 0 or > 1 || double.IsNaN(ratio))
        {
            throw new ConfigurationException($"OTEL_TRACES_SAMPLER_ARG: expected a ratio from 0 to 1, got '{argument}'");
        }

        return (kind, ratio);
    }

    private static void CheckHeaders(string variable, string? value)
    {
        if (value is null)
        {
            return;
        }

        foreach (var pair in value.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || pair[..equals].Trim().Length == 0)
            {
                // The value may hold a credential: the message shows only the shape that was expected.
                throw new ConfigurationException($"{variable}: expected name=value pairs separated by commas");
            }
        }
    }

    private static List<KeyValuePair<string, string>> ParseResourceAttributes(string? value)
    {
        var attributes = new List<KeyValuePair<string, string>>();
        if (value is null)
        {
            return attributes;
        }

        foreach (var pair in value.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = equals > 0 ? pair[..equals].Trim() : "";
            if (key.Length == 0)
            {
                throw new ConfigurationException($"OTEL_RESOURCE_ATTRIBUTES: expected key=value pairs separated by commas, got '{pair}'");
            }

            attributes.Add(new(key, Uri.UnescapeDataString(pair[(equals + 1)..].Trim())));
        }

        return attributes;
    }

    private static bool ParseBoolean(string variable, string value) => value.ToLowerInvariant() switch
    {
        "true" => true,
        "false" => false,
        _ => throw new ConfigurationException($"{variable}: expected true or false, got '{value}'"),
    };

    private static int? ParseMilliseconds(string variable, string? value) =>
        value is null ? null
        : int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms > 0 ? ms
        : throw new ConfigurationException($"{variable}: expected a positive whole number of milliseconds, got '{value}'");

    private static int? ParseCount(string variable, string? value) =>
        value is null ? null
        : int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count > 0 ? count
        : throw new ConfigurationException($"{variable}: expected a positive whole number, got '{value}'");

    private static string ProtocolName(OtlpTransport protocol) => protocol == OtlpTransport.Grpc ? "grpc" : "http/protobuf";

    private static string SamplerName(TraceSamplerKind kind) => kind switch
    {
        TraceSamplerKind.AlwaysOn => "always_on",
        TraceSamplerKind.AlwaysOff => "always_off",
        TraceSamplerKind.TraceIdRatio => "traceidratio",
        TraceSamplerKind.ParentBasedAlwaysOff => "parentbased_always_off",
        TraceSamplerKind.ParentBasedTraceIdRatio => "parentbased_traceidratio",
        _ => "parentbased_always_on",
    };
}
