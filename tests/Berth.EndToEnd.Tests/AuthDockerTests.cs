using System.Net;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// A private Docker engine (see <see cref="DockerEngine"/>; no bridge, containers are not needed here) and a secure
/// Berth (TLS + htpasswd) on 127.0.0.1. Tests target loopback only; Docker treats every 127.0.0.0/8 registry as
/// insecure, so it speaks TLS to Berth but does not verify the chain there (the CA is still installed in
/// <c>/etc/docker/certs.d/HOST:PORT/ca.crt</c>, as the documentation tells users to). Certificate verification by real
/// clients is covered by skopeo, podman and the .NET SDK tests.
/// </summary>
public sealed class DockerAndSecureBerthFixture : IAsyncLifetime
{
    private DockerEngine? _engine;
    private string? _certsDirectory;

    public SecureBerth Registry { get; private set; } = null!;

    public string Socket => _engine!.Socket;

    /// <summary>The client's own config directory (credentials from docker login go there).</summary>
    public string ClientConfig => _engine!.ClientConfig;

    public string DaemonLog => _engine?.DaemonLog ?? "";

    public async Task InitializeAsync()
    {
        Registry = await SecureBerth.StartAsync();
        _certsDirectory = Path.Combine("/etc/docker/certs.d", Registry.Host);
        Directory.CreateDirectory(_certsDirectory);
        File.Copy(Registry.CaPath, Path.Combine(_certsDirectory, "ca.crt"), overwrite: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        _engine = await DockerEngine.StartAsync(privateBridge: false, timeout.Token);
    }

    public async Task DisposeAsync()
    {
        if (_engine is not null)
        {
            await _engine.DisposeAsync();
        }

        if (_certsDirectory is not null && Directory.Exists(_certsDirectory))
        {
            Directory.Delete(_certsDirectory, recursive: true);
        }

        await Registry.DisposeAsync();
    }
}

/// <summary>The Docker engine against Berth with TLS and htpasswd: login, push and pull; a wrong password is refused.</summary>
public sealed class AuthDockerTests(DockerAndSecureBerthFixture fixture, ITestOutputHelper log) : IClassFixture<DockerAndSecureBerthFixture>, IDisposable
{
    private readonly SecureBerth _registry = fixture.Registry;
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("docker-client");

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private CommandOptions Options => new()
    {
        Timeout = TimeSpan.FromMinutes(3),
        Environment = new Dictionary<string, string?> { ["DOCKER_CONFIG"] = fixture.ClientConfig, ["DOCKER_HOST"] = $"unix://{fixture.Socket}" },
    };

    private Task<CommandResult> DockerAsync(params string[] arguments) => ExternalCommand.RunAsync("docker", arguments, log, Options);

    private async Task<CommandResult> DockerCheckedAsync(params string[] arguments)
    {
        var result = await DockerAsync(arguments);
        return result.ExitCode == 0
            ? result
            : throw new ExternalCommandException($"{result.CommandLine} failed:\n{result.DescribeOutput()}\n{_registry.Log}\n--- dockerd ---\n{fixture.DaemonLog}");
    }

    private async Task<CommandResult> LoginAsync(string user, string password)
    {
        var passwordFile = _temp.Combine($"password-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(passwordFile, password);
        // ExternalCommand closes stdin, so the password goes through a shell redirect.
        return await ExternalCommand.RunAsync("sh", ["-c", $"docker login --username '{user}' --password-stdin '{_registry.Host}' < '{passwordFile}'"], log, Options);
    }

    [Fact]
    public async Task DockerLoginPushPull_OverTls_WrongPasswordRefused()
    {
        // An image for the engine to load: an OCI layout turned into a docker-archive by skopeo.
        var layout = new OciLayoutWriter(_temp.CreateSubdirectory("layout"));
        var image = layout.AddImage(new OciPlatform("linux", "amd64"), 64 * 1024, 256 * 1024);
        layout.Tag("v1", image.Manifest);
        var archive = _temp.Combine("image.tar");
        var local = $"berth-e2e/local-{Guid.NewGuid().ToString("N")[..8]}:v1";
        await ExternalCommand.RunCheckedAsync("skopeo", ["--insecure-policy", "copy", layout.Reference("v1"), $"docker-archive:{archive}:{local}"], log);
        await DockerCheckedAsync("load", "--input", archive);
        var remote = $"{_registry.Host}/team/docker-{Guid.NewGuid().ToString("N")[..8]}:v1";
        await DockerCheckedAsync("tag", local, remote);

        var wrong = await LoginAsync(SecureBerth.Developer, "not-the-password");
        var anonymousPush = await DockerAsync("push", remote);
        var login = await LoginAsync(SecureBerth.Developer, SecureBerth.DeveloperPassword);
        await DockerCheckedAsync("push", remote);
        await DockerCheckedAsync("rmi", remote, local);
        await DockerCheckedAsync("pull", remote);
        var inspected = (await DockerCheckedAsync("image", "inspect", "--format", "{{.Id}}", remote)).StandardOutput.Trim();
        await DockerCheckedAsync("logout", _registry.Host);
        var afterLogout = await DockerAsync("pull", remote);

        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("401", wrong.StandardError, StringComparison.Ordinal);
        Assert.NotEqual(0, anonymousPush.ExitCode);
        Assert.True(login.ExitCode == 0, login.DescribeOutput());
        Assert.Equal(image.Config.Digest, inspected);
        Assert.NotEqual(0, afterLogout.ExitCode);

        using var http = _registry.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{SecureBerth.Admin}:{SecureBerth.AdminPassword}")));
        var reference = remote[(_registry.Host.Length + 1)..].Split(':');
        using var manifest = await http.GetAsync(new Uri($"v2/{reference[0]}/manifests/{reference[1]}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
    }
}
