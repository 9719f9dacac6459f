using System.Reflection;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>Where the repository and the server build that these tests run live.</summary>
public static class BuildOutput
{
    /// <summary>Release or Debug: the configuration this test assembly was built in, so the tests run the server built alongside it.</summary>
    public static string Configuration =>
        typeof(BuildOutput).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration
        ?? throw new InvalidOperationException("The test assembly has no AssemblyConfigurationAttribute.");

    /// <summary>The target framework folder name of this test build (net10.0), the same as the server's.</summary>
    public static string TargetFramework => new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;

    /// <summary>The repository root: the first directory above the test binaries that holds Berth.slnx.</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Berth.slnx")))
                {
                    return directory.FullName;
                }
            }

            throw new InvalidOperationException($"No Berth.slnx above {AppContext.BaseDirectory}.");
        }
    }

    /// <summary>
    /// src/Berth.Server/bin/CONFIGURATION/TFM/berth.dll, or the berth.dll that BERTH_E2E_SERVER_DLL names (to test
    /// another build of the server, e.g. one built elsewhere); throws with the build command when it is missing.
    /// </summary>
    public static string ServerAssembly
    {
        get
        {
            var overridePath = Environment.GetEnvironmentVariable("BERTH_E2E_SERVER_DLL");
            var path = string.IsNullOrEmpty(overridePath)
                ? Path.Combine(RepositoryRoot, "src", "Berth.Server", "bin", Configuration, TargetFramework, "berth.dll")
                : Path.GetFullPath(overridePath);
            return File.Exists(path)
                ? path
                : throw new FileNotFoundException(
                    $"The Berth server is not built: {path} is missing. Run `dotnet build Berth.slnx -c {Configuration}`.", path);
        }
    }

    /// <summary>
    /// berth.dll in a private copy of the server's output directory, made once per test run. A build that rewrites
    /// bin/ in place while a server runs from it crashes that server (its assemblies are memory-mapped), and a
    /// developer rebuilding during a run must not fail the run; every server of a run also runs the same bits.
    /// </summary>
    public static string ServerAssemblySnapshot => LazyServerSnapshot.Value;

    private static readonly Lazy<string> LazyServerSnapshot = new(CopyServerOutput, LazyThreadSafetyMode.ExecutionAndPublication);

    private static string CopyServerOutput()
    {
        var assembly = ServerAssembly;
        var source = Path.GetDirectoryName(assembly)!;
        var snapshot = Path.Combine(Path.GetTempPath(), $"berth-e2e-server-{Guid.NewGuid().ToString("N")[..12]}");
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(snapshot, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(snapshot, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        };
        return Path.Combine(snapshot, Path.GetFileName(assembly));
    }

    /// <summary>The dotnet host that runs this test (the SDK exports DOTNET_HOST_PATH to its children), else dotnet on PATH.</summary>
    public static string DotnetHost
    {
        get
        {
            var hostPath = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            return !string.IsNullOrEmpty(hostPath) && File.Exists(hostPath) ? hostPath : ExternalCommand.ResolveExecutable("dotnet");
        }
    }
}
