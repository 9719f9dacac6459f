using Microsoft.AspNetCore.Http;

namespace Berth.Auth;

/// <summary>No authentication configured: every request may do everything, as registry:2 without <c>auth</c>.</summary>
public sealed class AllowAllAccessController : IAccessController, IBrowserSignIn
{
    public static readonly AllowAllAccessController Instance = new();

    private static readonly ValueTask<AccessDecision> Granted = ValueTask.FromResult(AccessDecision.Granted(AllowAllGrant.Instance));

    public ValueTask<AccessDecision> AuthorizeAsync(HttpContext context, IReadOnlyList<AccessRequest> requested, CancellationToken cancellationToken) =>
        Granted;

    public bool SignInNeeded => false;

    public ValueTask<SignInOutcome> SignInAsync(HttpContext context, string user, string password, CancellationToken cancellationToken) =>
        ValueTask.FromResult(SignInOutcome.Refused);

    public string? CredentialStamp(string user) => null;

    public IAccessGrant GrantFor(string? user) => AllowAllGrant.Instance;
}

/// <summary>A grant that allows everything, to <paramref name="subject"/> (null for anonymous).</summary>
public sealed class AllowAllGrant(string? subject = null) : IAccessGrant
{
    public static readonly AllowAllGrant Instance = new();

    public string? Subject => subject;

    public bool Allows(AccessRequest request) => true;
}
