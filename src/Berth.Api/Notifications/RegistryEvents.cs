using Berth.Core;
using Microsoft.AspNetCore.Http;

namespace Berth.Api.Notifications;

/// <summary>Where the endpoints report what happened; publishing never blocks a request.</summary>
public interface IRegistryEventSink
{
    void Publish(RegistryEvent registryEvent);
}

/// <summary>The sink when no notification endpoint is configured.</summary>
public sealed class NullRegistryEventSink : IRegistryEventSink
{
    public void Publish(RegistryEvent registryEvent)
    {
    }
}

/// <summary>Builds events from the request that caused them.</summary>
public sealed class RegistryEvents(IRegistryEventSink sink, RegistryApiOptions options, TimeProvider time)
{
    /// <summary>Identifies this process in <c>source.instanceID</c>, as registry:2 does.</summary>
    private static readonly string InstanceId = Guid.NewGuid().ToString("D");

    public bool Enabled => sink is not NullRegistryEventSink;

    public void Publish(HttpContext context, string action, RepositoryName repository, Digest? digest, string? mediaType, long size,
        string? tag = null, string? fromRepository = null)
    {
        if (!Enabled)
        {
            return;
        }

        var request = context.Request;
        var url = digest is null ? null
            : mediaType is not null && Core.Manifests.ManifestParser.IsManifestType(mediaType)
                ? RegistryRequest.ManifestUrl(context, options, repository, digest.Value)
                : RegistryRequest.BlobUrl(context, options, repository, digest.Value);
        sink.Publish(new RegistryEvent
        {
            Id = Guid.NewGuid().ToString("D"),
            Timestamp = time.GetUtcNow(),
            Action = action,
            Target = new EventTarget
            {
                MediaType = mediaType,
                Size = size,
                Length = size,
                Digest = digest?.ToString(),
                Repository = repository.Value,
                FromRepository = fromRepository,
                Url = url,
                Tag = tag,
            },
            Request = new EventRequest
            {
                Id = context.TraceIdentifier,
                Addr = $"{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}",
                Host = request.Host.Value ?? "",
                Method = request.Method,
                UserAgent = request.Headers.UserAgent.ToString(),
            },
            Actor = new EventActor { Name = context.User.Identity?.Name },
            Source = new EventSource { Addr = $"{context.Connection.LocalIpAddress}:{context.Connection.LocalPort}", InstanceId = InstanceId },
        });
    }

    /// <summary>
    /// An event of the registry's own doing, with no client request behind it (a deletion by retention). registry:2 has
    /// no such events; receivers tell them by <c>actor.name</c> (<paramref name="actor"/>) and <c>request.useragent</c>
    /// (<c>berth-&lt;actor&gt;</c>); the request's address and host are empty, its method the HTTP method the action
    /// stands for, and the target has no <c>url</c> (there is no request to take the registry's address from).
    /// </summary>
    public void PublishMaintenance(string action, string method, string actor, RepositoryName repository, Digest? digest, string? tag)
    {
        if (!Enabled)
        {
            return;
        }

        var id = Guid.NewGuid().ToString("D");
        sink.Publish(new RegistryEvent
        {
            Id = id,
            Timestamp = time.GetUtcNow(),
            Action = action,
            Target = new EventTarget
            {
                Digest = digest?.ToString(),
                Repository = repository.Value,
                Tag = tag,
            },
            Request = new EventRequest { Id = id, Addr = "", Host = "", Method = method, UserAgent = "berth-" + actor },
            Actor = new EventActor { Name = actor },
            Source = new EventSource { Addr = "", InstanceId = InstanceId },
        });
    }
}
