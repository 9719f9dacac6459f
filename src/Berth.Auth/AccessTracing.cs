using System.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace Berth.Auth;

/// <summary>
/// The access controller's span (activity source <c>Berth.Auth</c>): <c>auth.authorize</c>, one per request that
/// asks for access, with the scope asked for and the outcome. Without a listener it costs one field check.
/// </summary>
public static class AccessTracing
{
    public const string ActivitySourceName = "Berth.Auth";

    /// <summary>The Docker token scopes asked for, space-separated: <c>repository:team/app:pull,push</c>.</summary>
    public const string ScopeAttribute = "berth.auth.scope";

    /// <summary>granted, unauthenticated, denied or throttled.</summary>
    public const string OutcomeAttribute = "berth.auth.outcome";

    /// <summary>Which access controller decided (htpasswd, token, silly, none).</summary>
    public const string ControllerAttribute = "berth.auth.controller";

    private static readonly ActivitySource Source = new(ActivitySourceName);

    /// <summary>
    /// <see cref="IAccessController.AuthorizeAsync"/> inside an <c>auth.authorize</c> span. A refusal is an answer
    /// (its status stays unset); only an exception marks the span as an error.
    /// </summary>
    public static ValueTask<AccessDecision> AuthorizeTracedAsync(this IAccessController controller, HttpContext context, IReadOnlyList<AccessRequest> requests,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(requests);
        if (!Source.HasListeners())
        {
            return controller.AuthorizeAsync(context, requests, cancellationToken);
        }

        return AuthorizeInSpanAsync(controller, context, requests, cancellationToken);
    }

    private static async ValueTask<AccessDecision> AuthorizeInSpanAsync(IAccessController controller, HttpContext context, IReadOnlyList<AccessRequest> requests,
        CancellationToken cancellationToken)
    {
        using var span = Source.StartActivity("auth.authorize", ActivityKind.Internal);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag(ScopeAttribute, string.Join(' ', requests.Select(r => r.Scope)));
            span.SetTag(ControllerAttribute, ControllerName(controller));
        }

        try
        {
            var decision = await controller.AuthorizeAsync(context, requests, cancellationToken);
            span?.SetTag(OutcomeAttribute, decision.Outcome switch
            {
                AccessOutcome.Granted => "granted",
                AccessOutcome.Unauthenticated => "unauthenticated",
                AccessOutcome.Denied => "denied",
                _ => "throttled",
            });
            return decision;
        }
        catch (Exception ex)
        {
            span?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            span?.SetTag("error.type", ex.GetType().FullName);
            throw;
        }
    }

    private static string ControllerName(IAccessController controller) => controller switch
    {
        HtpasswdAccessController => "htpasswd",
        TokenAccessController => "token",
        SillyAccessController => "silly",
        AllowAllAccessController => "none",
        _ => controller.GetType().Name,
    };
}
