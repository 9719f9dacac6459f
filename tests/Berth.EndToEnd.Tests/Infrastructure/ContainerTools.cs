using System.Text.Json.Nodes;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>
/// skopeo, with plain HTTP allowed (the registries listen on 127.0.0.1 without TLS) and no signature policy file
/// needed (<c>--insecure-policy</c>), so the tests depend on no system configuration. When the registry it talks to
/// is given, a failure message carries that registry's log too.
/// </summary>
public sealed class Skopeo(ITestOutputHelper log, RegistryProcess? registry = null)
{
    private static readonly CommandOptions Options = new() { Timeout = TimeSpan.FromMinutes(5) };

    /// <summary><c>skopeo copy</c>; <paramref name="options"/> such as <c>--all</c>, <c>--format v2s2</c>, <c>--debug</c> go before the references.</summary>
    public Task<CommandResult> CopyAsync(string source, string destination, params string[] options) =>
        RunAsync(["copy", "--src-tls-verify=false", "--dest-tls-verify=false", .. options, source, destination]);

    /// <summary><c>skopeo inspect</c> output; pass <c>--raw</c> or <c>--config</c> in <paramref name="options"/>.</summary>
    public async Task<string> InspectAsync(string reference, params string[] options) =>
        (await RunAsync(["inspect", "--tls-verify=false", .. options, reference])).StandardOutput;

    public async Task<IReadOnlyList<string>> ListTagsAsync(string repositoryReference)
    {
        var output = (await RunAsync(["list-tags", "--tls-verify=false", repositoryReference])).StandardOutput;
        var tags = JsonNode.Parse(output)?["Tags"] as JsonArray ?? throw new FormatException($"skopeo list-tags printed no Tags: {output}");
        return [.. tags.Select(tag => (string?)tag ?? "")];
    }

    public Task<CommandResult> DeleteAsync(string reference) => RunAsync(["delete", "--tls-verify=false", reference]);

    /// <summary>Runs skopeo and returns its result even when it failed, for tests that expect a failure.</summary>
    public Task<CommandResult> TryRunAsync(IEnumerable<string> arguments) =>
        ExternalCommand.RunAsync("skopeo", ["--insecure-policy", .. arguments], log, Options);

    private Task<CommandResult> RunAsync(IEnumerable<string> arguments) =>
        ExternalCommand.WithRegistryLogAsync(registry, () => ExternalCommand.RunCheckedAsync("skopeo", ["--insecure-policy", .. arguments], log, Options));
}

/// <summary>
/// Private containers/storage for buildah or podman as root: a vfs store (no overlay mounts, nothing to unmount),
/// its own root, runroot and tmpdir, its own storage.conf and a signature policy that accepts anything,
/// so tests running in parallel share nothing and the machine's /var/lib/containers is never touched.
/// </summary>
public sealed class ContainerStorage : IDisposable
{
    private readonly TemporaryDirectory _directory;

    public ContainerStorage(string purpose)
    {
        _directory = TemporaryDirectory.Create(purpose);
        Root = _directory.CreateSubdirectory("root");
        RunRoot = _directory.CreateSubdirectory("run");
        TmpDir = _directory.CreateSubdirectory("tmp");
        PolicyPath = _directory.Combine("policy.json");
        File.WriteAllText(PolicyPath, """{"default":[{"type":"insecureAcceptAnything"}]}""");
        StorageConfPath = _directory.Combine("storage.conf");
        File.WriteAllText(StorageConfPath, $"""
            [storage]
            driver = "vfs"
            graphroot = "{Root}"
            runroot = "{RunRoot}"

            """);
    }

    public string Root { get; }

    public string RunRoot { get; }

    public string TmpDir { get; }

    public string PolicyPath { get; }

    public string StorageConfPath { get; }

    /// <summary>A scratch path inside this storage's temp directory.</summary>
    public string Scratch(string name) => _directory.Combine(name);

    public CommandOptions CommandOptions => new()
    {
        Timeout = TimeSpan.FromMinutes(5),
        Environment = new Dictionary<string, string?> { ["CONTAINERS_STORAGE_CONF"] = StorageConfPath },
    };

    public void Dispose() => _directory.Dispose();
}

/// <summary>buildah with private storage (see <see cref="ContainerStorage"/>); failures carry the registry's log when given.</summary>
public sealed class Buildah(ContainerStorage storage, ITestOutputHelper log, RegistryProcess? registry = null)
{
    public Task<CommandResult> RunAsync(params string[] arguments) =>
        ExternalCommand.WithRegistryLogAsync(registry, () => ExternalCommand.RunCheckedAsync(
            "buildah", ["--root", storage.Root, "--runroot", storage.RunRoot, "--storage-driver", "vfs", .. arguments], log, storage.CommandOptions));

    /// <summary>Pushes a local image over plain HTTP and returns the manifest digest buildah reports.</summary>
    public async Task<string> PushAsync(string image, string destination, string format)
    {
        var digestFile = storage.Scratch($"push-{Guid.NewGuid():N}.digest");
        await RunAsync("push", "--tls-verify=false", "--signature-policy", storage.PolicyPath, "--format", format, "--digestfile", digestFile, image, destination);
        return (await File.ReadAllTextAsync(digestFile)).Trim();
    }
}

/// <summary>
/// podman as root with private storage (see <see cref="ContainerStorage"/>), no systemd and no journald;
/// failures carry the registry's log when given.
/// </summary>
public sealed class Podman(ContainerStorage storage, ITestOutputHelper log, RegistryProcess? registry = null)
{
    public Task<CommandResult> RunAsync(params string[] arguments) =>
        ExternalCommand.WithRegistryLogAsync(registry, () => ExternalCommand.RunCheckedAsync(
            "podman",
            [
                "--root", storage.Root, "--runroot", storage.RunRoot, "--tmpdir", storage.TmpDir, "--storage-driver", "vfs",
                "--cgroup-manager", "cgroupfs", "--events-backend", "file", .. arguments,
            ],
            log,
            storage.CommandOptions));

    /// <summary>Pulls over plain HTTP and returns the local image ID.</summary>
    public async Task<string> PullAsync(string reference) =>
        (await RunAsync("pull", "--quiet", "--tls-verify=false", "--signature-policy", storage.PolicyPath, reference)).StandardOutput.Trim();

    /// <summary>Pushes over plain HTTP and returns the manifest digest podman reports.</summary>
    public async Task<string> PushAsync(string image, string destination)
    {
        var digestFile = storage.Scratch($"push-{Guid.NewGuid():N}.digest");
        await RunAsync("push", "--tls-verify=false", "--signature-policy", storage.PolicyPath, "--digestfile", digestFile, image, destination);
        return (await File.ReadAllTextAsync(digestFile)).Trim();
    }
}
