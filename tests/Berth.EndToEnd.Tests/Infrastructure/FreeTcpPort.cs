using System.Net;
using System.Net.Sockets;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>Free ports on 127.0.0.1, as the kernel hands them out.</summary>
public static class FreeTcpPort
{
    /// <summary>
    /// A port that was free a moment ago. Another process can take it before the registry binds it,
    /// so <see cref="RegistryProcess"/> retries start-up on a new port when the bind fails.
    /// </summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
