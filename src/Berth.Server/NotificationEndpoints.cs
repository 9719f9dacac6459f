using Berth.Api.Notifications;
using Berth.Server.Configuration;

namespace Berth.Server;

/// <summary>Maps <c>notifications.endpoints</c> to what the delivery service needs.</summary>
internal static class NotificationEndpoints
{
    public static IReadOnlyList<NotificationEndpoint> FromConfiguration(NotificationsOptions notifications) =>
        notifications.Endpoints
            .Where(endpoint => !endpoint.Disabled)
            .Select(endpoint => new NotificationEndpoint
            {
                Name = endpoint.Name,
                Url = endpoint.Url,
                Headers = endpoint.Headers,
                Timeout = endpoint.Timeout,
                Threshold = endpoint.Threshold,
                Backoff = endpoint.Backoff,
                // ignoredmediatypes is registry:2's older spelling of ignore.mediatypes; both apply.
                IgnoredMediaTypes = endpoint.IgnoredMediaTypes.Concat(endpoint.Ignore.MediaTypes).ToHashSet(StringComparer.Ordinal),
                IgnoredActions = endpoint.Ignore.Actions.ToHashSet(StringComparer.Ordinal),
            })
            .ToList();
}
