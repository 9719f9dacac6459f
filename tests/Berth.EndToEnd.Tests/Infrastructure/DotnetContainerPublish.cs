namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>
/// The .NET SDK's own container publishing (<c>dotnet publish /t:PublishContainer</c>, no Docker daemon) of a small
/// console app written into <paramref name="workspace"/>: the app image goes to <c>REGISTRY/REPOSITORY:1.0</c> on top of
/// the base image <c>REGISTRY/BASE:1</c>, which the test pushed first. Each test keeps its own base image, SDK settings
/// and checks; this holds what every publish does alike.
/// </summary>
public sealed class DotnetContainerPublish(TemporaryDirectory workspace, ITestOutputHelper log)
{
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromMinutes(8);

    /// <summary>
    /// Writes <c>app/ASSEMBLY.csproj</c>, an executable for this test build's target framework with
    /// <paramref name="properties"/> added, and a <c>Program.cs</c> that prints <paramref name="greeting"/>; returns the
    /// project's path.
    /// </summary>
    /// <param name="assemblyName">The app's assembly name: <c>app/ASSEMBLY.dll</c> and the apphost <c>app/ASSEMBLY</c> in the image.</param>
    /// <param name="greeting">Plain text, without quotes or backslashes.</param>
    /// <param name="properties">More MSBuild properties of the project, in this order.</param>
    public string WriteConsoleProject(string assemblyName, string greeting, params (string Name, string Value)[] properties)
    {
        // Written by hand rather than with `dotnet new`, so nothing depends on template packages.
        var directory = workspace.CreateSubdirectory("app");
        var project = Path.Combine(directory, $"{assemblyName}.csproj");
        var moreProperties = string.Concat(properties.Select(property => $"\n    <{property.Name}>{property.Value}</{property.Name}>"));
        File.WriteAllText(project, $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>{BuildOutput.TargetFramework}</TargetFramework>
                <AssemblyName>{assemblyName}</AssemblyName>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>{moreProperties}
              </PropertyGroup>
            </Project>

            """);
        File.WriteAllText(Path.Combine(directory, "Program.cs"), $"Console.WriteLine(\"{greeting}\");\n");
        return project;
    }

    /// <summary>
    /// Publishes <paramref name="project"/> to <paramref name="registry"/>, which serves plain HTTP and so is named to the
    /// SDK as an insecure registry; throws, with the registry's log, unless dotnet exits 0.
    /// </summary>
    /// <param name="registry">Holds <paramref name="baseRepository"/> and receives <paramref name="repository"/>.</param>
    /// <param name="project">From <see cref="WriteConsoleProject"/>.</param>
    /// <param name="repository">Where the app image goes, tagged 1.0.</param>
    /// <param name="baseRepository">Holds the base image, tagged 1.</param>
    /// <param name="moreArguments">Arguments after the common ones, such as the runtime identifier or the verbosity.</param>
    /// <param name="environment">More variables for the SDK; a null value removes one.</param>
    public Task<CommandResult> PublishCheckedAsync(RegistryProcess registry, string project, string repository, string baseRepository,
        IEnumerable<string> moreArguments, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var withInsecureRegistry = new Dictionary<string, string?>(environment ?? new Dictionary<string, string?>())
        {
            ["DOTNET_CONTAINER_INSECURE_REGISTRIES"] = registry.Host,
        };
        return ExternalCommand.WithRegistryLogAsync(registry, async () =>
            (await PublishAsync(registry.Host, project, repository, baseRepository, moreArguments, withInsecureRegistry)).EnsureSuccess());
    }

    /// <summary>
    /// Publishes <paramref name="project"/> to the registry at <paramref name="registryHost"/> and returns what dotnet did,
    /// whatever its exit code.
    /// </summary>
    /// <param name="registryHost">host:port of the registry that holds <paramref name="baseRepository"/> and receives <paramref name="repository"/>.</param>
    /// <param name="project">From <see cref="WriteConsoleProject"/>.</param>
    /// <param name="repository">Where the app image goes, tagged 1.0.</param>
    /// <param name="baseRepository">Holds the base image, tagged 1.</param>
    /// <param name="moreArguments">Arguments after the common ones, such as the runtime identifier or the verbosity.</param>
    /// <param name="environment">More variables for the SDK (credentials, a CA file, registry settings); a null value removes one.</param>
    public Task<CommandResult> PublishAsync(string registryHost, string project, string repository, string baseRepository,
        IEnumerable<string> moreArguments, IReadOnlyDictionary<string, string?> environment) =>
        ExternalCommand.RunAsync(
            BuildOutput.DotnetHost,
            [
                "publish", project, "-c", "Release", "-t:PublishContainer", "-nodeReuse:false", "-p:UseSharedCompilation=false",
                $"-p:ContainerRegistry={registryHost}", $"-p:ContainerRepository={repository}", "-p:ContainerImageTag=1.0",
                $"-p:ContainerBaseImage={registryHost}/{baseRepository}:1", .. moreArguments,
            ],
            log,
            Options(environment));

    private CommandOptions Options(IReadOnlyDictionary<string, string?> settings)
    {
        var environment = new Dictionary<string, string?>(settings)
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
            ["MSBUILDDISABLENODEREUSE"] = "1",
        };
        // `dotnet test` runs this inside MSBuild-made environment variables (SDK paths, node settings) that would
        // point the inner build at the outer one's MSBuild; the inner `dotnet publish` must start clean.
        foreach (var name in Environment.GetEnvironmentVariables().Keys.Cast<object>().Select(key => (string)key))
        {
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) && !environment.ContainsKey(name))
            {
                environment[name] = null;
            }
        }

        return new CommandOptions { Timeout = PublishTimeout, WorkingDirectory = workspace.Path, Environment = environment };
    }
}
