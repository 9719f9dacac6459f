namespace Berth.Api.Notifications;

/// <summary>One <c>notifications.endpoints</c> entry, as the delivery service needs it.</summary>
public sealed record NotificationEndpoint
{
    public required string Name { get; init; }

    public required Uri Url { get; init; }

    public IReadOnlyDictionary<string, IReadOnlyList<string>> Headers { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Failures in a row after which delivery pauses for <see cref="Backoff"/>.</summary>
    public int Threshold { get; init; } = 10;

    public TimeSpan Backoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Events whose target has one of these media types are not sent.</summary>
    public IReadOnlySet<string> IgnoredMediaTypes { get; init; } = new HashSet<string>();

    /// <summary>Events with one of these actions are not sent.</summary>
    public IReadOnlySet<string> IgnoredActions { get; init; } = new HashSet<string>();

    /// <summary>Events queued for this endpoint at most; beyond it the oldest are dropped (and counted).</summary>
    public int QueueCapacity { get; init; } = 10_000;

    public bool Accepts(RegistryEvent registryEvent) =>
        !IgnoredActions.Contains(registryEvent.Action)
        && (registryEvent.Target.MediaType is null || !IgnoredMediaTypes.Contains(registryEvent.Target.MediaType));
}
