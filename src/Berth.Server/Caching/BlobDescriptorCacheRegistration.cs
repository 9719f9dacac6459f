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
    /// <param name="services">The container.</param>
    /// <param name="config">The configuration.</param>
    /// <param name="redis">
    /// The client options <see cref="ToConfigurationOptions"/> made of <c>redis</c> when start-up validation already
    /// built them (its certificates read); null to build them here.
    /// </param>
    public static IServiceCollection AddBlobDescriptorCache(this IServiceCollection services, RegistryConfiguration config, ConfigurationOptions? redis = null)
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
                services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redis ?? ToConfigurationOptions(config.Redis)));
                services.AddSingleton(new RedisBlobDescriptorCacheOptions { Database = config.Redis.Db });
                services.AddSingleton<IBlobDescriptorCache, RedisBlobDescriptorCache>();
                break;
        }

        return services;
    }

    /// <summary>
    /// Maps the <c>redis</c> section onto the client. The client multiplexes one connection per server, so the pool
    /// sizes of go-redis (<c>poolsize</c>, <c>maxidleconns</c>...) have nothing to size. It never waits for a broken
    /// connection (fail fast, reconnect in the background): the cache then answers from storage. Reads the TLS files
    /// but makes no connection.
    /// </summary>
    /// <exception cref="ConfigurationException">An address cannot be parsed or a TLS file cannot be read; names the key.</exception>
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

        for (var i = 0; i < redis.Addrs.Count; i++)
        {
            try
            {
                options.EndPoints.Add(redis.Addrs[i]);
            }
            catch (ArgumentException ex)
            {
                throw ConfigurationException.ForKey($"redis.addrs.{i}", $"expected host:port, got '{redis.Addrs[i]}'", innerException: ex);
            }
        }

        if (redis.Tls.Certificate is { } certificatePath)
        {
            var certificate = ReadPem("redis.tls.certificate", certificatePath, () => X509Certificate2.CreateFromPemFile(certificatePath, redis.Tls.Key));
            options.CertificateSelection += (_, _, _, _, _) => certificate;
        }

        if (redis.Tls.RootCas.Count > 0)
        {
            var roots = new X509Certificate2Collection();
            for (var i = 0; i < redis.Tls.RootCas.Count; i++)
            {
                var path = redis.Tls.RootCas[i];
                var key = $"redis.tls.rootcas.{i}";
                var before = roots.Count;
                ReadPem(key, path, () =>
                {
                    roots.ImportFromPemFile(path);
                    return roots;
                });
                if (roots.Count == before)
                {
                    throw ConfigurationException.ForKey(key, $"{path} holds no PEM certificate");
                }
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

    private static T ReadPem<T>(string key, string path, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // The certificate's key may be the file that is missing.
            throw ConfigurationException.ForKey(key, $"file not found: {(ex as FileNotFoundException)?.FileName ?? path}", innerException: ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw ConfigurationException.ForKey(key, $"cannot read {path}: {ex.Message}", innerException: ex);
        }
    }

    private static int Milliseconds(TimeSpan configured, TimeSpan fallback) =>
        (int)(configured > TimeSpan.Zero ? configured : fallback).TotalMilliseconds;
}
