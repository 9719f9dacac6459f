using Berth.Auth;
using Berth.Core;

namespace Berth.Ui.Security;

/// <summary>Who is looking at a page, and what the registry's access rules let them see and do.</summary>
/// <param name="User">The signed-in user; null for an anonymous visitor.</param>
/// <param name="Grant">The same grant the API would give this user.</param>
/// <param name="SignInNeeded">True when the registry has accounts (htpasswd), so a page offers to sign in or out.</param>
/// <param name="CsrfToken">The token every form of the page carries.</param>
public sealed record Viewer(string? User, IAccessGrant Grant, bool SignInNeeded, string CsrfToken)
{
    public bool MayPull(string repository) => Grant.Allows(AccessRequest.Repository(repository, AccessRequest.Pull));

    public bool MayDelete(string repository) => Grant.Allows(AccessRequest.Repository(repository, AccessRequest.Delete));

    public bool MayDelete(RepositoryName repository) => MayDelete(repository.Value);

    public bool MayPull(RepositoryName repository) => MayPull(repository.Value);
}
