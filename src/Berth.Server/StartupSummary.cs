using Berth.Server.Configuration;

namespace Berth.Server;

/// <summary>
/// What <c>berth serve</c> tells an operator once it listens: where, with or without TLS, where the data lives,
/// which authentication is on, and the switches that change what clients may do. Logged as one structured
/// Information entry, so the text and JSON formatters carry the same fields.
/// </summary>
/// <param name="Addresses">The addresses Kestrel bound for the registry (ports resolved), comma-separated.</param>
/// <param name="Tls"><c>on</c> or <c>off</c>.</param>
/// <param name="StorageDriver">filesystem, inmemory or s3.</param>
/// <param name="StorageLocation">The root directory, the bucket (with endpoint and prefix) or process memory.</param>
/// <param name="BlobDescriptorCache">none, inmemory with its size, or redis with its address.</param>
/// <param name="Auth">none, htpasswd with its file, token with its realm, or silly.</param>
/// <param name="Delete"><c>on</c> when the API may delete manifests and blobs.</param>
/// <param name="ReadOnly"><c>on</c> when pushes and deletes are refused (maintenance mode).</param>
/// <param name="DebugListener">The debug/metrics address, or <c>off</c>.</param>
/// <param name="Mode">What the registry is: a registry, a pull-through cache of one upstream, or a registry that also mirrors upstreams.</param>
internal sealed record StartupSummary(
    string Addresses, string Tls, string StorageDriver, string StorageLocation, string BlobDescriptorCache, string Auth, string Delete,
    string ReadOnly, string DebugListener, string Mode)
{
    /// <summary>Where spans (and OTLP metrics) go, or <c>off</c>.</summary>
    public string Tracing { get; init; } = Off;

    private const string On = "on";
    private const string Off = "off";

    /// <summary>The summary of <paramref name="config"/>; <paramref name="boundAddresses"/> are Kestrel's, without the debug listener's.</summary>
    public static StartupSummary Describe(RegistryConfiguration config, IEnumerable<string> boundAddresses, bool tlsEnabled)
    {
        var addresses = boundAddresses.ToList();
        return new StartupSummary(
            addresses.Count > 0 ? string.Join(", ", addresses) : config.Http.Addr,
            tlsEnabled ? On : Off,
            config.Storage.Driver,
            DescribeStorage(config.Storage),
            DescribeCache(config),
            DescribeAuth(config.Auth),
            config.Storage.Delete.Enabled ? On : Off,
            config.Storage.Maintenance.ReadOnly.Enabled ? On : Off,
            string.IsNullOrEmpty(config.Http.Debug.Addr)
                ? Off
                : config.Http.Debug.Prometheus.Enabled ? $"{config.Http.Debug.Addr} (metrics at {config.Http.Debug.Prometheus.Path})" : config.Http.Debug.Addr,
            DescribeMode(config.Proxy))
        {
            Tracing = config.Tracing.Describe(),
        };
    }

    /// <summary>The registry's mode, as <c>serve</c> logs it and <c>config check</c> prints it.</summary>
    public static string DescribeMode(ProxyOptions proxy)
    {
        if (proxy.RemoteUrl is { } remote)
        {
            var ttl = proxy.Ttl > TimeSpan.Zero ? $"content kept {ConfigCheckCommand.FormatGoDuration(proxy.Ttl)}" : "content kept until deleted";
            return $"pull-through cache of {remote} (read-only for clients; tags checked every {ConfigCheckCommand.FormatGoDuration(proxy.TagCheckInterval)}; {ttl})";
        }

        return proxy.Upstreams.Count == 0
            ? "registry"
            : "registry, mirroring " + string.Join(", ", proxy.Upstreams.Select(u => $"{u.Prefix}/ from {u.RemoteUrl} (ns {string.Join("|", u.Hosts)})"));
    }

    private static string DescribeStorage(StorageOptions storage) => storage.Driver switch
    {
        StorageOptions.FilesystemDriver => Path.GetFullPath(storage.Filesystem.RootDirectory),
        StorageOptions.InMemoryDriver => "process memory (lost when the process exits)",
        StorageOptions.S3Driver when storage.S3 is { } s3 => DescribeBucket(s3),
        StorageOptions.AzureDriver when storage.Azure is { } azure => DescribeContainer(azure),
        _ => storage.Driver,
    };

    private static string DescribeContainer(AzureStorageOptions azure)
    {
        var location = $"Azure container {azure.Container}";
        if (!string.IsNullOrEmpty(azure.RootDirectory))
        {
            location += $", prefix {azure.RootDirectory}";
        }

        return $"{location} at {azure.ServiceUrl?.ToString() ?? $"https://{azure.AccountName}.blob.{azure.Realm}"}";
    }

    private static string DescribeBucket(S3StorageOptions s3)
    {
        var location = $"bucket {s3.Bucket}";
        if (!string.IsNullOrEmpty(s3.RootDirectory))
        {
            location += $", prefix {s3.RootDirectory}";
        }

        // The endpoint says which server; a region alone means AWS itself.
        return s3.RegionEndpoint is not null ? $"{location} at {s3.RegionEndpoint}" : $"{location} in {s3.Region}";
    }

    private static string DescribeCache(RegistryConfiguration config) => config.Storage.Cache.BlobDescriptor switch
    {
        StorageCacheOptions.InMemoryCache => $"inmemory ({config.Storage.Cache.BlobDescriptorSize} entries)",
        StorageCacheOptions.RedisCache => $"redis ({string.Join(", ", config.Redis.Addrs)}, db {config.Redis.Db})",
        _ => "none",
    };

    private static string DescribeAuth(AuthOptions auth) => auth.Type switch
    {
        AuthOptions.HtpasswdType when auth.Htpasswd is { } htpasswd => $"htpasswd ({htpasswd.Path})",
        AuthOptions.TokenType when auth.Token is { } token => $"token (realm {token.Realm}, service {token.Service})",
        AuthOptions.SillyType => "silly (development only)",
        _ => "none (anonymous access)",
    };
}
