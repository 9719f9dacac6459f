using System.Net;
using System.Text;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// skopeo and podman against Berth over real TLS with htpasswd users (made by <c>berth htpasswd</c>) and access rules:
/// credentials work, a wrong password is refused, anonymous clients may pull <c>public/**</c> and nothing else.
/// </summary>
public sealed class AuthClientsTests(SecureBerthFixture fixture, ITestOutputHelper log) : IClassFixture<SecureBerthFixture>, IDisposable
{
    private static readonly OciPlatform LinuxAmd64 = new("linux", "amd64");
    private static readonly CommandOptions SkopeoOptions = new() { Timeout = TimeSpan.FromMinutes(3) };

    private readonly SecureBerth _registry = fixture.Registry;
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("auth-clients");

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private Task<CommandResult> SkopeoAsync(params string[] arguments) =>
        ExternalCommand.RunAsync("skopeo", ["--insecure-policy", .. arguments], log, SkopeoOptions);

    private async Task<CommandResult> SkopeoCheckedAsync(params string[] arguments)
    {
        var result = await SkopeoAsync(arguments);
        return result.ExitCode == 0 ? result : throw new ExternalCommandException($"{result.CommandLine} failed:\n{result.DescribeOutput()}\n{_registry.Log}");
    }

    private (OciLayoutWriter Layout, OciImage Image) NewImage()
    {
        var layout = new OciLayoutWriter(_temp.CreateSubdirectory($"layout-{Guid.NewGuid():N}"));
        var image = layout.AddImage(LinuxAmd64, 48 * 1024, 300 * 1024);
        layout.Tag("v1", image.Manifest);
        return (layout, image);
    }

    private static string Unique(string prefix) => $"{prefix}/app-{Guid.NewGuid().ToString("N")[..10]}";

    private string Remote(string repository, string tag = "v1") => $"docker://{_registry.Host}/{repository}:{tag}";

