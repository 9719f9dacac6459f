using Berth.Server.Caching;
using Berth.Storage.Caching;
using Berth.Storage.Redis;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Caching;

public sealed class BlobDescriptorCacheRegistrationTests
{
    [Fact]
    public void RedisSection_MapsOntoTheClientsOptions_FailingFastWhileRedisIsDown()
    {
        var config = LoadYaml("""
            version: 0.1
            storage:
              cache:
                blobdescriptor: redis
            redis:
              addr: 127.0.0.1:6390
              password: asecret
              db: 3
              dialtimeout: 250ms
              readtimeout: 150ms
            """).Configuration;

        var options = BlobDescriptorCacheRegistration.ToConfigurationOptions(config.Redis);

        Assert.Equal("127.0.0.1:6390", Assert.Single(options.EndPoints).ToString());
        Assert.Equal("asecret", options.Password);
        Assert.Equal(3, options.DefaultDatabase);
        Assert.Equal(250, options.ConnectTimeout);
        Assert.Equal(150, options.AsyncTimeout);
        Assert.False(options.AbortOnConnectFail);
        Assert.Equal(BacklogPolicy.FailFast, options.BacklogPolicy);
        Assert.False(options.Ssl);
    }

    [Theory]
    [InlineData("inmemory", typeof(InMemoryBlobDescriptorCache))]
    [InlineData("redis", typeof(RedisBlobDescriptorCache))]
    public void StorageCacheKey_SelectsTheCache(string kind, Type expected)
    {
        var config = LoadYaml($"""
            version: 0.1
            storage:
              inmemory:
              cache:
                blobdescriptor: {kind}
            redis:
              addr: 127.0.0.1:1
              dialtimeout: 50ms
            """).Configuration;
        var services = new ServiceCollection().AddLogging().AddBlobDescriptorCache(config);
        using var provider = services.BuildServiceProvider();

        Assert.IsType(expected, provider.GetRequiredService<IBlobDescriptorCache>());
    }

    [Fact]
    public void WithoutACacheKey_NothingIsRegistered()
    {
        var config = LoadYaml("version: 0.1\nstorage:\n  inmemory: {}\n").Configuration;

        var services = new ServiceCollection().AddBlobDescriptorCache(config);

        Assert.DoesNotContain(services, d => d.ServiceType == typeof(IBlobDescriptorCache));
    }
}
