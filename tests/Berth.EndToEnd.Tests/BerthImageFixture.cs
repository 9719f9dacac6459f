using System.Diagnostics;
using System.Globalization;
using System.Text;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// The repository's Dockerfile built by a real Docker engine into an image, once for every test of the
/// <see cref="BerthImageCollection"/>: the base images are made offline (<see cref="OfflineBaseImages"/>) and pulled
/// by the build from a Berth on 127.0.0.1; the built image is pushed to that Berth, removed and pulled back, and
/// tagged <c>berth:latest</c>, the name the user guide builds it under. The engine has a private bridge, so
/// containers publish ports on 127.0.0.1 as on an ordinary Docker host.
/// </summary>
public sealed class BerthImageFixture : IAsyncLifetime
{
    /// <summary>The name the user guide gives the image (<c>docker build -t berth .</c>).</summary>
    public const string LocalImage = "berth:latest";

    /// <summary>The image the user guide pushes around; the test tags the runtime base image with it.</summary>
    public const string SampleImage = "debian:bookworm";

    private static readonly TimeSpan PrepareTimeout = TimeSpan.FromMinutes(20);
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(12);

    private readonly StringBuilder _preparation = new();
    private readonly Stopwatch _stopwatch = new();
    private TemporaryDirectory? _registryRoot;
    private TemporaryDirectory? _work;

    public DockerEngine Engine { get; private set; } = null!;

    /// <summary>The Berth the base images and the built image were pushed to.</summary>
    public RegistryProcess Registry { get; private set; } = null!;

    public OfflineBaseImages BaseImages { get; private set; } = null!;

    /// <summary>The built image as pushed to <see cref="Registry"/>.</summary>
    public string PushedImage { get; private set; } = "";

    /// <summary>What preparing the fixture did and how long each step took, for the test output.</summary>
    public string Preparation => _preparation.ToString();

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(PrepareTimeout);
        _stopwatch.Start();
        Engine = await DockerEngine.StartAsync(privateBridge: true, timeout.Token);
        _registryRoot = TemporaryDirectory.Create("image-registry");
        Registry = await RegistryProcess.StartAsync(RegistryKind.Berth, _registryRoot.Path);
        _work = TemporaryDirectory.Create("image-build");
        Note("engine and Berth started");

        BaseImages = await OfflineBaseImages.PublishAsync(Engine, Registry, _work, Note, timeout.Token);

        PushedImage = $"{Registry.Host}/berth/berth:e2e";
        var build = await Engine.RunCheckedAsync(null, BuildTimeout,
            "build", "--network", "host",
            "--build-arg", $"SDK_IMAGE={BaseImages.SdkImage}",
            "--build-arg", $"RUNTIME_IMAGE={BaseImages.RuntimeImage}",
            "--tag", PushedImage, BuildOutput.RepositoryRoot);
        Note($"docker build (classic builder, base images pulled from Berth) took {build.Elapsed.TotalSeconds:F0} s");

        var pushTimeout = TimeSpan.FromMinutes(5);
        await Engine.RunCheckedAsync(null, pushTimeout, "push", PushedImage);
        await Engine.RunCheckedAsync(null, pushTimeout, "image", "remove", PushedImage);
        await Engine.RunCheckedAsync(null, pushTimeout, "pull", PushedImage);
        await Engine.RunCheckedAsync(null, pushTimeout, "tag", PushedImage, LocalImage);
        Note("pushed the built image to Berth, removed it and pulled it back");
    }

    /// <summary>Makes sure <see cref="SampleImage"/> exists (a user guide section may have removed it).</summary>
    public Task EnsureSampleImageAsync() =>
        Engine.RunCheckedAsync(null, TimeSpan.FromMinutes(1), "tag", BaseImages.RuntimeImage, SampleImage);

    public async Task DisposeAsync()
    {
        if (Engine is not null)
        {
            await Engine.DisposeAsync();
        }

        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        _registryRoot?.Dispose();
        _work?.Dispose();
    }

    private void Note(string step) =>
        _preparation.AppendLine(CultureInfo.InvariantCulture, $"[{_stopwatch.Elapsed.TotalSeconds,6:F1} s] {step}");
}

/// <summary>The tests that use the image built from the Dockerfile; they share one engine and run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class BerthImageCollection : ICollectionFixture<BerthImageFixture>
{
    public const string Name = "Berth container image";
}
