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
        var dotnet = new DotnetContainerPublish(_temp, log);
        var project = dotnet.WriteConsoleProject(AssemblyName, "Hello from a registry with a password");

        var publish = await dotnet.PublishAsync(_registry.Host, project, appRepository, baseRepository,
            ["-p:ContainerRuntimeIdentifier=linux-x64"], CredentialsAndCa());

        Assert.True(publish.ExitCode == 0, $"{publish.DescribeOutput()}\n{_registry.Log}");
        using var http = _registry.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{SecureBerth.Admin}:{SecureBerth.AdminPassword}")));
        using var manifest = await http.GetAsync(new Uri($"v2/{appRepository}/manifests/1.0", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
        var document = ManifestDocument.Parse(await manifest.Content.ReadAsByteArrayAsync());
        Assert.Equal(baseImage.Layers.Count + 1, document.Layers.Count);
        Assert.Equal(baseImage.Layers[0].Digest, document.Layers[0].Digest);
    }

    /// <summary>The registry credentials and the CA to trust, which the SDK reads from its environment.</summary>
    private Dictionary<string, string?> CredentialsAndCa() => new()
    {
        ["DOTNET_CONTAINER_REGISTRY_UNAME"] = SecureBerth.Developer,
        ["DOTNET_CONTAINER_REGISTRY_PWORD"] = SecureBerth.DeveloperPassword,
        // OpenSSL, and so .NET on Linux, trusts exactly this file.
        ["SSL_CERT_FILE"] = _registry.CaPath,
    };
}
