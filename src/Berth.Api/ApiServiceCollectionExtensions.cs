using Berth.Api.Endpoints;
using Berth.Api.Notifications;
using Berth.Core.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Berth.Api;

public static class ApiServiceCollectionExtensions
{
    /// <summary>Registers the <c>/v2</c> handlers; the stores come from <c>AddBerthStorage</c>.</summary>
    public static IServiceCollection AddBerthApi(this IServiceCollection services, RegistryApiOptions options)
    {
        services.TryAddSingleton(options);
        services.TryAddSingleton(new UploadStateToken(options.UploadStateSecret));
        services.TryAddSingleton<BlobEndpoints>();
        services.TryAddSingleton<UploadEndpoints>();
        services.TryAddSingleton<ManifestEndpoints>();
        services.TryAddSingleton<ListingEndpoints>();
        services.TryAddSingleton<UsageEndpoints>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IRegistryEventSink, NullRegistryEventSink>();
        services.TryAddSingleton<RegistryEvents>();
        services.TryAddSingleton<RegistryDispatcher>();
        return services;
    }

    /// <summary>
    /// Sends push, pull, delete and mount events to <paramref name="endpoints"/> (registry:2's
    /// <c>notifications.endpoints</c>). Call before <see cref="AddBerthApi"/>.
    /// </summary>
    public static IServiceCollection AddBerthNotifications(this IServiceCollection services, IReadOnlyList<NotificationEndpoint> endpoints)
    {
        if (endpoints.Count == 0)
        {
            return services;
        }

        services.AddSingleton(sp => new NotificationService(endpoints, new HttpClient(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<NotificationService>>(), sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.AddSingleton<IRegistryEventSink>(sp => sp.GetRequiredService<NotificationService>());
        services.AddHostedService(sp => sp.GetRequiredService<NotificationService>());
        return services;
    }

    /// <summary>
    /// Serves the distribution API under <c>/v2</c>. Requests whose raw path has dot segments
    /// (<c>..</c>, <c>%2e%2e</c>) are refused before Kestrel's normalisation could silently
    /// re-aim them at another repository, and requests that match nothing get an OCI 404 body.
    /// </summary>
    public static IApplicationBuilder UseBerthRegistry(this IApplicationBuilder app)
    {
        var dispatcher = app.ApplicationServices.GetRequiredService<RegistryDispatcher>();
        app.Use((context, next) =>
        {
            var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
            return rawTarget is not null && HasDotSegment(rawTarget)
                ? WriteErrorAsync(context, ErrorCode.NameInvalid, "the path has '.' or '..' segments")
                : next(context);
        });
        app.Map("/v2", branch => branch.Run(dispatcher.HandleAsync));
        app.Use((context, next) => context.GetEndpoint() is null
            ? WriteErrorAsync(context, ErrorCode.NotFound, ErrorCode.NotFound.Message)
            : next(context));
        return app;
    }

    /// <summary>True when a segment of the path part of <paramref name="rawTarget"/> is <c>.</c> or <c>..</c>, plainly or percent-encoded.</summary>
    internal static bool HasDotSegment(string rawTarget)
    {
        var query = rawTarget.IndexOf('?', StringComparison.Ordinal);
        var path = query >= 0 ? rawTarget.AsSpan(0, query) : rawTarget.AsSpan();
        foreach (var range in path.Split('/'))
        {
            var segment = path[range];
            if (segment.Length is 0 or > 6)
            {
                continue;
            }

            var decoded = segment.ToString().Replace("%2e", ".", StringComparison.OrdinalIgnoreCase);
            if (decoded is "." or "..")
            {
                return true;
            }
        }

        return false;
    }

    private static Task WriteErrorAsync(HttpContext context, ErrorCode code, string message) =>
        ErrorResponses.WriteAsync(context, code, message, null);
}
