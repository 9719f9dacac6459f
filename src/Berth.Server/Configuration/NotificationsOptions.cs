using System.Collections.ObjectModel;

namespace Berth.Server.Configuration;

/// <summary><c>notifications</c>: registry events posted to webhook endpoints.</summary>
public sealed record NotificationsOptions
{
    /// <summary><c>notifications.endpoints</c>.</summary>
    public IReadOnlyList<NotificationEndpointOptions> Endpoints { get; init; } = [];

    internal static NotificationsOptions Read(SectionReader section)
    {
        // Distribution's variables use the Go field name here: REGISTRY_NOTIFICATIONS_EVENTCONFIG_*.
        section.Get("events", environmentName: "eventconfig").AsSection(events =>
        {
            // A receiver that relies on the references would get events without them.
            var includeReferences = events["includereferences"];
            if (includeReferences.AsBool())
            {
                throw includeReferences.Invalid(
                    "Berth's manifest events carry no references (the layers and config a manifest names); remove the key or set it to false");
            }

            return true;
        });

        return new NotificationsOptions
        {
            Endpoints = section["endpoints"].AsList(endpoint => endpoint.AsSection(NotificationEndpointOptions.Read)),
        };
    }
}

/// <summary>One <c>notifications.endpoints</c> item. Zero timeouts and thresholds get Distribution's defaults.</summary>
public sealed record NotificationEndpointOptions
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DefaultBackoff = TimeSpan.FromSeconds(1);
    private const int DefaultThreshold = 10;

    /// <summary><c>name</c>: identifies the endpoint in logs and metrics (required).</summary>
    public required string Name { get; init; }

    /// <summary><c>disabled</c>: keep the endpoint configured but send nothing.</summary>
    public bool Disabled { get; init; }

    /// <summary><c>url</c>: where events are POSTed (required).</summary>
    public required Uri Url { get; init; }

    /// <summary><c>headers</c>: headers added to every request.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Headers { get; init; } = ReadOnlyDictionary<string, IReadOnlyList<string>>.Empty;

    /// <summary><c>timeout</c>: per request (default 1s).</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary><c>threshold</c>: failures before backing off (default 10).</summary>
    public int Threshold { get; init; } = DefaultThreshold;

    /// <summary><c>backoff</c>: the wait after <see cref="Threshold"/> failures (default 1s).</summary>
    public TimeSpan Backoff { get; init; } = DefaultBackoff;

    /// <summary><c>ignoredmediatypes</c>: events for these media types are not sent.</summary>
    public IReadOnlyList<string> IgnoredMediaTypes { get; init; } = [];

    /// <summary><c>ignore</c>.</summary>
    public NotificationIgnoreOptions Ignore { get; init; } = new();

    internal static NotificationEndpointOptions Read(SectionReader section)
    {
        var timeout = section["timeout"].AsDuration(DefaultTimeout);
        var threshold = section["threshold"].AsInt32(DefaultThreshold);
        var backoff = section["backoff"].AsDuration(DefaultBackoff);
        return new NotificationEndpointOptions
        {
            Name = section["name"].AsRequiredString("required: a name for the endpoint"),
            Disabled = section["disabled"].AsBool(),
            Url = section["url"].AsHttpUrl() ?? throw section["url"].Invalid("required: the URL events are sent to"),
            Headers = section["headers"].AsHeaders(),
            Timeout = timeout == TimeSpan.Zero ? DefaultTimeout : timeout,
            Threshold = threshold <= 0 ? DefaultThreshold : threshold,
            Backoff = backoff == TimeSpan.Zero ? DefaultBackoff : backoff,
            IgnoredMediaTypes = section["ignoredmediatypes"].AsStringList(),
            Ignore = section["ignore"].AsSection(NotificationIgnoreOptions.Read),
        };
    }
}

/// <summary><c>notifications.endpoints[].ignore</c>.</summary>
public sealed record NotificationIgnoreOptions
{
    /// <summary><c>mediatypes</c>: events for these media types are not sent.</summary>
    public IReadOnlyList<string> MediaTypes { get; init; } = [];

    /// <summary><c>actions</c>: events with these actions (pull, push, delete) are not sent.</summary>
    public IReadOnlyList<string> Actions { get; init; } = [];

    internal static NotificationIgnoreOptions Read(SectionReader section) => new()
    {
        MediaTypes = section["mediatypes"].AsStringList(),
        Actions = section["actions"].AsStringList(),
    };
}
