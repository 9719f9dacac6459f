namespace Berth.Auth.Tests;

public sealed class AccessPolicyTests
{
    private static readonly AccessPolicy Policy = new(
        new Dictionary<string, IReadOnlyList<string>> { ["devs"] = ["alice", "bob"], ["ops"] = ["olga"] },
        [
            new AccessRule { Repositories = [RepositoryPattern.Parse("public/**")], Anonymous = RepositoryActions.Pull },
            new AccessRule
            {
                Repositories = [RepositoryPattern.Parse("team/**"), RepositoryPattern.Parse("shared")],
                Groups = ["devs"],
                Actions = RepositoryActions.Pull | RepositoryActions.Push,
            },
            new AccessRule { Repositories = [RepositoryPattern.Parse("team/**")], Users = ["carol"], Actions = RepositoryActions.Pull },
            new AccessRule { Repositories = [RepositoryPattern.Parse("**")], Groups = ["ops"], Actions = RepositoryActions.All },
            new AccessRule { Repositories = [RepositoryPattern.Parse("docs/**")], Authenticated = RepositoryActions.Pull },
        ],
        new CatalogAccess { Authenticated = false, Groups = ["ops"] });

    [Theory]
    [InlineData(null, "public/app", "pull", true)]
    [InlineData(null, "public/app", "push", false)]
    [InlineData(null, "team/app", "pull", false)]
    [InlineData("alice", "public/app", "pull", true)]
    [InlineData("alice", "public/app", "push", false)]
    [InlineData("alice", "team/app", "push", true)]
    [InlineData("alice", "team/app", "delete", false)]
    [InlineData("alice", "shared", "push", true)]
    [InlineData("carol", "team/app", "pull", true)]
    [InlineData("carol", "team/app", "push", false)]
    [InlineData("olga", "anything/else", "delete", true)]
    [InlineData("dave", "team/app", "pull", false)]
    [InlineData("dave", "docs/manual", "pull", true)]
    [InlineData(null, "docs/manual", "pull", false)]
    public void Allows_RepositoryActions(string? user, string repository, string action, bool expected) =>
        Assert.Equal(expected, Policy.Allows(user, AccessRequest.Repository(repository, action)));

    [Fact]
    public void Allows_SeveralActions_NeedsEveryOne()
    {
        Assert.True(Policy.Allows("alice", Requests.Push("team/app")));
        Assert.False(Policy.Allows("carol", Requests.Push("team/app")));
    }

    [Fact]
    public void Allows_UnknownActionOrType_IsRefused()
    {
        Assert.False(Policy.Allows("olga", AccessRequest.Repository("x", "admin")));
        Assert.False(Policy.Allows("olga", new AccessRequest("registry", "other", ["*"])));
    }

    [Fact]
    public void Allows_Catalog_FollowsTheCatalogSection()
    {
        Assert.True(Policy.Allows("olga", AccessRequest.Catalog()));
        Assert.False(Policy.Allows("alice", AccessRequest.Catalog()));
        Assert.False(Policy.Allows(null, AccessRequest.Catalog()));
    }

    [Fact]
    public void Default_AuthenticatedEverythingAnonymousNothing()
    {
        var policy = AccessPolicy.Default;

        Assert.True(policy.IsDefault);
        Assert.True(policy.Allows("anyone", AccessRequest.Repository("x/y", "pull", "push", "delete")));
        Assert.True(policy.Allows("anyone", AccessRequest.Catalog()));
        Assert.False(policy.Allows(null, Requests.Pull("x/y")));
        Assert.False(policy.Allows(null, AccessRequest.Catalog()));
    }

    [Fact]
    public void TryParseAction_PushImpliesPullAndStarMeansAll()
    {
        Assert.True(AccessPolicy.TryParseAction("push", out var push));
        Assert.Equal(RepositoryActions.Push | RepositoryActions.Pull, push);
        Assert.True(AccessPolicy.TryParseAction("*", out var all));
        Assert.Equal(RepositoryActions.All, all);
        Assert.False(AccessPolicy.TryParseAction("write", out _));
    }
}
