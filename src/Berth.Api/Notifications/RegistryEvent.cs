using System.Text.Json.Serialization;

namespace Berth.Api.Notifications;

/// <summary>
/// One event in registry:2's notification envelope
/// (<c>application/vnd.docker.distribution.events.v1+json</c>), field for field, so receivers
/// written for registry:2 parse it unchanged.
/// </summary>
public sealed record RegistryEvent
{
    public const string Push = "push";
    public const string Pull = "pull";
    public const string Delete = "delete";
    public const string Mount = "mount";

    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("timestamp")]
    public required DateTimeOffset Timestamp { get; init; }

    [JsonPropertyName("action")]
    public required string Action { get; init; }

    [JsonPropertyName("target")]
    public required EventTarget Target { get; init; }

    [JsonPropertyName("request")]
    public required EventRequest Request { get; init; }

    [JsonPropertyName("actor")]
    public EventActor Actor { get; init; } = new();

    [JsonPropertyName("source")]
    public required EventSource Source { get; init; }
}

public sealed record EventTarget
{
    [JsonPropertyName("mediaType")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? MediaType { get; init; }

    [JsonPropertyName("size")]
    public long Size { get; init; }

    [JsonPropertyName("digest")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Digest { get; init; }

    [JsonPropertyName("length")]
    public long Length { get; init; }

    [JsonPropertyName("repository")]
    public required string Repository { get; init; }

    [JsonPropertyName("fromRepository")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? FromRepository { get; init; }

    [JsonPropertyName("url")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Url { get; init; }

    [JsonPropertyName("tag")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Tag { get; init; }
}

public sealed record EventRequest
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("addr")]
    public required string Addr { get; init; }

    [JsonPropertyName("host")]
    public required string Host { get; init; }

    [JsonPropertyName("method")]
    public required string Method { get; init; }

    [JsonPropertyName("useragent")]
    public required string UserAgent { get; init; }
}

public sealed record EventActor
{
    [JsonPropertyName("name")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }
}

public sealed record EventSource
{
    [JsonPropertyName("addr")]
    public required string Addr { get; init; }

    [JsonPropertyName("instanceID")]
    public required string InstanceId { get; init; }
}
