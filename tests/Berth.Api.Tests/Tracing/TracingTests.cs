using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Berth.Api.Tests.Infrastructure;
using Berth.Api.Tests.Proxy;

namespace Berth.Api.Tests.Tracing;

/// <summary>
/// Tracing end to end: a Berth configured with OpenTelemetry's <c>OTEL_*</c> variables exports over OTLP/HTTP to a real
/// receiver on 127.0.0.1, and the spans of one request form the expected tree. The listeners of .NET's activity
/// sources are process-wide, so other tests' requests may be exported too; every check picks its own trace by id.
/// </summary>
public sealed class TracingTests
{
    private const string ManifestRoute = "/v2/{name}/manifests/{reference}";
    private static readonly TimeSpan ExportWait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task PushAndPull_WithOtlpEndpoint_ExportRequestSpansWithStorageChildrenAndTheTraceIdInTheAccessLog()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var service = "berth-tracing-" + Guid.NewGuid().ToString("N")[..8];
        await using var server = await BerthServer.StartAsync(new BerthServerOptions { LogLevel = "info", Environment = OtelEnvironment(receiver, service) });

        using var pusher = ClientWithoutPropagation(server.BaseAddress);
        var image = await pusher.PushImageAsync("team/traced", "v1", layerSize: 4096);

