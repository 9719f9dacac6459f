using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Berth.Server.Configuration;

namespace Berth.Server;

/// <summary>
/// <c>berth healthcheck [CONFIG]</c>: asks the registry that runs with the same configuration whether it is up,
/// exiting 0 (healthy) or 1 (unhealthy), as Docker's <c>HEALTHCHECK</c> and Kubernetes' exec probes expect.
/// </summary>
/// <remarks>
/// <para>A minimal container image has no curl or wget, and a probe must follow the registry's own configuration
/// (file, then <c>REGISTRY_*</c> variables, which a probe run inside the container inherits) to know the port, the
/// scheme and a path prefix; so the probe is the registry's own binary.</para>
/// <para>With <c>http.debug.addr</c> set it asks <c>/debug/health</c> there, which also reports the storage driver's
/// health and stays reachable when the main listener demands client certificates. Otherwise it sends
/// <c>GET /v2/</c> to the main listener on loopback: 200, or 401 when authentication is configured, means the
/// registry answers requests.</para>
/// </remarks>
internal static class HealthCheckCommand
{
    public const string Usage = """
        Usage: berth healthcheck [CONFIG]

        Exits 0 when the registry configured by CONFIG (else REGISTRY_CONFIGURATION_PATH, else the defaults),
        with REGISTRY_* variables applied, answers on this machine; 1 when it does not.

        """;

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(string[] args, IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken)
    {
        if (args is ["-h" or "--help" or "help"])
        {
            await Console.Out.WriteAsync(Usage);
            return 0;
        }

        if (args.Length > 1 || (args.Length == 1 && args[0].StartsWith('-')))
        {
            await Console.Error.WriteAsync(Usage);
            return 2;
        }

        RegistryConfiguration config;
        try
        {
            config = ConfigurationLoader.Load(args.Length == 1 ? args[0] : null, environment).Configuration;
        }
        catch (ConfigurationException ex)
        {
            await Console.Error.WriteLineAsync($"unhealthy: configuration error: {ex.Message}");
            return 1;
        }

        var probe = DescribeProbe(config);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ProbeTimeout);
        using var http = CreateClient(probe);
        try
        {
            using var response = await http.GetAsync(probe.Uri, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            if (probe.HealthyStatuses.Contains(response.StatusCode))
            {
                await Console.Out.WriteLineAsync($"healthy: GET {probe.Uri} answered {status.ToString(CultureInfo.InvariantCulture)}");
                return 0;
            }

            await Console.Out.WriteLineAsync($"unhealthy: GET {probe.Uri} answered {status.ToString(CultureInfo.InvariantCulture)} {response.ReasonPhrase}");
            return 1;
        }
        catch (HttpRequestException ex)
        {
            await Console.Out.WriteLineAsync($"unhealthy: GET {probe.Uri} failed: {ex.Message}");
            return 1;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await Console.Out.WriteLineAsync($"unhealthy: GET {probe.Uri} did not answer within {ProbeTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
            return 1;
        }
    }

    /// <summary>Where to send the probe and which answers mean the registry is up.</summary>
    /// <param name="Uri">The URL; for a Unix socket its host part is a placeholder.</param>
    /// <param name="UnixSocketPath">The socket to connect to instead of the URL's host, when <c>http.net</c> is <c>unix</c>.</param>
    /// <param name="HealthyStatuses">The statuses that mean healthy.</param>
    private sealed record Probe(Uri Uri, string? UnixSocketPath, IReadOnlySet<HttpStatusCode> HealthyStatuses);

    private static Probe DescribeProbe(RegistryConfiguration config)
    {
        if (config.Http.Debug.Addr is { Length: > 0 } debugAddress)
        {
            // The debug listener is plain HTTP and its health endpoint answers 503 when storage fails.
            var (address, port) = RegistryHost.ParseAddress(debugAddress, "http.debug.addr");
            return new Probe(new Uri($"http://{LoopbackFor(address)}:{port.ToString(CultureInfo.InvariantCulture)}/debug/health"), null,
                new HashSet<HttpStatusCode> { HttpStatusCode.OK });
        }

        var scheme = config.Http.Tls.Enabled ? "https" : "http";
        var prefix = string.IsNullOrEmpty(config.Http.Prefix) || config.Http.Prefix.Trim('/').Length == 0
            ? "/"
            : "/" + config.Http.Prefix.Trim('/') + "/";
        // Authentication answers 401 to an anonymous GET /v2/, which still proves the registry serves requests.
        var healthy = new HashSet<HttpStatusCode> { HttpStatusCode.OK, HttpStatusCode.Unauthorized };
        if (string.Equals(config.Http.Net, "unix", StringComparison.OrdinalIgnoreCase))
        {
            return new Probe(new Uri($"{scheme}://localhost{prefix}v2/"), config.Http.Addr, healthy);
        }

        var (listenAddress, listenPort) = RegistryHost.ParseAddress(config.Http.Addr);
        return new Probe(new Uri($"{scheme}://{LoopbackFor(listenAddress)}:{listenPort.ToString(CultureInfo.InvariantCulture)}{prefix}v2/"), null, healthy);
    }

    /// <summary>The address to reach a listener bound to <paramref name="listenAddress"/> from this machine.</summary>
    private static string LoopbackFor(IPAddress? listenAddress) => listenAddress switch
    {
        null => "127.0.0.1",
        { AddressFamily: AddressFamily.InterNetworkV6 } when listenAddress.Equals(IPAddress.IPv6Any) => "[::1]",
        { AddressFamily: AddressFamily.InterNetworkV6 } => $"[{listenAddress}]",
        _ when listenAddress.Equals(IPAddress.Any) => "127.0.0.1",
        _ => listenAddress.ToString(),
    };

    private static HttpClient CreateClient(Probe probe)
    {
        var handler = new SocketsHttpHandler
        {
            // The certificate names the registry's public host, not the loopback address the probe connects to, and
            // the probe checks that this machine's own registry answers, not who it is; so no name or chain check.
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
            AllowAutoRedirect = false,
            UseProxy = false,
        };
        if (probe.UnixSocketPath is { } socketPath)
        {
            handler.ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }

        return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }
}
