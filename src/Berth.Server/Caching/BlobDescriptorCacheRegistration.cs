using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Berth.Server.Configuration;
using Berth.Storage.Caching;
using Berth.Storage.Redis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using StackExchange.Redis;

namespace Berth.Server.Caching;

/// <summary>The blob descriptor cache <c>storage.cache</c> selects; shared by <c>serve</c> and <c>garbage-collect</c>.</summary>
internal static class BlobDescriptorCacheRegistration
{
    // A cache lookup that takes longer than this is slower than the storage it saves, even on S3.
    private static readonly TimeSpan DefaultCommandTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Registers the configured cache. Must run before <c>AddBerthStorage</c>, which otherwise registers none. An
    /// offline collection registers Redis too, so that what it deletes is invalidated for the running replicas.
    /// </summary>
    public static IServiceCollection AddBlobDescriptorCache(this IServiceCollection services, RegistryConfiguration config)
    {
        switch (config.Storage.Cache.BlobDescriptor)
        {
            case StorageCacheOptions.InMemoryCache:
                services.TryAddSingleton(TimeProvider.System);
                services.AddSingleton<IBlobDescriptorCache>(sp =>
                    new InMemoryBlobDescriptorCache(config.Storage.Cache.BlobDescriptorSize, sp.GetRequiredService<TimeProvider>()));
                break;
            case StorageCacheOptions.RedisCache:
                services.TryAddSingleton(TimeProvider.System);
                services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(ToConfigurationOptions(config.Redis)));
                services.AddSingleton(new RedisBlobDescriptorCacheOptions { Database = config.Redis.Db });
                services.AddSingleton<IBlobDescriptorCache, RedisBlobDescriptorCache>();
                break;
        }

        return services;
    }

    /// <summary>
    /// Maps the <c>redis</c> section onto the client. The client multiplexes one connection per server, so the pool
    /// sizes of go-redis (<c>poolsize</c>, <c>maxidleconns</c>...) have nothing to size. It never waits for a broken
    /// connection (fail fast, reconnect in the background): the cache then answers from storage.
    /// </summary>
    internal static ConfigurationOptions ToConfigurationOptions(RedisOptions redis)
    {
        var options = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            BacklogPolicy = BacklogPolicy.FailFast,
            User = redis.Username,
            Password = redis.Password,
            ClientName = redis.ClientName ?? "berth",
            DefaultDatabase = redis.Db,
            ServiceName = redis.MasterName,
            ConnectTimeout = Milliseconds(redis.DialTimeout, DefaultConnectTimeout),
            AsyncTimeout = Milliseconds(redis.ReadTimeout, DefaultCommandTimeout),
            SyncTimeout = Milliseconds(redis.ReadTimeout, DefaultCommandTimeout),
            Ssl = redis.Tls.Enabled,
        };
        if (redis.Protocol == 3)
        {
            options.Protocol = RedisProtocol.Resp3;
        }

        if (redis.MaxRetries > 0)
        {
            options.ConnectRetry = redis.MaxRetries;
        }

        foreach (var address in redis.Addrs)
        {
            options.EndPoints.Add(address);
        }

        if (redis.Tls.Certificate is { } certificatePath)
        {
            var certificate = X509Certificate2.CreateFromPemFile(certificatePath, redis.Tls.Key);
            options.CertificateSelection += (_, _, _, _, _) => certificate;
        }

        if (redis.Tls.RootCas.Count > 0)
        {
            var roots = new X509Certificate2Collection();
            foreach (var path in redis.Tls.RootCas)
            {
                roots.ImportFromPemFile(path);
            }

            options.CertificateValidation += (_, certificate, _, errors) => ValidateAgainst(roots, certificate, errors);
        }

        return options;
    }

    private static bool ValidateAgainst(X509Certificate2Collection roots, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    private static int Milliseconds(TimeSpan configured, TimeSpan fallback) =>
        (int)(configured > TimeSpan.Zero ? configured : fallback).TotalMilliseconds;
}
