using Berth.Server.Configuration;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Configuration;

public sealed class ConfigurationValidationTests
{
    [Theory]
    [InlineData("storage:\n  delete:\n    enabled: maybe", "storage.delete.enabled", "expected a boolean, got 'maybe'")]
    [InlineData("storage:\n  maintenance:\n    uploadpurging:\n      age: 10 parsecs", "storage.maintenance.uploadpurging.age", "expected a duration")]
    [InlineData("storage:\n  maintenance:\n    uploadpurging:\n      age: 1d", "storage.maintenance.uploadpurging.age", "expected a duration")]
    [InlineData("storage:\n  maintenance:\n    uploadpurging:\n      age: -1h", "storage.maintenance.uploadpurging.age", "must not be negative")]
    [InlineData("catalog:\n  maxentries: lots", "catalog.maxentries", "expected an integer, got 'lots'")]
    [InlineData("catalog:\n  maxentries: 99999999999", "catalog.maxentries", "must be between")]
    [InlineData("log:\n  level: loud", "log.level", "expected one of error, warn, info, debug, got 'loud'")]
    [InlineData("log:\n  formatter: xml", "log.formatter", "expected one of")]
    [InlineData("http:\n  net: udp", "http.net", "expected one of tcp, unix")]
    [InlineData("http:\n  host: registry.example.com", "http.host", "expected an absolute http or https URL")]
    [InlineData("http:\n  addr: [a, b]", "http.addr", "expected a string, got a list")]
    [InlineData("http:\n  headers: nosniff", "http.headers", "expected a section")]
    [InlineData("http:\n  tls:\n    certificate: /c.pem", "http.tls.key", "required when http.tls.certificate is set")]
    [InlineData("http:\n  tls:\n    certificate: /c.pem\n    key: /k.pem\n    minimumtls: ssl3", "http.tls.minimumtls", "expected one of")]
    [InlineData("storage:\n  filesystem: {}\n  inmemory: {}", "storage", "exactly one storage driver may be configured, found filesystem, inmemory")]
    [InlineData("storage:\n  gcs:\n    bucket: a", "storage.gcs", "the 'gcs' storage driver is not supported")]
    [InlineData("storage:\n  filesystem: [a]", "storage.filesystem", "expected a section")]
    [InlineData("storage:\n  cache:\n    blobdescriptorsize: many", "storage.cache.blobdescriptorsize", "expected an integer")]
    [InlineData("storage:\n  s3:\n    region: us-east-1", "storage.s3.bucket", "required")]
    [InlineData("storage:\n  s3:\n    bucket: b", "storage.s3.region", "required unless storage.s3.regionendpoint is set")]
    [InlineData("storage:\n  s3:\n    bucket: b\n    region: r\n    chunksize: 1024", "storage.s3.chunksize", "must be between 5242880 and 5368709120, got 1024")]
    [InlineData("storage:\n  s3:\n    bucket: b\n    region: r\n    secure: sometimes", "storage.s3.secure", "expected a boolean")]
    [InlineData("storage:\n  cache:\n    blobdescriptor: redis", "storage.cache.blobdescriptor", "needs a redis server")]
    [InlineData("auth:\n  htpasswd:\n    realm: r", "auth.htpasswd.path", "required")]
    [InlineData("auth:\n  htpasswd: {realm: r, path: /p}\n  silly: {realm: r, service: s}", "auth", "exactly one access controller")]
    [InlineData("auth:\n  ldap:\n    url: ldap://x", "auth.ldap", "not supported")]
    [InlineData("auth:\n  token:\n    realm: r\n    service: s\n    issuer: i", "auth.token", "set rootcertbundle or jwks")]
    [InlineData("notifications:\n  endpoints:\n    - name: a", "notifications.endpoints.0.url", "required")]
    [InlineData("notifications:\n  endpoints: {name: a}", "notifications.endpoints", "expected a list")]
    [InlineData("validation:\n  manifests:\n    urls:\n      allow: ['^https://']", "validation.manifests.urls.allow", "does not check the URLs of foreign layers")]
    [InlineData("redis:\n  db: -1", "redis.db", "must be at least 0")]
    public void Load_InvalidValue_ThrowsNamingTheKey(string yaml, string key, string detail)
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml("version: 0.1\n" + yaml + "\n"));

        Assert.Equal(key, exception.Key);
        Assert.StartsWith(key + ": ", exception.Message, StringComparison.Ordinal);
        Assert.Contains(detail, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_InvalidFileValue_MessageGivesTheLine()
    {
        var exception = Assert.Throws<ConfigurationException>(
            () => LoadYaml("version: 0.1\nstorage:\n  delete:\n    enabled: maybe\n"));

        Assert.Equal("storage.delete.enabled: expected a boolean, got 'maybe' (config.yml line 4)", exception.Message);
    }

    [Fact]
    public void Load_UnknownKeys_AreWarnedAboutWithFullKeyAndLine()
    {
        var result = LoadYaml("""
            version: 0.1
            ducks: quack
            http:
              addr: :5000
              tls:
                certifcate: /typo.pem
            storage:
              filesystem:
                rootdir: /typo
            """);

        Assert.Equal(
            [
                "storage.filesystem.rootdir: unknown configuration key, ignored (config.yml line 9)",
                "http.tls.certifcate: unknown configuration key, ignored (config.yml line 6)",
                "ducks: unknown configuration key, ignored (config.yml line 2)",
            ],
            result.Warnings);
    }

    [Fact]
    public void Load_KeyInTheWrongCase_IsWarnedAboutWithAHint()
    {
        var result = LoadYaml("version: 0.1\nHttp:\n  addr: :6000\n");

        var warning = Assert.Single(result.Warnings);
        Assert.StartsWith("Http: unknown configuration key, ignored; keys are case-sensitive, did you mean 'http'?", warning, StringComparison.Ordinal);
        Assert.Equal(":5000", result.Configuration.Http.Addr);
    }

    [Fact]
    public void Load_UnknownDriverParameter_IsWarnedAbout()
    {
        var result = LoadYaml("version: 0.1\nstorage:\n  inmemory:\n    size: 10\n");

        Assert.Equal("inmemory", result.Configuration.Storage.Driver);
        Assert.StartsWith("storage.inmemory.size: unknown configuration key", Assert.Single(result.Warnings), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("reporting:\n  bugsnag:\n    apikey: k", "reporting.bugsnag: ")]
    [InlineData("compatibility:\n  schema1:\n    signingkeyfile: /etc/registry/key.json", "compatibility.schema1.signingkeyfile: ")]
    [InlineData("log:\n  hooks:\n    - type: mail", "log.hooks: ")]
    [InlineData("redis:\n  addrs: [r:6379]\n  poolfifo: true", "redis.poolfifo: ")]
    public void Load_DistributionKeyBerthDoesNotUse_IsWarnedAboutAsIgnored(string yaml, string prefix)
    {
        var result = LoadYaml("version: 0.1\n" + yaml + "\n");

        var warning = Assert.Single(result.Warnings);
        Assert.StartsWith(prefix, warning, StringComparison.Ordinal);
        Assert.Contains("; ignored", warning, StringComparison.Ordinal);
        Assert.DoesNotContain("unknown", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_UnknownBlobDescriptorCache_WarnsAndDisablesCaching()
    {
        var result = LoadYaml("version: 0.1\nstorage:\n  cache:\n    blobdescriptor: memcached\n");

        Assert.Null(result.Configuration.Storage.Cache.BlobDescriptor);
        Assert.Contains("unknown cache type 'memcached'", Assert.Single(result.Warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_DurationWithoutUnit_IsReadAsNanosecondsWithWarning()
    {
        var result = LoadYaml("version: 0.1\nstorage:\n  maintenance:\n    uploadpurging:\n      age: 6000000000\n");

        Assert.Equal(TimeSpan.FromSeconds(6), result.Configuration.Storage.Maintenance.UploadPurging.Age);
        Assert.StartsWith("storage.maintenance.uploadpurging.age: '6000000000' has no unit", Assert.Single(result.Warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_FilesystemMaxThreads_IsAcceptedWithWarning()
    {
        var result = LoadYaml("version: 0.1\nstorage:\n  filesystem:\n    maxthreads: 5\n");

        Assert.StartsWith("storage.filesystem.maxthreads: ", Assert.Single(result.Warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NullValues_MeanDefaults()
    {
        var result = LoadYaml("version: 0.1\nhttp:\n  addr:\n  secret: ~\nstorage:\nlog:\n  level: null\n");

        Assert.Equal(":5000", result.Configuration.Http.Addr);
        Assert.Null(result.Configuration.Http.Secret);
        Assert.Equal("filesystem", result.Configuration.Storage.Driver);
        Assert.Equal("info", result.Configuration.Log.Level);
        Assert.Empty(result.Warnings);
    }
}
