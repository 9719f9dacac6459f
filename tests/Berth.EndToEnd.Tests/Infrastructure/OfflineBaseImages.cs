using System.Security.Cryptography;
using System.Text;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>
/// The two base images the Dockerfile takes as build arguments, made without any outside registry: a Debian bookworm
/// root from <c>debootstrap --variant=minbase</c> (with OpenSSL and CA certificates, what a self-contained .NET
/// application needs) as the runtime base, and the same root plus this machine's .NET SDK as the SDK base. Both come
/// into the engine with <c>docker import</c>, are pushed to a Berth and removed locally, so the build pulls them back
/// from Berth as it would from any registry.
/// </summary>
/// <remarks>
/// debootstrap takes about 40 s and the network; its root is kept as a tar under the temp directory
/// (<c>berth-e2e-cache/</c>, keyed by suite and packages) and reused by later runs. Delete it to refresh the packages.
/// The packages come from the Debian archive this machine's apt uses (its sources list), or from
/// <c>BERTH_E2E_DEBIAN_MIRROR</c> when set.
/// </remarks>
public sealed record OfflineBaseImages(string SdkImage, string RuntimeImage)
{
    private const string Suite = "bookworm";
    private const string ExtraPackages = "ca-certificates,libssl3";
    private const string ImagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private const string CaBundle = "etc/ssl/certs/ca-certificates.crt";
    private static readonly TimeSpan DebootstrapTimeout = TimeSpan.FromMinutes(10);
    private static readonly SemaphoreSlim CacheLock = new(1, 1);

    /// <summary>Makes both images, pushes them to <paramref name="registry"/> and removes the local copies.</summary>
    public static async Task<OfflineBaseImages> PublishAsync(
        DockerEngine engine, RegistryProcess registry, TemporaryDirectory work, Action<string> progress, CancellationToken cancellationToken)
    {
        var rootArchive = await GetDebianRootArchiveAsync(progress, cancellationToken);
        var runtime = $"{registry.Host}/base/debian-runtime-deps:{Suite}";
        var sdk = $"{registry.Host}/base/dotnet-sdk:10.0-{Suite}";
        var timeout = TimeSpan.FromMinutes(5);

        await engine.RunCheckedAsync(null, timeout, "import", "--change", $"ENV PATH={ImagePath}", rootArchive, runtime);

        var sdkArchive = await WriteSdkArchiveAsync(rootArchive, work, cancellationToken);
        List<string> import = ["import"];
        foreach (var setting in SdkEnvironment())
        {
            import.AddRange(["--change", $"ENV {setting}"]);
        }

        await engine.RunCheckedAsync(null, timeout, [.. import, sdkArchive, sdk]);
        File.Delete(sdkArchive);
        progress("imported the base images");

        await engine.RunCheckedAsync(null, timeout, "push", runtime);
        await engine.RunCheckedAsync(null, timeout, "push", sdk);
        await engine.RunCheckedAsync(null, timeout, "image", "remove", runtime, sdk);
        progress("pushed the base images to Berth and removed the local copies");
        return new OfflineBaseImages(sdk, runtime);
    }

    /// <summary>What the SDK base sets, as Microsoft's SDK images do, plus what this machine needs to reach NuGet.</summary>
    private static List<string> SdkEnvironment()
    {
        List<string> settings =
        [
            $"PATH=/usr/share/dotnet:{ImagePath}",
            "DOTNET_ROOT=/usr/share/dotnet",
            "DOTNET_CLI_TELEMETRY_OPTOUT=1",
            "DOTNET_NOLOGO=1",
            "DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1",
            // minbase has no ICU; publishing needs no culture data.
            "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1",
            $"SSL_CERT_FILE=/{CaBundle}",
        ];
        // Machines whose network cannot reach certificate revocation servers set this for NuGet; the build needs it too.
        if (Environment.GetEnvironmentVariable("NUGET_CERT_REVOCATION_MODE") is { Length: > 0 } revocationMode)
        {
            settings.Add($"NUGET_CERT_REVOCATION_MODE={revocationMode}");
        }

        return settings;
    }

