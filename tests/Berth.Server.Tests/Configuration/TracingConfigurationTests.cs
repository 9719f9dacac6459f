using Berth.Server.Configuration;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Configuration;

/// <summary>
/// The <c>OTEL_*</c> variables, read by the same loader as <c>REGISTRY_*</c>: each honoured, warned about by name, or
/// refused with the variable named.
/// </summary>
public sealed class TracingConfigurationTests
{
    [Fact]
    public void NoOtelVariables_TracingIsOff()
    {
        var loaded = LoadEnvironment(Environment());
        Assert.False(loaded.Configuration.Tracing.Enabled);
        Assert.False(loaded.Configuration.Tracing.MetricsEnabled);
        Assert.Equal("off", loaded.Configuration.Tracing.Describe());
        Assert.Empty(loaded.Warnings);
    }

    [Fact]
    public void GeneralEndpoint_HttpProtobuf_TurnsTracingOnAndAppendsTheSignalPath()
    {
        var tracing = LoadEnvironment(Environment(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"))).Configuration.Tracing;
        Assert.True(tracing.Enabled);
        Assert.Equal(new Uri("http://collector:4318/v1/traces"), tracing.TracesEndpoint);
        Assert.Equal(OtlpTransport.HttpProtobuf, tracing.Protocol);
        Assert.Equal(TraceSamplerKind.ParentBasedAlwaysOn, tracing.Sampler);
        Assert.Equal("berth", tracing.ServiceName);
        Assert.Contains("http://collector:4318/v1/traces", tracing.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void TracesEndpoint_IsUsedAsGiven_AndWinsOverTheGeneralOne()
    {
        var tracing = LoadEnvironment(Environment(
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://general:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://traces.example:443/custom/path"))).Configuration.Tracing;
        Assert.Equal(new Uri("https://traces.example:443/custom/path"), tracing.TracesEndpoint);
    }

    [Fact]
    public void Grpc_UsesTheEndpointWithoutASignalPath()
    {
        var tracing = LoadEnvironment(Environment(("OTEL_TRACES_EXPORTER", "otlp"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"))).Configuration.Tracing;
        Assert.True(tracing.Enabled);
        Assert.Equal(OtlpTransport.Grpc, tracing.Protocol);
        Assert.Equal(new Uri("http://localhost:4317"), tracing.TracesEndpoint);
    }

    [Fact]
    public void ExporterOtlpWithoutEndpoint_ExportsToTheLocalCollectorDefault()
    {
        var tracing = LoadEnvironment(Environment(("OTEL_TRACES_EXPORTER", "otlp"))).Configuration.Tracing;
        Assert.True(tracing.Enabled);
        Assert.Equal(new Uri("http://localhost:4318/v1/traces"), tracing.TracesEndpoint);
    }

    [Fact]
    public void ExporterNone_WinsOverAnEndpoint()
    {
        var loaded = LoadEnvironment(Environment(("OTEL_TRACES_EXPORTER", "none"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")));
        Assert.False(loaded.Configuration.Tracing.Enabled);
    }

    [Theory]
    [InlineData("OTEL_TRACES_EXPORTER", "otlpp")]
    [InlineData("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift")]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://collector/")]
    [InlineData("OTEL_TRACES_SAMPLER", "jaeger_remote")]
    [InlineData("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")]
    [InlineData("OTEL_BSP_SCHEDULE_DELAY", "-5")]
    [InlineData("OTEL_BSP_MAX_QUEUE_SIZE", "lots")]
    [InlineData("OTEL_SDK_DISABLED", "yes")]
    [InlineData("OTEL_RESOURCE_ATTRIBUTES", "=nokey")]
    [InlineData("OTEL_METRICS_EXPORTER", "statsd")]
    [InlineData("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli")]
    [InlineData("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "many")]
    public void UnusableValue_RefusesToStart_NamingTheVariable(string variable, string value)
    {
        var environment = Environment((variable, value));
        environment.TryAdd("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        var error = Assert.Throws<ConfigurationException>(() => LoadEnvironment(environment));
        Assert.StartsWith(variable + ":", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SamplerRatioOutOfRange_IsRefused_NamingTheArgumentVariable()
    {
        var error = Assert.Throws<ConfigurationException>(() => LoadEnvironment(Environment(
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "1.5"))));
        Assert.StartsWith("OTEL_TRACES_SAMPLER_ARG:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RatioSampler_IsHonoured()
    {
        var tracing = LoadEnvironment(Environment(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "0.25"))).Configuration.Tracing;
        Assert.Equal(TraceSamplerKind.TraceIdRatio, tracing.Sampler);
        Assert.Equal(0.25, tracing.SamplerRatio);
        Assert.Contains("traceidratio 0.25", tracing.Describe(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("OTEL_TRACES_EXPORTER", "otlp,zipkin", "OTEL_TRACES_EXPORTER")]
    [InlineData("OTEL_EXPORTER_OTLP_INSECURE", "true", "OTEL_EXPORTER_OTLP_INSECURE")]
    [InlineData("OTEL_PROPAGATORS", "b3", "OTEL_PROPAGATORS")]
    [InlineData("OTEL_LOGS_EXPORTER", "otlp", "OTEL_LOGS_EXPORTER")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/etc/ca.pem", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE")]
    [InlineData("OTEL_TRACES_SAMPLER_ARG", "0.5", "OTEL_TRACES_SAMPLER_ARG")]
    public void VariableBerthDoesNotActOn_IsWarnedAbout_ByName(string variable, string value, string named)
    {
        var loaded = LoadEnvironment(Environment((variable, value), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")));
        Assert.True(loaded.Configuration.Tracing.Enabled);
        Assert.Contains(loaded.Warnings, w => w.StartsWith(named + ":", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")]
    [InlineData("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ssl/collector-ca.pem")]
    [InlineData("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "64")]
    [InlineData("OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY", "in_memory")]
    public void VariableTheSdkReadsItself_IsAcceptedWithoutWarning(string variable, string value)
    {
        var loaded = LoadEnvironment(Environment((variable, value), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")));
        Assert.True(loaded.Configuration.Tracing.Enabled);
        Assert.Empty(loaded.Warnings);
    }

    [Fact]
    public void SdkDisabled_TurnsEverythingOff_AndSaysWhy()
    {
        var loaded = LoadEnvironment(Environment(("OTEL_SDK_DISABLED", "true"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_METRICS_EXPORTER", "otlp")));
        Assert.False(loaded.Configuration.Tracing.Enabled);
        Assert.False(loaded.Configuration.Tracing.MetricsEnabled);
        Assert.Contains(loaded.Warnings, w => w.StartsWith("OTEL_SDK_DISABLED:", StringComparison.Ordinal));
    }

    [Fact]
    public void ServiceNameAndResourceAttributes_AreHonoured()
    {
        var tracing = LoadEnvironment(Environment(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,service.name=from-attributes,team=a%20b"))).Configuration.Tracing;
        Assert.Equal("from-attributes", tracing.ServiceName);
        Assert.Contains(new KeyValuePair<string, string>("deployment.environment", "prod"), tracing.ResourceAttributes);
        Assert.Contains(new KeyValuePair<string, string>("team", "a b"), tracing.ResourceAttributes);

        var named = LoadEnvironment(Environment(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_SERVICE_NAME", "registry-eu"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=ignored"))).Configuration.Tracing;
        Assert.Equal("registry-eu", named.ServiceName);
    }

    [Fact]
    public void MetricsExporterOtlp_ExportsMetricsToTheirOwnPath()
    {
        var tracing = LoadEnvironment(Environment(("OTEL_METRICS_EXPORTER", "otlp"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1000"))).Configuration.Tracing;
        Assert.True(tracing.MetricsEnabled);
        Assert.Equal(new Uri("http://c:4318/v1/metrics"), tracing.MetricsEndpoint);
        Assert.Equal(1000, tracing.MetricsExportIntervalMilliseconds);
    }

    [Fact]
    public void HeadersWithACredential_AreRefusedWithoutEchoingTheValue()
    {
        var error = Assert.Throws<ConfigurationException>(() => LoadEnvironment(Environment(
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_EXPORTER_OTLP_HEADERS", "s3cr3t-token-without-a-name"))));
        Assert.StartsWith("OTEL_EXPORTER_OTLP_HEADERS:", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RegistryVariables_AndOtelVariables_AreReadTogether()
    {
        var loaded = LoadEnvironment(Environment(("REGISTRY_STORAGE", "inmemory"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")));
        Assert.Equal("inmemory", loaded.Configuration.Storage.Driver);
        Assert.True(loaded.Configuration.Tracing.Enabled);
    }
}
