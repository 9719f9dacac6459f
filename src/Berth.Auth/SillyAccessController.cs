using Microsoft.AspNetCore.Http;

namespace Berth.Auth;

/// <summary>
/// Distribution's <c>silly</c> controller, for development only: any request that carries an
/// <c>Authorization</c> header is let in; others get a Bearer challenge. It checks nothing.
/// </summary>
public sealed class SillyAccessController(string realm, string service) : IAccessController
{
    public ValueTask<AccessDecision> AuthorizeAsync(HttpContext context, IReadOnlyList<AccessRequest> requested, CancellationToken cancellationToken)
    {
        if (context.Request.Headers.Authorization.Count > 0 && context.Request.Headers.Authorization.ToString().Length > 0)
        {
            return ValueTask.FromResult(AccessDecision.Granted(new AllowAllGrant("silly")));
        }

        return ValueTask.FromResult(AccessDecision.Unauthenticated(Challenges.Bearer(realm, service, requested, error: null)));
    }
}
