using System.Diagnostics;

namespace Berth.Auth.Tests;

public sealed class HtpasswdAccessControllerTests : IDisposable
{
    private const string Realm = "Registry Realm";
    private readonly TempDirectory _directory = new();
    private readonly string _path;

    public HtpasswdAccessControllerTests()
    {
        _path = _directory.Combine("htpasswd");
        File.WriteAllText(_path, $"{Hashes.Line("alice", "wonderland")}\n{Hashes.Line("bob", "builder")}\n");
    }

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Authorize_RightPassword_GrantsWithTheUserAsSubject()
    {
        using var controller = new HtpasswdAccessController(Realm, _path);

        var decision = await controller.AuthorizeAsync(Requests.Context(Requests.Basic("alice", "wonderland")), [Requests.Push("any/repo")], default);

        Assert.Equal(AccessOutcome.Granted, decision.Outcome);
        Assert.Equal("alice", decision.Subject);
        Assert.True(decision.Grant!.Allows(Requests.Delete("other")));
    }

    [Theory]
    [InlineData("alice", "wrong")]
    [InlineData("mallory", "wonderland")]
    [InlineData("Alice", "wonderland")]
    public async Task Authorize_WrongUserOrPassword_ChallengesWithBasicRealm(string user, string password)
    {
        using var controller = new HtpasswdAccessController(Realm, _path);

        var decision = await controller.AuthorizeAsync(Requests.Context(Requests.Basic(user, password)), [], default);

        Assert.Equal(AccessOutcome.Unauthenticated, decision.Outcome);
        Assert.Equal("Basic realm=\"Registry Realm\"", decision.Challenge);
        Assert.DoesNotContain(password, decision.Reason ?? "", StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Basic Og==")]
    public async Task Authorize_AnonymousVersionCheck_IsChallenged(string? header)
    {
        using var controller = new HtpasswdAccessController(Realm, _path);

        var decision = await controller.AuthorizeAsync(Requests.Context(header), [], default);

        Assert.Equal(AccessOutcome.Unauthenticated, decision.Outcome);
        Assert.NotNull(decision.Challenge);
    }

    [Theory]
    [InlineData("Bearer x.y.z")]
    [InlineData("Basic !!!")]
    [InlineData("Basic YWxpY2U=")]
    public async Task Authorize_UnusableHeader_IsChallengedNotAnError(string header)
    {
        using var controller = new HtpasswdAccessController(Realm, _path);

        var decision = await controller.AuthorizeAsync(Requests.Context(header), [Requests.Pull("x")], default);

        Assert.Equal(AccessOutcome.Unauthenticated, decision.Outcome);
    }

    [Fact]
    public async Task Authorize_PolicyAnonymousPull_AnonymousMayPullButPushIsChallenged()
    {
        var policy = new AccessPolicy(rules: [new AccessRule { Repositories = [RepositoryPattern.Parse("public/**")], Anonymous = RepositoryActions.Pull }]);
        using var controller = new HtpasswdAccessController(Realm, _path, policy);

        var pull = await controller.AuthorizeAsync(Requests.Context("Basic Og=="), [Requests.Pull("public/app")], default);
        var push = await controller.AuthorizeAsync(Requests.Context(), [Requests.Push("public/app")], default);
        var userPush = await controller.AuthorizeAsync(Requests.Context(Requests.Basic("alice", "wonderland")), [Requests.Push("public/app")], default);

        Assert.Equal(AccessOutcome.Granted, pull.Outcome);
        Assert.Null(pull.Subject);
        Assert.Equal(AccessOutcome.Unauthenticated, push.Outcome);
        Assert.Equal(AccessOutcome.Denied, userPush.Outcome);
        Assert.Equal("alice", userPush.Subject);
    }

    [Fact]
    public async Task Authorize_GrantAnswersForOtherRepositories_ForMountChecks()
    {
        var policy = new AccessPolicy(rules:
        [
            new AccessRule { Repositories = [RepositoryPattern.Parse("mine/**")], Users = ["bob"], Actions = RepositoryActions.All },
        ]);
        using var controller = new HtpasswdAccessController(Realm, _path, policy);

        var decision = await controller.AuthorizeAsync(Requests.Context(Requests.Basic("bob", "builder")), [Requests.Push("mine/app")], default);

        Assert.True(decision.Grant!.Allows(Requests.Pull("mine/other")));
        Assert.False(decision.Grant.Allows(Requests.Pull("secret/app")));
    }

    [Fact]
    public async Task Authorize_FileChanged_NewPasswordsApplyAtOnce()
    {
        using var controller = new HtpasswdAccessController(Realm, _path);
        Assert.True(await controller.VerifyAsync("alice", "wonderland", default));

        await File.WriteAllTextAsync(_path, $"{Hashes.Line("alice", "looking-glass")}\n{Hashes.Line("carol", "c")}\n");

        Assert.False(await controller.VerifyAsync("alice", "wonderland", default));
        Assert.True(await controller.VerifyAsync("alice", "looking-glass", default));
        Assert.True(await controller.VerifyAsync("carol", "c", default));
        Assert.False(await controller.VerifyAsync("bob", "builder", default));
    }

    [Fact]
    public async Task Authorize_FileReplacedByMalformedOne_LastGoodVersionStays()
    {
        using var controller = new HtpasswdAccessController(Realm, _path);

        await File.WriteAllTextAsync(_path, "alice wonderland\n");

        Assert.True(await controller.VerifyAsync("alice", "wonderland", default));
        Assert.True(await controller.VerifyAsync("bob", "builder", default));
    }

    [Fact]
    public async Task Authorize_FileSwappedThroughSymlink_IsNoticed()
    {
        // Kubernetes mounts secrets as a symlink to a directory that is swapped on update.
        var first = Directory.CreateDirectory(_directory.Combine("v1")).FullName;
        var second = Directory.CreateDirectory(_directory.Combine("v2")).FullName;
        await File.WriteAllTextAsync(Path.Combine(first, "htpasswd"), Hashes.Line("alice", "one") + "\n");
        await File.WriteAllTextAsync(Path.Combine(second, "htpasswd"), Hashes.Line("alice", "two") + "\n");
        var data = _directory.Combine("..data");
        Directory.CreateSymbolicLink(data, first);
        var link = _directory.Combine("secret-htpasswd");
        File.CreateSymbolicLink(link, Path.Combine("..data", "htpasswd"));
        using var controller = new HtpasswdAccessController(Realm, link);
        Assert.True(await controller.VerifyAsync("alice", "one", default));

        // Same size, possibly the same modification time: only the resolved path tells the versions apart.
        Directory.Delete(data);
        Directory.CreateSymbolicLink(data, second);

        Assert.True(await controller.VerifyAsync("alice", "two", default));
    }

    [Fact]
    public void Construct_MalformedFile_ThrowsNamingTheLine()
    {
        File.WriteAllText(_path, $"{Hashes.Line("alice", "a")}\nbob:secret\n");

        var ex = Assert.Throws<HtpasswdFormatException>(() => new HtpasswdAccessController(Realm, _path));

        Assert.Equal(2, ex.Line);
    }

    [Fact]
    public async Task Verify_RepeatedLogin_IsServedFromTheCacheNotBcrypt()
    {
        var costly = _directory.Combine("costly");
        await File.WriteAllTextAsync(costly, $"alice:{BCrypt.Net.BCrypt.HashPassword("pw", 12)}\n");
        using var controller = new HtpasswdAccessController(Realm, costly);
        Assert.True(await controller.VerifyAsync("alice", "pw", default));

        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < 20; i++)
        {
            Assert.True(await controller.VerifyAsync("alice", "pw", default));
        }

        // Twenty bcrypt checks at cost 12 would take seconds.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"cached checks took {stopwatch.Elapsed}");
        Assert.False(await controller.VerifyAsync("alice", "PW", default));
    }

    [Fact]
    public async Task Authorize_RepeatedFailures_AreThrottledThenRecover()
    {
        var time = new ManualTimeProvider();
        var limiter = new FailedLoginLimiter(new FailedLoginLimits { Threshold = 10, Limit = 3, Window = TimeSpan.FromMinutes(1) }, time);
        using var controller = new HtpasswdAccessController(Realm, _path, limiter: limiter, time: time);
        var wrong = Requests.Basic("alice", "guess");
        var right = Requests.Basic("alice", "wonderland");

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(AccessOutcome.Unauthenticated, (await controller.AuthorizeAsync(Requests.Context(wrong), [], default)).Outcome);
        }

        var throttled = await controller.AuthorizeAsync(Requests.Context(right), [], default);
        var otherClient = await controller.AuthorizeAsync(Requests.Context(right, "203.0.113.50"), [], default);
        time.Advance(TimeSpan.FromSeconds(21));
        var later = await controller.AuthorizeAsync(Requests.Context(right), [], default);

        Assert.Equal(AccessOutcome.Throttled, throttled.Outcome);
        Assert.Equal(TimeSpan.FromSeconds(20), throttled.RetryAfter);
        Assert.Equal(AccessOutcome.Granted, otherClient.Outcome);
        Assert.Equal(AccessOutcome.Granted, later.Outcome);
    }

    [Fact]
    public async Task Authorize_SuccessfulLogins_DoNotCountAgainstTheClient()
    {
        var limiter = new FailedLoginLimiter(new FailedLoginLimits { Threshold = 1, Limit = 2, Window = TimeSpan.FromHours(1) });
        using var controller = new HtpasswdAccessController(Realm, _path, limiter: limiter);

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(AccessOutcome.Granted, (await controller.AuthorizeAsync(Requests.Context(Requests.Basic("bob", "builder")), [], default)).Outcome);
        }
    }
}
