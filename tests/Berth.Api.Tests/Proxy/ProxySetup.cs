using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests.Proxy;

/// <summary>
/// A real upstream registry (a Berth on 127.0.0.1), a fault injector in front of it, and a Berth in proxy mode whose
/// <c>proxy.remoteurl</c> is the injector: the three processes' worth of HTTP every pull-through test needs.
/// </summary>
public sealed class ProxySetup : IAsyncDisposable
{
    private ProxySetup(BerthServer upstream, UpstreamFaultInjector injector, BerthServer mirror, string mirrorStorage)
    {
        Upstream = upstream;
        Injector = injector;
        Mirror = mirror;
        MirrorStorage = mirrorStorage;
    }

    /// <summary>The mirror's storage root; it outlives restarts of the mirror.</summary>
    public string MirrorStorage { get; }

    /// <summary>The upstream registry; push test content here.</summary>
    public BerthServer Upstream { get; }

    /// <summary>Between the mirror and the upstream.</summary>
    public UpstreamFaultInjector Injector { get; }

    /// <summary>The Berth under test, in proxy mode.</summary>
    public BerthServer Mirror { get; private set; }

    /// <summary>Starts the three. <paramref name="proxyYaml"/> adds keys under <c>proxy:</c> (indented two spaces).</summary>
    public static async Task<ProxySetup> StartAsync(string proxyYaml = "", string upstreamYaml = "", string mirrorYaml = "",
        IReadOnlyDictionary<string, string>? mirrorEnvironment = null)
    {
        var upstream = await BerthServer.StartAsync(new BerthServerOptions { ExtraYaml = upstreamYaml });
        var injector = await UpstreamFaultInjector.StartAsync(upstream.BaseAddress);
        var storage = Path.Combine(Path.GetTempPath(), "berth-proxy-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(storage);
        var mirror = await BerthServer.StartAsync(new BerthServerOptions
        {
            StorageRoot = storage,
            ExtraYaml = MirrorYaml(injector.BaseAddress, proxyYaml, mirrorYaml),
            Environment = mirrorEnvironment ?? new Dictionary<string, string>(StringComparer.Ordinal),
        });
        return new ProxySetup(upstream, injector, mirror, storage);
    }

    /// <summary>Stops the mirror and starts a new one on the same storage (a restart).</summary>
    public async Task RestartMirrorAsync(string proxyYaml = "", string mirrorYaml = "")
    {
        await Mirror.DisposeAsync();
        Mirror = await BerthServer.StartAsync(new BerthServerOptions
        {
            StorageRoot = MirrorStorage,
            ExtraYaml = MirrorYaml(Injector.BaseAddress, proxyYaml, mirrorYaml),
        });
    }

    public static string MirrorYaml(Uri upstream, string proxyYaml, string mirrorYaml) =>
        $"proxy:\n  remoteurl: {upstream}\n{proxyYaml}\n{mirrorYaml}";

    public async ValueTask DisposeAsync()
    {
        await Mirror.DisposeAsync();
        await Injector.DisposeAsync();
        await Upstream.DisposeAsync();
        try
        {
            Directory.Delete(MirrorStorage, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
