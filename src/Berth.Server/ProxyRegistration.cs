using Berth.Proxy;
using Berth.Server.Configuration;
using Berth.Storage;
using Berth.Storage.Drivers;

namespace Berth.Server;

/// <summary>Turns <c>proxy</c> into the pull-through cache's services, when it is configured.</summary>
internal static class ProxyRegistration
{
    /// <summary>The upstreams <paramref name="proxy"/> describes: registry:2's one at the root, or Berth's list under prefixes.</summary>
    public static IReadOnlyList<UpstreamOptions> Upstreams(ProxyOptions proxy)
    {
        if (proxy.RemoteUrl is { } remote)
        {
            return
            [
                new UpstreamOptions
                {
                    Name = remote.Authority,
                    RemoteUrl = remote,
                    Username = proxy.Username,
                    Password = proxy.Password,
                    Exec = Helper(proxy.Exec),
                    Ttl = proxy.Ttl,
                    TagCheckInterval = proxy.TagCheckInterval,
                    CacheWriteTimeout = proxy.CacheWriteTimeout,
                    RequestTimeout = proxy.RequestTimeout,
                },
            ];
        }

        return
        [
            .. proxy.Upstreams.Select(u => new UpstreamOptions
            {
                Name = u.Name,
                Prefix = u.Prefix,
                Hosts = u.Hosts,
                IsDefault = u.Default,
                RemoteUrl = u.RemoteUrl,
                Username = u.Username,
                Password = u.Password,
                Exec = Helper(u.Exec),
                Ttl = u.Ttl,
                TagCheckInterval = u.TagCheckInterval,
                CacheWriteTimeout = proxy.CacheWriteTimeout,
                RequestTimeout = u.RequestTimeout,
            }),
        ];
    }

    public static IServiceCollection AddPullThroughCache(this IServiceCollection services, RegistryConfiguration config)
    {
        if (!config.Proxy.Enabled)
        {
            return services;
        }

        var upstreams = Upstreams(config.Proxy);
        services.AddSingleton(sp =>
        {
            var time = sp.GetRequiredService<TimeProvider>();
            return new ProxyRouter([.. upstreams.Select(options => new UpstreamRegistry(options, time))]);
        });
        // registry:2 runs no scheduler at all when nothing expires: an old scheduler-state.json is then left alone.
        var expires = upstreams.Any(u => u.Ttl > TimeSpan.Zero);
        services.AddSingleton(sp => new CacheExpiry(
            sp.GetRequiredService<IStorageDriver>(),
            sp.GetRequiredService<BlobStore>(),
            sp.GetRequiredService<ManifestStore>(),
            deleteBlobData: sp.GetRequiredService<ProxyRouter>().MirrorsEverything,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<CacheExpiry>>()));
        services.AddSingleton(sp => new PullThroughCache(
            sp.GetRequiredService<ProxyRouter>(),
            sp.GetRequiredService<BlobStore>(),
            sp.GetRequiredService<ManifestStore>(),
            sp.GetRequiredService<TagStore>(),
            expires ? sp.GetRequiredService<CacheExpiry>() : null,
            SpoolDirectory(config.Storage),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<PullThroughCache>>()));
        var readOnly = config.Storage.Maintenance.ReadOnly.Enabled;
        if (expires)
        {
            services.AddHostedService(sp => new CacheExpiryService(sp.GetRequiredService<CacheExpiry>(), sp.GetRequiredService<PullThroughCache>(), readOnly));
        }

        return services;
    }

    /// <summary>
    /// Where blobs on their way from an upstream are spooled: beside the filesystem storage they end up in (a spool
    /// as large as the largest layer should not land on a small tmpfs), else the temporary directory. Spool files are
    /// unlinked as soon as they are opened, so nothing there outlives the process.
    /// </summary>
    private static string SpoolDirectory(StorageOptions storage) =>
        storage.Driver == StorageOptions.FilesystemDriver
            ? Path.Combine(Path.GetFullPath(storage.Filesystem.RootDirectory), ".berth-proxy-spool")
            : Path.Combine(Path.GetTempPath(), "berth-proxy-spool");

    private static CredentialHelperOptions? Helper(ProxyExecOptions? exec) => exec is null ? null : new CredentialHelperOptions(exec.Command, exec.Lifetime);
}

/// <summary>Runs the cache's expiry schedule while the registry serves (nothing in read-only mode: it deletes).</summary>
internal sealed class CacheExpiryService(CacheExpiry expiry, PullThroughCache cache, bool readOnly) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        readOnly ? Task.CompletedTask : expiry.RunAsync(cache.IsFetching, stoppingToken);
}