    [Fact]
    public async Task Skopeo_CredsOverTls_PushesAndPullsBitExact_WrongPasswordAndNoCredentialsAreRefused()
    {
        var (layout, image) = NewImage();
        var repository = Unique("team");

        await SkopeoCheckedAsync("copy", "--dest-cert-dir", _registry.CertDirectory, "--dest-creds", $"{SecureBerth.Developer}:{SecureBerth.DeveloperPassword}",
            layout.Reference("v1"), Remote(repository));
        var pulled = _temp.Combine("pulled");
        await SkopeoCheckedAsync("copy", "--src-cert-dir", _registry.CertDirectory, "--src-creds", $"{SecureBerth.Admin}:{SecureBerth.AdminPassword}",
            Remote(repository), $"oci:{pulled}:v1");
        var wrongPassword = await SkopeoAsync("copy", "--dest-cert-dir", _registry.CertDirectory, "--dest-creds", $"{SecureBerth.Developer}:not-the-password",
            layout.Reference("v1"), Remote(repository, "v2"));
        var anonymousPull = await SkopeoAsync("inspect", "--cert-dir", _registry.CertDirectory, "--no-creds", Remote(repository));
        var untrusted = await SkopeoAsync("inspect", "--creds", $"{SecureBerth.Admin}:{SecureBerth.AdminPassword}", Remote(repository));

        ImageAssert.LayoutsHaveSameBlobs(layout.Directory, pulled);
        using var http = _registry.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{SecureBerth.Admin}:{SecureBerth.AdminPassword}")));
        using var manifest = await http.GetAsync(new Uri($"v2/{repository}/manifests/v1", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
        Assert.Equal(layout.ReadBlob(image.Manifest.Digest), await manifest.Content.ReadAsByteArrayAsync());

        Assert.NotEqual(0, wrongPassword.ExitCode);
        Assert.Contains("unauthorized", wrongPassword.StandardError, StringComparison.OrdinalIgnoreCase);
        Assert.NotEqual(0, anonymousPull.ExitCode);
        Assert.NotEqual(0, untrusted.ExitCode);
        Assert.Contains("certificate", untrusted.StandardError, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Skopeo_AnonymousPullOfPublic_Works_AnonymousPushIsRefused()
    {
        var (layout, _) = NewImage();
        var repository = Unique("public");
        await SkopeoCheckedAsync("copy", "--dest-cert-dir", _registry.CertDirectory, "--dest-creds", $"{SecureBerth.Admin}:{SecureBerth.AdminPassword}",
            layout.Reference("v1"), Remote(repository));

        var pulled = _temp.Combine("anonymous");
        await SkopeoCheckedAsync("copy", "--src-cert-dir", _registry.CertDirectory, "--src-no-creds", Remote(repository), $"oci:{pulled}:v1");
        var push = await SkopeoAsync("copy", "--dest-cert-dir", _registry.CertDirectory, "--dest-no-creds", layout.Reference("v1"), Remote(repository, "v2"));

        ImageAssert.LayoutsHaveSameBlobs(layout.Directory, pulled);
        Assert.NotEqual(0, push.ExitCode);
    }

    [Fact]
    public async Task Podman_LoginPushPull_WrongPasswordIsRefused()
    {
        using var storage = new ContainerStorage("podman-auth");
        var podman = new PodmanOverTls(storage, _registry, log);
        var authFile = storage.Scratch("auth.json");
        var (layout, image) = NewImage();
        var repository = Unique("team");

        var refused = await podman.LoginAsync(authFile, SecureBerth.Developer, "wrong-password");
        await podman.LoginAsync(authFile, SecureBerth.Developer, SecureBerth.DeveloperPassword, check: true);
        await podman.RunAsync("pull", "--quiet", "--signature-policy", storage.PolicyPath, layout.Reference("v1"));
        var local = (await podman.RunAsync("images", "--quiet", "--no-trunc")).StandardOutput.Trim().Split('\n')[0];
        await podman.RunAsync("push", "--signature-policy", storage.PolicyPath, "--cert-dir", _registry.CertDirectory, "--authfile", authFile,
            local, $"docker://{_registry.Host}/{repository}:v1");
        await podman.RunAsync("rmi", "--all", "--force");
        var pulledId = (await podman.RunAsync("pull", "--quiet", "--signature-policy", storage.PolicyPath, "--cert-dir", _registry.CertDirectory,
            "--authfile", authFile, $"{_registry.Host}/{repository}:v1")).StandardOutput.Trim();
        await podman.RunAsync("logout", "--authfile", authFile, _registry.Host);
        var afterLogout = await podman.TryRunAsync("pull", "--quiet", "--signature-policy", storage.PolicyPath, "--cert-dir", _registry.CertDirectory,
            "--authfile", authFile, $"{_registry.Host}/{repository}:v1");

        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("invalid username/password", refused.StandardError, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(Digests.Hex(image.Config.Digest), pulledId);
        Assert.NotEqual(0, afterLogout.ExitCode);
    }

    [Fact]
    public async Task Podman_AnonymousPullOfPublic_WithoutLogin()
    {
        var (layout, image) = NewImage();
        var repository = Unique("public");
        await SkopeoCheckedAsync("copy", "--dest-cert-dir", _registry.CertDirectory, "--dest-creds", $"{SecureBerth.Admin}:{SecureBerth.AdminPassword}",
            layout.Reference("v1"), Remote(repository));
        using var storage = new ContainerStorage("podman-anon");
        var podman = new PodmanOverTls(storage, _registry, log);
        var noCredentials = storage.Scratch("none.json");
        await File.WriteAllTextAsync(noCredentials, "{}");

        // podman has no credentials: it answers the Basic challenge with empty ones, which Berth treats as anonymous.
        var pulledId = (await podman.RunAsync("pull", "--quiet", "--signature-policy", storage.PolicyPath, "--cert-dir", _registry.CertDirectory,
            "--authfile", noCredentials, $"{_registry.Host}/{repository}:v1")).StandardOutput.Trim();

        Assert.Equal(Digests.Hex(image.Config.Digest), pulledId);
    }
}

/// <summary>podman with private storage talking to a <see cref="SecureBerth"/>.</summary>
internal sealed class PodmanOverTls(ContainerStorage storage, SecureBerth registry, ITestOutputHelper log)
{
    private IEnumerable<string> Global =>
    [
        "--root", storage.Root, "--runroot", storage.RunRoot, "--tmpdir", storage.TmpDir, "--storage-driver", "vfs",
        "--cgroup-manager", "cgroupfs", "--events-backend", "file",
    ];

    public Task<CommandResult> TryRunAsync(params string[] arguments) =>
        ExternalCommand.RunAsync("podman", [.. Global, .. arguments], log, storage.CommandOptions);

    public async Task<CommandResult> RunAsync(params string[] arguments)
    {
        var result = await TryRunAsync(arguments);
        return result.ExitCode == 0 ? result : throw new ExternalCommandException($"{result.CommandLine} failed:\n{result.DescribeOutput()}\n{registry.Log}");
    }

    /// <summary><c>podman login</c> with the password on stdin.</summary>
    public async Task<CommandResult> LoginAsync(string authFile, string user, string password, bool check = false)
    {
        var options = storage.CommandOptions with { };
        var passwordFile = storage.Scratch($"password-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(passwordFile, password);
        try
        {
            // ExternalCommand closes stdin, so the password goes through a shell redirect.
            var command = string.Join(' ', new[] { "podman" }.Concat(Global).Concat(["login", "--cert-dir", registry.CertDirectory, "--authfile", authFile,
                "--username", user, "--password-stdin", registry.Host]).Select(Quote)) + " < " + Quote(passwordFile);
            var result = await ExternalCommand.RunAsync("sh", ["-c", command], log, options);
            return !check || result.ExitCode == 0 ? result : throw new ExternalCommandException($"podman login failed:\n{result.DescribeOutput()}\n{registry.Log}");
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
