using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Berth.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Berth.Api.Tests;

/// <summary>
/// Notifications go to a real HTTP listener on 127.0.0.1: registry:2's envelope, every action,
/// in order; and an endpoint that is down never slows the registry.
/// </summary>
public sealed class NotificationTests
{
    [Fact]
    public async Task Push_pull_mount_and_delete_events_arrive_in_order_in_registry2_envelopes()
    {
        await using var listener = await EventListener.StartAsync();
        await using var server = await BerthServer.StartAsync(new BerthServerOptions
        {
            ExtraYaml = Endpoint("listener", listener.Url, ignoreActions: ""),
        });
        var http = server.Client;

        var layer = Encoding.UTF8.GetBytes("layer-bytes");
        var layerDigest = Digest(layer);
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsync($"/v2/events/app/blobs/uploads/?digest={layerDigest}", new ByteArrayContent(layer))).StatusCode);
        var config = "{}"u8.ToArray();
        var configDigest = Digest(config);
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsync($"/v2/events/app/blobs/uploads/?digest={configDigest}", new ByteArrayContent(config))).StatusCode);
        var manifest = Encoding.UTF8.GetBytes($$"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
             "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{configDigest}}","size":{{config.Length}}},
             "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{layerDigest}}","size":{{layer.Length}}}]}
            """);
        var manifestContent = new ByteArrayContent(manifest);
        manifestContent.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync("/v2/events/app/manifests/v1", manifestContent)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v2/events/app/manifests/v1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/v2/events/app/blobs/{layerDigest}")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsync($"/v2/events/copy/blobs/uploads/?mount={layerDigest}&from=events/app", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"/v2/events/app/manifests/{Digest(manifest)}")).StatusCode);

        var events = await listener.WaitForAsync(7, TimeSpan.FromSeconds(20));
        Assert.All(listener.ContentTypes, contentType => Assert.Equal("application/vnd.docker.distribution.events.v1+json", contentType));
        Assert.Equal(["push", "push", "push", "pull", "pull", "mount", "delete"], events.Select(e => e.GetProperty("action").GetString()));

        var pushedManifest = events[2];
        var target = pushedManifest.GetProperty("target");
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", target.GetProperty("mediaType").GetString());
        Assert.Equal(Digest(manifest), target.GetProperty("digest").GetString());
        Assert.Equal(manifest.Length, target.GetProperty("size").GetInt64());
        Assert.Equal("events/app", target.GetProperty("repository").GetString());
        Assert.Equal("v1", target.GetProperty("tag").GetString());
        Assert.EndsWith($"/v2/events/app/manifests/{Digest(manifest)}", target.GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.Equal("PUT", pushedManifest.GetProperty("request").GetProperty("method").GetString());
        Assert.False(string.IsNullOrEmpty(pushedManifest.GetProperty("id").GetString()));
        Assert.False(string.IsNullOrEmpty(pushedManifest.GetProperty("source").GetProperty("instanceID").GetString()));

        var mount = events[5].GetProperty("target");
        Assert.Equal("events/copy", mount.GetProperty("repository").GetString());
        Assert.Equal("events/app", mount.GetProperty("fromRepository").GetString());
        Assert.Equal(layerDigest, mount.GetProperty("digest").GetString());
    }

    [Fact]
    public async Task Ignored_actions_are_not_sent()
    {
        await using var listener = await EventListener.StartAsync();
        await using var server = await BerthServer.StartAsync(new BerthServerOptions { ExtraYaml = Endpoint("listener", listener.Url, ignoreActions: "pull") });

        var blob = Encoding.UTF8.GetBytes("ignored-actions");
        await server.Client.PostAsync($"/v2/quiet/app/blobs/uploads/?digest={Digest(blob)}", new ByteArrayContent(blob));
        await server.Client.GetAsync($"/v2/quiet/app/blobs/{Digest(blob)}");
        await server.Client.DeleteAsync($"/v2/quiet/app/blobs/{Digest(blob)}");

        var events = await listener.WaitForAsync(2, TimeSpan.FromSeconds(20));
        Assert.Equal(["push", "delete"], events.Select(e => e.GetProperty("action").GetString()));
    }

    [Fact]
    public async Task An_endpoint_that_is_down_does_not_slow_requests()
    {
        // A port nothing listens on: every delivery attempt fails and is retried in the background.
        int deadPort;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            deadPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var server = await BerthServer.StartAsync(new BerthServerOptions
        {
            ExtraYaml = Endpoint("dead", new Uri($"http://127.0.0.1:{deadPort}/events"), ignoreActions: ""),
        });

        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < 50; i++)
        {
            var blob = Encoding.UTF8.GetBytes($"blob-{i}");
            var response = await server.Client.PostAsync($"/v2/down/app/blobs/uploads/?digest={Digest(blob)}", new ByteArrayContent(blob));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        // 50 pushes with 1 s delivery timeouts would take far longer if requests waited for delivery.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"50 pushes took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task Deletions_by_retention_are_sent_as_delete_events_of_the_registry_itself()
    {
        await using var listener = await EventListener.StartAsync();
        await using var server = await BerthServer.StartAsync(new BerthServerOptions
        {
            MaintenanceYaml = ["garbagecollection:", "  enabled: true", "  interval: 1s", "  graceperiod: 1h", "uploadpurging:", "  enabled: false"],
            ExtraYaml = Endpoint("listener", listener.Url, ignoreActions: "push, pull") + """

                retention:
                  enabled: true
                  graceperiod: 0s
                  rules:
                    - repositories: ["sched/**"]
                      keep:
                        latest: 1
                """,
        });
        var older = await server.Client.PushImageAsync("sched/app", "a");
        await Task.Delay(20);
        var newest = await server.Client.PushImageAsync("sched/app", "b");

        // The tag that is not kept, then its manifest, which no tag names any more.
        var events = await listener.WaitForAsync(2, TimeSpan.FromSeconds(45));
        Assert.All(events, e =>
        {
            Assert.Equal("delete", e.GetProperty("action").GetString());
            Assert.Equal("sched/app", e.GetProperty("target").GetProperty("repository").GetString());
            Assert.Equal(older.Manifest.Digest, e.GetProperty("target").GetProperty("digest").GetString());
            Assert.Equal("retention", e.GetProperty("actor").GetProperty("name").GetString());
            Assert.Equal("berth-retention", e.GetProperty("request").GetProperty("useragent").GetString());
            Assert.Equal("DELETE", e.GetProperty("request").GetProperty("method").GetString());
        });
        Assert.Equal(["a", null], events.Select(e => e.GetProperty("target").TryGetProperty("tag", out var tag) ? tag.GetString() : null));
        using var kept = await server.Client.GetAsync($"/v2/sched/app/manifests/{newest.Manifest.Digest}");
        await OciAssert.StatusAsync(kept, HttpStatusCode.OK);
    }

    private static string Endpoint(string name, Uri url, string ignoreActions) => $"""
        notifications:
          endpoints:
            - name: {name}
              url: {url}
              timeout: 1s
              threshold: 3
              backoff: 200ms
              ignore:
                actions: [{ignoreActions}]
        """;

    private static string Digest(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>A real HTTP server on 127.0.0.1 that records every envelope it receives.</summary>
    private sealed class EventListener : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentQueue<JsonElement> _events = new();

        private EventListener(WebApplication app) => _app = app;

        public Uri Url { get; private set; } = null!;

        public ConcurrentQueue<string> ContentTypes { get; } = new();

        public static async Task<EventListener> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var listener = new EventListener(app);
            app.MapPost("/events", async (HttpContext context) =>
            {
                listener.ContentTypes.Enqueue(context.Request.ContentType ?? "");
                using var envelope = await JsonDocument.ParseAsync(context.Request.Body);
                foreach (var item in envelope.RootElement.GetProperty("events").EnumerateArray())
                {
                    listener._events.Enqueue(item.Clone());
                }

                return Results.Ok();
            });
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            listener.Url = new Uri(address + "/events");
            return listener;
        }

        public async Task<IReadOnlyList<JsonElement>> WaitForAsync(int count, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (_events.Count < count && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            // A short grace to catch events that should not have been sent at all.
            await Task.Delay(300);
            var events = _events.ToArray();
            Assert.True(events.Length == count, $"expected {count} events, got {events.Length}: {string.Join(", ", events.Select(e => e.GetProperty("action").GetString()))}");
            return events;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