    /// <summary>
    /// The Debian root plus the .NET installation that runs these tests at /usr/share/dotnet, and this machine's CA
    /// bundle in place of Debian's: the build restores from NuGet through whatever TLS setup this machine trusts.
    /// </summary>
    private static async Task<string> WriteSdkArchiveAsync(string rootArchive, TemporaryDirectory work, CancellationToken cancellationToken)
    {
        var dotnetRoot = DotnetRoot();
        var hostBundle = Environment.GetEnvironmentVariable("SSL_CERT_FILE") is { Length: > 0 } configured && File.Exists(configured)
            ? configured
            : "/" + CaBundle;
        var bundleStaging = work.CreateSubdirectory("sdk-ca");
        Directory.CreateDirectory(Path.Combine(bundleStaging, Path.GetDirectoryName(CaBundle)!));
        File.Copy(hostBundle, Path.Combine(bundleStaging, CaBundle));

        var archive = work.Combine("dotnet-sdk.tar");
        File.Copy(rootArchive, archive);
        var options = new CommandOptions { Timeout = TimeSpan.FromMinutes(5) };
        cancellationToken.ThrowIfCancellationRequested();
        // An image layer may name a path once; drop Debian's bundle before appending this machine's.
        await ExternalCommand.RunCheckedAsync("tar", ["--delete", "--file", archive, "./" + CaBundle], options: options);
        await ExternalCommand.RunCheckedAsync("tar",
            ["--append", "--file", archive, "--owner=0", "--group=0", "--directory", dotnetRoot, "--transform", @"s,^\.,usr/share/dotnet,S", "."],
            options: options);
        await ExternalCommand.RunCheckedAsync("tar", ["--append", "--file", archive, "--owner=0", "--group=0", "--directory", bundleStaging, CaBundle], options: options);
        return archive;
    }

    /// <summary>The directory of the dotnet host that runs these tests (it holds sdk/, shared/ and packs/).</summary>
    private static string DotnetRoot()
    {
        var host = new FileInfo(BuildOutput.DotnetHost);
        var resolved = host.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? host.FullName;
        var root = Path.GetDirectoryName(resolved)!;
        return Directory.Exists(Path.Combine(root, "sdk"))
            ? root
            : throw new InvalidOperationException($"{root} holds no .NET SDK (no sdk/ directory); the Dockerfile test copies the SDK that runs the tests.");
    }

    /// <summary>
    /// The first Debian archive in apt's sources (deb822 <c>URIs:</c> lines or one-line <c>deb</c> entries), skipping
    /// the security archive: the machine reaches it, since its packages were installed from it. Null lets debootstrap
    /// use its default.
    /// </summary>
    private static string? AptDebianArchive()
    {
        var candidates = new List<string>();
        var sourceFiles = Directory.Exists("/etc/apt/sources.list.d") ? Directory.EnumerateFiles("/etc/apt/sources.list.d", "*.sources") : [];
        foreach (var file in sourceFiles.Order(StringComparer.Ordinal))
        {
            candidates.AddRange(File.ReadLines(file)
                .Where(line => line.StartsWith("URIs:", StringComparison.Ordinal))
                .SelectMany(line => line["URIs:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        }

        if (File.Exists("/etc/apt/sources.list"))
        {
            candidates.AddRange(File.ReadLines("/etc/apt/sources.list")
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(fields => fields.Length >= 3 && fields[0] == "deb")
                .Select(fields => fields[1].StartsWith('[') ? fields[2] : fields[1]));
        }

        return candidates.FirstOrDefault(uri => uri.StartsWith("http", StringComparison.Ordinal)
            && uri.TrimEnd('/').EndsWith("/debian", StringComparison.Ordinal));
    }

    /// <summary>The cached debootstrap root as a tar, made on first use.</summary>
    private static async Task<string> GetDebianRootArchiveAsync(Action<string> progress, CancellationToken cancellationToken)
    {
        var mirror = Environment.GetEnvironmentVariable("BERTH_E2E_DEBIAN_MIRROR") is { Length: > 0 } configured
            ? configured
            : AptDebianArchive();
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{Suite} minbase {ExtraPackages}")))[..12];
        var cacheDirectory = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "berth-e2e-cache")).FullName;
        var archive = Path.Combine(cacheDirectory, $"debian-{Suite}-minbase-{key}.tar");

        await CacheLock.WaitAsync(cancellationToken);
        try
        {
            if (File.Exists(archive))
            {
                progress($"reusing the debootstrap root {archive}");
                return archive;
            }

            using var work = TemporaryDirectory.Create("debootstrap");
            var root = work.Combine("root");
            await ExternalCommand.RunCheckedAsync("debootstrap",
                mirror is null
                    ? ["--variant=minbase", $"--include={ExtraPackages}", Suite, root]
                    : ["--variant=minbase", $"--include={ExtraPackages}", Suite, root, mirror],
                options: new CommandOptions { Timeout = DebootstrapTimeout });
            var partial = work.Combine("root.tar");
            await ExternalCommand.RunCheckedAsync("tar", ["--create", "--file", partial, "--numeric-owner", "--directory", root, "."],
                options: new CommandOptions { Timeout = TimeSpan.FromMinutes(5) });
            // Copied beside the final name, then renamed: another run never sees half an archive.
            var staged = archive + $".{Guid.NewGuid():N}.partial";
            File.Copy(partial, staged);
            File.Move(staged, archive, overwrite: true);
            progress($"debootstrap made {archive}");
            return archive;
        }
        finally
        {
            CacheLock.Release();
        }
    }
}