        // The client's own trace: Berth continues it (parent-based sampling) rather than starting one.
        var (traceparent, traceId, clientSpanId) = NewTraceparent();
        using var request = RegistryClient.Request(HttpMethod.Get, "/v2/team/traced/manifests/v1");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(Oci.ImageManifest));
        request.Headers.Add("traceparent", traceparent);
        using var client = ClientWithoutPropagation(server.BaseAddress);
        using var response = await client.SendAsync(request);
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(image.ManifestBytes, await response.Content.ReadAsByteArrayAsync());

        var root = await WaitForSpanAsync(receiver, s => s.TraceId == traceId && s.Kind == ReceivedSpan.KindServer);
        Assert.Equal("GET " + ManifestRoute, root.Name);
        Assert.Equal(clientSpanId, root.ParentSpanId);
        Assert.Equal(ManifestRoute, root.Attribute("http.route"));
        Assert.Equal("team/traced", root.Attribute("berth.repository"));
        Assert.Equal("v1", root.Attribute("berth.reference"));
        Assert.Equal("GET", root.Attribute("http.request.method"));
        Assert.Equal("200", root.Attribute("http.response.status_code"));
        Assert.Equal(service, root.Resource["service.name"]);

        // The storage calls that served it: children of the request span, in its trace, one per driver call.
        var storage = await WaitForSpansAsync(receiver, traceId, spans => spans.Any(s => s.Name == "storage.get_content"));
        var storageSpans = storage.Where(s => s.Scope == "Berth.Storage").ToList();
        Assert.NotEmpty(storageSpans);
        Assert.All(storageSpans, s =>
        {
            Assert.Equal(root.SpanId, s.ParentSpanId);
            Assert.StartsWith("storage.", s.Name, StringComparison.Ordinal);
            Assert.Equal("filesystem", s.Attribute("io.cncf.distribution.storage.driver.name"));
            Assert.StartsWith("/docker/registry/v2/", s.Attribute("io.cncf.distribution.storage.path"), StringComparison.Ordinal);
        });
        Assert.Contains(storageSpans, s => s.Attribute("io.cncf.distribution.storage.path") == "/docker/registry/v2/repositories/team/traced/_manifests/tags/v1/current/link");

        // The access log line of that request carries the same trace id.
        Assert.Contains(server.Logs.Entries, e => e.EventId.Id == 3100 && (string?)e.Value("Path") == "/v2/team/traced/manifests/v1"
            && (string?)e.Value("TraceId") == traceId);

        // The push's requests were traced too, each the root of Berth's part of its trace (the test client sent no
        // traceparent), with the upload's storage calls under the request that made them. The activity listeners are
        // process-wide, so this Berth's exporter also sees other in-process servers' requests and other tests' client
        // spans (with this service name): the push is picked by its repository, and what is checked is that no server
        // or storage span is above it (a foreign client span or ambient activity may be).
        var manifestPut = await WaitForSpanAsync(receiver, s => s.Resource["service.name"] == service && s.Name == "PUT " + ManifestRoute
            && s.Attribute("berth.repository") == "team/traced");
        Assert.Equal(ReceivedSpan.KindServer, manifestPut.Kind);
        Assert.False(receiver.Spans.Any(s => s.SpanId == manifestPut.ParentSpanId && (s.Kind == ReceivedSpan.KindServer || s.Scope.StartsWith("Berth.", StringComparison.Ordinal))),
            $"the manifest PUT is the child of a server or Berth span: {string.Join("; ", receiver.Trace(manifestPut.TraceId))}");
        Assert.Equal("201", manifestPut.Attribute("http.response.status_code"));
        var putChildren = await WaitForSpansAsync(receiver, manifestPut.TraceId, spans => spans.Any(s => s.Name == "storage.put_content"));
        Assert.Contains(putChildren, s => s.Name == "storage.put_content" && s.ParentSpanId == manifestPut.SpanId
            && s.Attribute("io.cncf.distribution.storage.path") == "/docker/registry/v2/repositories/team/traced/_manifests/tags/v1/current/link");
        var blobPut = await WaitForSpanAsync(receiver, s => s.Resource["service.name"] == service && s.Name == "PUT /v2/{name}/blobs/uploads/{uuid}"
            && s.Attribute("berth.repository") == "team/traced");
        Assert.Equal("201", blobPut.Attribute("http.response.status_code"));
    }

    [Fact]
    public async Task ManifestMiss_NotFoundIsAnAnswer_TheStorageSpanIsNotAnError()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var server = await BerthServer.StartAsync(new BerthServerOptions { Environment = OtelEnvironment(receiver, "berth-miss") });
        var (traceparent, traceId, _) = NewTraceparent();
        using var request = RegistryClient.Request(HttpMethod.Get, "/v2/team/absent/manifests/nope");
        request.Headers.Add("traceparent", traceparent);
        using var client = ClientWithoutPropagation(server.BaseAddress);
        using var response = await client.SendAsync(request);
        await OciAssert.StatusAsync(response, HttpStatusCode.NotFound);

        var spans = await WaitForSpansAsync(receiver, traceId, s => s.Any(x => x.Scope == "Berth.Storage") && s.Any(x => x.Kind == ReceivedSpan.KindServer));
        Assert.Contains(spans, s => s.Scope == "Berth.Storage" && s.Attribute("berth.storage.not_found") == "true"
            && s.Attribute("io.cncf.distribution.storage.path") == "/docker/registry/v2/repositories/team/absent/_manifests/tags/nope/current/link");
        Assert.All(spans, s => Assert.Equal(ReceivedSpan.StatusUnset, s.StatusCode));
        Assert.Equal("404", spans.Single(s => s.Kind == ReceivedSpan.KindServer).Attribute("http.response.status_code"));
    }

    [Fact]
    public async Task SampledOutParent_ParentBasedSampling_ExportsNothingForThatTrace()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var server = await BerthServer.StartAsync(new BerthServerOptions { Environment = OtelEnvironment(receiver, "berth-sampled-out") });
        var (_, traceId, spanId) = NewTraceparent();
        using var client = ClientWithoutPropagation(server.BaseAddress);
        using (var request = RegistryClient.Request(HttpMethod.Get, "/v2/"))
        {
            // Flags 00: the caller decided not to record this trace.
            request.Headers.Add("traceparent", $"00-{traceId}-{spanId}-00");
            using var response = await client.SendAsync(request);
            await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        }

        // A sampled request after it, so there is an export to wait for instead of a fixed sleep.
        var (traceparent, sampledTrace, _) = NewTraceparent();
        using (var request = RegistryClient.Request(HttpMethod.Get, "/v2/"))
        {
            request.Headers.Add("traceparent", traceparent);
            using var response = await client.SendAsync(request);
            await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        }

        await WaitForSpanAsync(receiver, s => s.TraceId == sampledTrace);
        Assert.Empty(receiver.Trace(traceId));
    }

    [Fact]
    public async Task Htpasswd_TheAccessDecisionIsASpanUnderTheRequest()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var htpasswdDirectory = Path.Combine(Path.GetTempPath(), "berth-tracing-auth-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(htpasswdDirectory);
        try
        {
            var htpasswd = Path.Combine(htpasswdDirectory, "htpasswd");
            await File.WriteAllTextAsync(htpasswd, $"alice:{BCrypt.Net.BCrypt.HashPassword("secret", 4)}\n");
            await using var server = await BerthServer.StartAsync(new BerthServerOptions
            {
                Environment = OtelEnvironment(receiver, "berth-auth"),
                ExtraYaml = $"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n",
            });

            using var client = ClientWithoutPropagation(server.BaseAddress);
            var (anonymousParent, anonymousTrace, _) = NewTraceparent();
            using (var request = RegistryClient.Request(HttpMethod.Get, "/v2/team/app/tags/list"))
            {
                request.Headers.Add("traceparent", anonymousParent);
                using var response = await client.SendAsync(request);
                await OciAssert.StatusAsync(response, HttpStatusCode.Unauthorized);
            }

            var (signedInParent, signedInTrace, _) = NewTraceparent();
            using (var request = RegistryClient.Request(HttpMethod.Get, "/v2/team/app/tags/list"))
            {
                request.Headers.Add("traceparent", signedInParent);
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:secret")));
                using var response = await client.SendAsync(request);
                await OciAssert.StatusAsync(response, HttpStatusCode.NotFound);
            }

            foreach (var (traceId, outcome) in new[] { (anonymousTrace, "unauthenticated"), (signedInTrace, "granted") })
            {
                var spans = await WaitForSpansAsync(receiver, traceId,
                    s => s.Any(x => x.Name == "auth.authorize") && s.Any(x => x.Kind == ReceivedSpan.KindServer));
                var root = spans.Single(s => s.Kind == ReceivedSpan.KindServer);
                var decision = spans.Single(s => s.Name == "auth.authorize");
                Assert.Equal(root.SpanId, decision.ParentSpanId);
                Assert.Equal(outcome, decision.Attribute("berth.auth.outcome"));
                Assert.Equal("repository:team/app:pull", decision.Attribute("berth.auth.scope"));
                Assert.Equal("htpasswd", decision.Attribute("berth.auth.controller"));
                Assert.Equal(ReceivedSpan.StatusUnset, decision.StatusCode);
                Assert.DoesNotContain(spans, s => s.Attributes.Values.Any(v => v.Contains("secret", StringComparison.Ordinal)));
            }
        }
        finally
        {
            Directory.Delete(htpasswdDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task PullThroughCache_TheUpstreamCallIsAClientSpanInTheRequestsTrace()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var setup = await ProxySetup.StartAsync(mirrorEnvironment: OtelEnvironment(receiver, "berth-mirror"));
        var image = await setup.Upstream.Client.PushImageAsync("library/cached", "1.0");

        var (traceparent, traceId, _) = NewTraceparent();
        using var request = RegistryClient.Request(HttpMethod.Get, $"/v2/library/cached/blobs/{image.Layer.Digest}");
        request.Headers.Add("traceparent", traceparent);
        using var client = ClientWithoutPropagation(setup.Mirror.BaseAddress);
        using var response = await client.SendAsync(request);
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(image.LayerBytes, await response.Content.ReadAsByteArrayAsync());

        var injectorPort = setup.Injector.BaseAddress.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // The request span ends after the body was sent, so it may arrive in a later export than the upstream call's.
        var spans = await WaitForSpansAsync(receiver, traceId, s =>
            s.Any(x => x.Kind == ReceivedSpan.KindServer && x.ParentSpanId == NewTraceparentParent(traceparent))
            && s.Any(x => x.Kind == ReceivedSpan.KindClient && x.Attribute("server.port") == injectorPort
                && x.Attribute("url.full")?.Contains("/blobs/", StringComparison.Ordinal) == true));
        var root = spans.Single(s => s.Kind == ReceivedSpan.KindServer && s.ParentSpanId == NewTraceparentParent(traceparent));
        Assert.Equal("GET /v2/{name}/blobs/{digest}", root.Name);
        // The fault injector forwards with an HttpClient of this process too; the mirror's own call is the one to its port.
        var upstream = Assert.Single(spans, s => s.Kind == ReceivedSpan.KindClient && s.Attribute("server.port") == injectorPort
            && s.Attribute("http.request.method") == "GET" && s.Attribute("url.full")?.Contains("/blobs/", StringComparison.Ordinal) == true);
        Assert.Equal("127.0.0.1", upstream.Attribute("server.address"));
        Assert.Equal("200", upstream.Attribute("http.response.status_code"));
        Assert.Equal($"{setup.Injector.BaseAddress.GetLeftPart(UriPartial.Authority)}/v2/library/cached/blobs/{image.Layer.Digest}", upstream.Attribute("url.full"));
        Assert.True(IsDescendant(upstream, root, spans), $"the upstream call is not under the request span: {string.Join("\n", spans)}");
    }

    [Fact]
    public async Task MetricsExporterOtlp_PushesBerthsMetersToTheMetricsEndpoint()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var environment = OtelEnvironment(receiver, "berth-metrics");
        environment["OTEL_TRACES_EXPORTER"] = "none";
        environment["OTEL_METRICS_EXPORTER"] = "otlp";
        environment["OTEL_METRIC_EXPORT_INTERVAL"] = "200";
        await using var server = await BerthServer.StartAsync(new BerthServerOptions { Environment = environment });
        using var client = ClientWithoutPropagation(server.BaseAddress);
        using var response = await client.SendAsync(RegistryClient.Request(HttpMethod.Get, "/v2/"));
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);

        // The export is protobuf; the meter and instrument names travel as plain UTF-8 strings inside it.
        var meter = Encoding.UTF8.GetBytes("Berth.Http");
        var instrument = Encoding.UTF8.GetBytes("request.duration");
        var service = Encoding.UTF8.GetBytes("berth-metrics");
        Assert.True(await Eventually.TrueAsync(() => receiver.MetricExports.Any(body =>
                body.AsSpan().IndexOf(meter) >= 0 && body.AsSpan().IndexOf(instrument) >= 0 && body.AsSpan().IndexOf(service) >= 0), ExportWait),
            $"no metric export from this server with Berth.Http's request.duration; {receiver.MetricExports.Count} exports received");
        Assert.Equal(0, receiver.TraceRequests);
    }

    [Fact]
    public async Task NoOtelVariables_NothingIsExportedButTheAccessLogStillCarriesTheCallersTraceId()
    {
        await using var server = await BerthServer.StartAsync(new BerthServerOptions { LogLevel = "info" });
        var (traceparent, traceId, _) = NewTraceparent();
        using var request = RegistryClient.Request(HttpMethod.Get, "/v2/");
        request.Headers.Add("traceparent", traceparent);
        using var client = ClientWithoutPropagation(server.BaseAddress);
        using var response = await client.SendAsync(request);
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);

        Assert.True(await Eventually.TrueAsync(() => server.Logs.Entries.Any(e => e.EventId.Id == 3100 && (string?)e.Value("TraceId") == traceId)),
            string.Join("\n", server.Logs.Entries));
        Assert.Contains(server.Logs.Entries, e => e.EventId.Id == 3006 && (string?)e.Value("Tracing") == "off");
    }

    [Fact]
    public async Task NoOtelVariablesAndNoTraceparent_EachAccessLogLineCarriesAFreshTraceId()
    {
        await using var server = await BerthServer.StartAsync(new BerthServerOptions { LogLevel = "info" });
        using var client = ClientWithoutPropagation(server.BaseAddress);
        for (var i = 0; i < 2; i++)
        {
            using var response = await client.GetAsync(new Uri("/v2/", UriKind.Relative));
            await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        }

        Assert.True(await Eventually.TrueAsync(() => server.Logs.Entries.Count(e => e.EventId.Id == 3100) >= 2), string.Join("\n", server.Logs.Entries));
        var traceIds = server.Logs.Entries.Where(e => e.EventId.Id == 3100).Select(e => (string?)e.Value("TraceId")).ToList();
        Assert.All(traceIds, id => Assert.Matches("^[0-9a-f]{32}$", id));
        Assert.NotEqual("00000000000000000000000000000000", traceIds[0]);
        Assert.Equal(traceIds.Count, traceIds.Distinct().Count());
    }

    /// <summary>
    /// A client that sends the test's own <c>traceparent</c> as given. The server's tracer listens process-wide, so
    /// it also instruments this process's HttpClients, which would otherwise replace the header with their own span's.
    /// </summary>
    private static HttpClient ClientWithoutPropagation(Uri baseAddress) =>
        new(new SocketsHttpHandler { ActivityHeadersPropagator = null, AllowAutoRedirect = false }) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };

    private static Dictionary<string, string> OtelEnvironment(OtlpReceiver receiver, string service) => new(StringComparer.Ordinal)
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.BaseAddress.ToString().TrimEnd('/'),
        ["OTEL_SERVICE_NAME"] = service,
        // Export every 100 ms so the test waits for spans, not for the 5 s default batch delay.
        ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
    };

    private static (string Traceparent, string TraceId, string SpanId) NewTraceparent()
    {
        var traceId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var spanId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        return ($"00-{traceId}-{spanId}-01", traceId, spanId);
    }

    private static string NewTraceparentParent(string traceparent) => traceparent.Split('-')[2];

    private static bool IsDescendant(ReceivedSpan span, ReceivedSpan ancestor, IReadOnlyList<ReceivedSpan> trace)
    {
        var current = span;
        for (var depth = 0; depth < 32; depth++)
        {
            if (current.ParentSpanId == ancestor.SpanId)
            {
                return true;
            }

            var parent = trace.FirstOrDefault(s => s.SpanId == current.ParentSpanId);
            if (parent is null)
            {
                return false;
            }

            current = parent;
        }

        return false;
    }

    private static async Task<ReceivedSpan> WaitForSpanAsync(OtlpReceiver receiver, Func<ReceivedSpan, bool> match)
    {
        ReceivedSpan? found = null;
        var arrived = await Eventually.TrueAsync(() => (found = receiver.Spans.FirstOrDefault(match)) is not null, ExportWait);
        Assert.True(arrived, $"no matching span arrived in {ExportWait.TotalSeconds} s; received:\n{string.Join("\n", receiver.Spans.Take(50))}");
        return found!;
    }

    private static async Task<IReadOnlyList<ReceivedSpan>> WaitForSpansAsync(OtlpReceiver receiver, string traceId, Func<IReadOnlyList<ReceivedSpan>, bool> complete)
    {
        IReadOnlyList<ReceivedSpan> spans = [];
        var arrived = await Eventually.TrueAsync(() => complete(spans = receiver.Trace(traceId)), ExportWait);
        Assert.True(arrived, $"trace {traceId} incomplete after {ExportWait.TotalSeconds} s:\n{string.Join("\n", spans)}");
        return spans;
    }
}
