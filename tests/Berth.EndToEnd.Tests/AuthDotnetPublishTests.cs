using System.Net;
using System.Text;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// The .NET SDK's container publishing against Berth over TLS with htpasswd: credentials from
/// <c>DOTNET_CONTAINER_REGISTRY_UNAME</c>/<c>_PWORD</c>, the private CA from <c>SSL_CERT_FILE</c>, the base image pulled
/// with those credentials and the app image pushed on top.
/// </summary>
public sealed class AuthDotnetPublishTests(SecureBerthFixture fixture, ITestOutputHelper log) : IClassFixture<SecureBerthFixture>, IDisposable
{
    private const string AssemblyName = "E2eAuthApp";
    private readonly SecureBerth _registry = fixture.Registry;
    private readonly TemporaryDirectory _temp = TemporaryDirectory.Create("auth-publish");

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task PublishContainer_WithRegistryCredentialsOverTls_PushesTheAppImage()
    {
        var suffix = Guid.NewGuid().ToString("N")[..10];
        var baseRepository = $"team/base-{suffix}";
        var appRepository = $"team/app-{suffix}";
        var layout = new OciLayoutWriter(_temp.CreateSubdirectory("base"));
        var baseImage = layout.AddImage(new OciPlatform("linux", "amd64"), 32 * 1024);
        layout.Tag("1", baseImage.Manifest);
        await ExternalCommand.RunCheckedAsync("skopeo",
            ["--insecure-policy", "copy", "--dest-cert-dir", _registry.CertDirectory, "--dest-creds", $"{SecureBerth.Developer}:{SecureBerth.DeveloperPassword}",
             layout.Reference("1"), $"docker://{_registry.Host}/{baseRepository}:1"], log);
        var project = WriteConsoleProject();

        var publish = await ExternalCommand.RunAsync(BuildOutput.DotnetHost,
            [
                "publish", project, "-c", "Release", "-t:PublishContainer", "-nodeReuse:false", "-p:UseSharedCompilation=false",
                $"-p:ContainerRegistry={_registry.Host}", $"-p:ContainerRepository={appRepository}", "-p:ContainerImageTag=1.0",
                $"-p:ContainerBaseImage={_registry.Host}/{baseRepository}:1", "-p:ContainerRuntimeIdentifier=linux-x64",
            ],
            log,
            PublishOptions());

        Assert.True(publish.ExitCode == 0, $"{publish.DescribeOutput()}\n{_registry.Log}");
        using var http = _registry.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{SecureBerth.Admin}:{SecureBerth.AdminPassword}")));
        using var manifest = await http.GetAsync(new Uri($"v2/{appRepository}/manifests/1.0", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
        var document = ManifestDocument.Parse(await manifest.Content.ReadAsByteArrayAsync());
        Assert.Equal(baseImage.Layers.Count + 1, document.Layers.Count);
        Assert.Equal(baseImage.Layers[0].Digest, document.Layers[0].Digest);
    }

    private string WriteConsoleProject()
    {
        var directory = _temp.CreateSubdirectory("app");
        var project = Path.Combine(directory, $"{AssemblyName}.csproj");
        File.WriteAllText(project, $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>{BuildOutput.TargetFramework}</TargetFramework>
                <AssemblyName>{AssemblyName}</AssemblyName>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
            </Project>

            """);
        File.WriteAllText(Path.Combine(directory, "Program.cs"), "Console.WriteLine(\"Hello from a registry with a password\");\n");
        return project;
    }

    private CommandOptions PublishOptions()
    {
        var environment = new Dictionary<string, string?>
        {
            ["DOTNET_CONTAINER_REGISTRY_UNAME"] = SecureBerth.Developer,
            ["DOTNET_CONTAINER_REGISTRY_PWORD"] = SecureBerth.DeveloperPassword,
            // OpenSSL, and so .NET on Linux, trusts exactly this file.
            ["SSL_CERT_FILE"] = _registry.CaPath,
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
            ["MSBUILDDISABLENODEREUSE"] = "1",
        };
        // The inner publish must not inherit the outer `dotnet test`'s MSBuild settings.
        foreach (var name in Environment.GetEnvironmentVariables().Keys.Cast<object>().Select(key => (string)key))
        {
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) && !environment.ContainsKey(name))
            {
                environment[name] = null;
            }
        }

        return new CommandOptions
        {
            Timeout = TimeSpan.FromMinutes(8),
            WorkingDirectory = _temp.Path,
            Environment = environment,
        };
    }
}
