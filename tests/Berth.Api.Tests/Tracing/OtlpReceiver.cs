using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Berth.Api.Tests.Tracing;

/// <summary>One span as an OTLP collector receives it, with the resource and scope it came under.</summary>
public sealed record ReceivedSpan(
    string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, int StatusCode, string StatusMessage,
    IReadOnlyDictionary<string, string> Attributes, IReadOnlyDictionary<string, string> Resource, string Scope)
{
    /// <summary>OTLP's SpanKind numbers.</summary>
    public const int KindInternal = 1, KindServer = 2, KindClient = 3;

    /// <summary>OTLP's StatusCode numbers.</summary>
    public const int StatusUnset = 0, StatusError = 2;

    public string? Attribute(string key) => Attributes.TryGetValue(key, out var value) ? value : null;

    public override string ToString() => $"{Name} [{Scope}] trace={TraceId} span={SpanId} parent={ParentSpanId} {string.Join(" ", Attributes.Select(a => a.Key + "=" + a.Value))}";
}

/// <summary>
/// A real OTLP/HTTP receiver on 127.0.0.1: Kestrel accepting <c>POST /v1/traces</c> and <c>POST /v1/metrics</c> with
/// <c>application/x-protobuf</c> bodies, as a collector does. Trace requests are decoded field by field with
/// Google.Protobuf's <see cref="CodedInputStream"/> (the few messages of OTLP's trace protocol that carry what the
/// tests check); metric requests are kept as raw bytes.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private const int MaxBodyBytes = 16 * 1024 * 1024;
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private readonly ConcurrentQueue<byte[]> _metrics = new();
    private int _traceRequests;

    private OtlpReceiver(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    /// <summary><c>http://127.0.0.1:&lt;port&gt;</c>: what <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set to.</summary>
    public Uri BaseAddress { get; }

    public IReadOnlyCollection<ReceivedSpan> Spans => _spans;

    /// <summary>The bodies of the metric exports received.</summary>
    public IReadOnlyCollection<byte[]> MetricExports => _metrics;

    public int TraceRequests => Volatile.Read(ref _traceRequests);

    public IReadOnlyList<ReceivedSpan> Trace(string traceId) => [.. _spans.Where(s => s.TraceId == traceId)];

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        OtlpReceiver? receiver = null;
        app.MapPost("/v1/traces", async (HttpContext context) =>
        {
            if (context.Request.ContentType != "application/x-protobuf")
            {
                return Results.StatusCode(StatusCodes.Status415UnsupportedMediaType);
            }

            var body = await ReadBodyAsync(context);
            receiver!.Accept(body);
            return Results.Bytes([], "application/x-protobuf");
        });
        app.MapPost("/v1/metrics", async (HttpContext context) =>
        {
            receiver!._metrics.Enqueue(await ReadBodyAsync(context));
            return Results.Bytes([], "application/x-protobuf");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver = new OtlpReceiver(app, new Uri(address));
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }

    private static async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                throw new InvalidOperationException("OTLP export larger than the test receiver accepts");
            }

            await buffer.WriteAsync(chunk.AsMemory(0, read), context.RequestAborted);
        }

        return buffer.ToArray();
    }

    // ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
    private void Accept(byte[] body)
    {
        Interlocked.Increment(ref _traceRequests);
        var input = new CodedInputStream(body);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == 1)
            {
                ReadResourceSpans(input.ReadBytes());
            }
            else
            {
                input.SkipLastField();
            }
        }
    }

    // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
    private void ReadResourceSpans(ByteString bytes)
    {
        var resource = new Dictionary<string, string>();
        var scopes = new List<ByteString>();
        var input = bytes.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    // Resource { repeated KeyValue attributes = 1; }
                    ReadAttributes(input.ReadBytes(), attributesField: 1, resource);
                    break;
                case 2:
                    scopes.Add(input.ReadBytes());
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        foreach (var scope in scopes)
        {
            ReadScopeSpans(scope, resource);
        }
    }

    // ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }; InstrumentationScope { string name = 1; }
    private void ReadScopeSpans(ByteString bytes, IReadOnlyDictionary<string, string> resource)
    {
        var scopeName = "";
        var spans = new List<ByteString>();
        var input = bytes.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    scopeName = ReadStringField(input.ReadBytes(), 1);
                    break;
                case 2:
                    spans.Add(input.ReadBytes());
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        foreach (var span in spans)
        {
            _spans.Enqueue(ReadSpan(span, resource, scopeName));
        }
    }

    // Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; SpanKind kind = 6;
    //        repeated KeyValue attributes = 9; Status status = 15; }; Status { string message = 2; StatusCode code = 3; }
    private static ReceivedSpan ReadSpan(ByteString bytes, IReadOnlyDictionary<string, string> resource, string scope)
    {
        string traceId = "", spanId = "", parent = "", name = "", statusMessage = "";
        int kind = 0, statusCode = 0;
        var attributes = new Dictionary<string, string>();
        var input = bytes.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    traceId = Convert.ToHexStringLower(input.ReadBytes().Span);
                    break;
                case 2:
                    spanId = Convert.ToHexStringLower(input.ReadBytes().Span);
                    break;
                case 4:
                    parent = Convert.ToHexStringLower(input.ReadBytes().Span);
                    break;
                case 5:
                    name = input.ReadString();
                    break;
                case 6:
                    kind = input.ReadEnum();
                    break;
                case 9:
                    ReadKeyValue(input.ReadBytes(), attributes);
                    break;
                case 15:
                    var status = input.ReadBytes().CreateCodedInput();
                    uint statusTag;
                    while ((statusTag = status.ReadTag()) != 0)
                    {
                        switch (WireFormat.GetTagFieldNumber(statusTag))
                        {
                            case 2:
                                statusMessage = status.ReadString();
                                break;
                            case 3:
                                statusCode = status.ReadEnum();
                                break;
                            default:
                                status.SkipLastField();
                                break;
                        }
                    }

                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        return new ReceivedSpan(traceId, spanId, parent, name, kind, statusCode, statusMessage, attributes, resource, scope);
    }

    private static void ReadAttributes(ByteString bytes, int attributesField, Dictionary<string, string> into)
    {
        var input = bytes.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == attributesField)
            {
                ReadKeyValue(input.ReadBytes(), into);
            }
            else
            {
                input.SkipLastField();
            }
        }
    }

    // KeyValue { string key = 1; AnyValue value = 2; }
    // AnyValue { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; ... }
    private static void ReadKeyValue(ByteString bytes, Dictionary<string, string> into)
    {
        var key = "";
        var value = "";
        var input = bytes.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    key = input.ReadString();
                    break;
                case 2:
                    var any = input.ReadBytes().CreateCodedInput();
                    uint anyTag;
                    while ((anyTag = any.ReadTag()) != 0)
                    {
                        value = WireFormat.GetTagFieldNumber(anyTag) switch
                        {
                            1 => any.ReadString(),
                            2 => any.ReadBool() ? "true" : "false",
                            3 => any.ReadInt64().ToString(System.Globalization.CultureInfo.InvariantCulture),
                            4 => any.ReadDouble().ToString(System.Globalization.CultureInfo.InvariantCulture),
                            _ => Skip(any),
                        };
                    }

                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        into[key] = value;
    }

    private static string Skip(CodedInputStream input)
    {
        input.SkipLastField();
        return "";
    }

    private static string ReadStringField(ByteString bytes, int field)
    {
        var input = bytes.CreateCodedInput();
        uint tag;
        var result = "";
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == field)
            {
                result = input.ReadString();
            }
            else
            {
                input.SkipLastField();
            }
        }

        return result;
    }
}
