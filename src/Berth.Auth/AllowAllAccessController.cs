using Microsoft.AspNetCore.Http;

namespace Berth.Auth;

/// <summary>No authentication configured: every request may do everything, as registry:2 without <c>auth</c>.</summary>
public sealed class AllowAllAccessController : IAccessController
{
    public static readonly AllowAllAccessController Instance = new();

    private static readonly ValueTask<AccessDecision> Granted = ValueTask.FromResult(AccessDecision.Granted(AllowAllGrant.Instance));

    public ValueTask<AccessDecision> AuthorizeAsync(HttpContext context, IReadOnlyList<AccessRequest> requested, CancellationToken cancellationToken) =>
        Granted;
}

/// <summary>A grant that allows everything, to <paramref name="subject"/> (null for anonymous).</summary>
public sealed class AllowAllGrant(string? subject = null) : IAccessGrant
{
    public static readonly AllowAllGrant Instance = new();

    public string? Subject => subject;

    public bool Allows(AccessRequest request) => true;
}
