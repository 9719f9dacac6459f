using System.Diagnostics.Metrics;
using System.Net.Http.Headers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Berth.Api.Notifications;

/// <summary>
/// Delivers events to every configured endpoint: one bounded queue and one sender per endpoint,
/// so events reach each endpoint in the order they happened, a slow or dead endpoint never delays
/// requests or other endpoints, and memory stays bounded (the oldest events are dropped, and
/// counted, when a queue is full). A failed delivery is retried; after <c>threshold</c> failures
/// in a row the sender waits <c>backoff</c> between attempts.
/// </summary>
public sealed partial class NotificationService : BackgroundService, IRegistryEventSink
{
    public const string EnvelopeMediaType = "application/vnd.docker.distribution.events.v1+json";

    private static readonly Meter Meter = new("Berth.Notifications");
    private static readonly Counter<long> Delivered = Meter.CreateCounter<long>("delivered", description: "Events delivered");
    private static readonly Counter<long> Failures = Meter.CreateCounter<long>("failures", description: "Failed delivery attempts");
    private static readonly Counter<long> Dropped = Meter.CreateCounter<long>("dropped", description: "Events dropped on a full queue");

    /// <summary>Media types keep their '+' literally, as receivers written for registry:2 expect to read them.</summary>
    private static readonly JsonSerializerOptions EnvelopeJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly IReadOnlyList<(NotificationEndpoint Endpoint, Channel<RegistryEvent> Queue)> _endpoints;
    private readonly HttpClient _http;
    private readonly ILogger<NotificationService> _logger;
    private readonly TimeProvider _time;

    public NotificationService(IReadOnlyList<NotificationEndpoint> endpoints, HttpClient http, ILogger<NotificationService> logger, TimeProvider time)
    {
        _http = http;
        _logger = logger;
        _time = time;
        _endpoints = endpoints.Select(endpoint =>
        {
            var queue = Channel.CreateBounded<RegistryEvent>(
                new BoundedChannelOptions(endpoint.QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
                dropped => Dropped.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint.Name)));
            return (endpoint, queue);
        }).ToList();
    }

    public void Publish(RegistryEvent registryEvent)
    {
        foreach (var (endpoint, queue) in _endpoints)
        {
            if (endpoint.Accepts(registryEvent))
            {
                queue.Writer.TryWrite(registryEvent);
            }
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_endpoints.Select(e => SendLoopAsync(e.Endpoint, e.Queue.Reader, stoppingToken)));

    private async Task SendLoopAsync(NotificationEndpoint endpoint, ChannelReader<RegistryEvent> queue, CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var registryEvent in queue.ReadAllAsync(stoppingToken))
            {
                var failures = 0;
                while (!await TrySendAsync(endpoint, registryEvent, stoppingToken))
                {
                    failures++;
                    Failures.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint.Name));
                    var pause = failures >= endpoint.Threshold ? endpoint.Backoff : TimeSpan.FromMilliseconds(Math.Min(1000, 50 * failures));
                    await Task.Delay(pause, _time, stoppingToken);
                }

                Delivered.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint.Name));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: undelivered events are lost with the process, as in registry:2.
        }
    }

    private async Task<bool> TrySendAsync(NotificationEndpoint endpoint, RegistryEvent registryEvent, CancellationToken stoppingToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(endpoint.Timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url)
            {
                Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(new { events = new[] { registryEvent } }, EnvelopeJson)),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(EnvelopeMediaType);
            foreach (var (name, values) in endpoint.Headers)
            {
                request.Headers.TryAddWithoutValidation(name, values);
            }

            using var response = await _http.SendAsync(request, timeout.Token);
            if ((int)response.StatusCode is >= 200 and < 400)
            {
                return true;
            }

            LogRejected(_logger, endpoint.Name, (int)response.StatusCode);
            return false;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !stoppingToken.IsCancellationRequested)
        {
            LogUnreachable(_logger, endpoint.Name, ex.Message);
            return false;
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Notification endpoint {Endpoint} answered {Status}; retrying")]
    private static partial void LogRejected(ILogger logger, string endpoint, int status);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Notification endpoint {Endpoint} unreachable ({Reason}); retrying")]
    private static partial void LogUnreachable(ILogger logger, string endpoint, string reason);
}
