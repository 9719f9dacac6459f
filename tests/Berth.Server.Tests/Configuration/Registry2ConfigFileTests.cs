using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Configuration;

/// <summary>
/// The configuration files registry:2 deployments actually ship must load unchanged, with no warning but the one
/// about <c>log.fields</c> (Berth's log entries carry no static fields).
/// </summary>
public sealed class Registry2ConfigFileTests
{
    // Debian's docker-registry package installs this as /etc/docker/registry/config.yml; the registry:2 image
    // ships the same file with rootdirectory /var/lib/registry.
    private const string DebianConfig = """
        version: 0.1
        log:
          fields:
            service: registry
        storage:
          cache:
            blobdescriptor: inmemory
          filesystem:
            rootdirectory: /var/lib/docker-registry
        http:
          addr: :5000
          headers:
            X-Content-Type-Options: [nosniff]
        health:
          storagedriver:
            enabled: true
            interval: 10s
            threshold: 3
        """;

    [Fact]
    public void Load_DebianConfig_BindsEveryValueAndWarnsOnlyAboutLogFields()
    {
        var result = LoadYaml(DebianConfig);
        var config = result.Configuration;

        Assert.StartsWith("log.fields: ", Assert.Single(result.Warnings), StringComparison.Ordinal);
        Assert.Equal("0.1", config.Version);
        Assert.Equal("info", config.Log.Level);
        Assert.Equal("filesystem", config.Storage.Driver);
        Assert.Equal("/var/lib/docker-registry", config.Storage.Filesystem.RootDirectory);
        Assert.Equal("inmemory", config.Storage.Cache.BlobDescriptor);
        Assert.False(config.Storage.Delete.Enabled);
        Assert.Equal(":5000", config.Http.Addr);
        Assert.Equal(["nosniff"], config.Http.Headers["X-Content-Type-Options"]);
        Assert.True(config.Health.StorageDriver.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(10), config.Health.StorageDriver.Interval);
        Assert.Equal(3, config.Health.StorageDriver.Threshold);
        Assert.Equal(1000, config.Catalog.MaxEntries);
    }

    [Fact]
    public void Load_DebianConfigWithTypicalDockerRunVariables_AppliesThem()
    {
        // `docker run -e ...` as in Distribution's deployment guide: htpasswd auth, TLS, deletes, S3.
        var result = LoadYaml(DebianConfig, Environment(
            ("REGISTRY_AUTH", "htpasswd"),
            ("REGISTRY_AUTH_HTPASSWD_REALM", "Registry Realm"),
            ("REGISTRY_AUTH_HTPASSWD_PATH", "/auth/htpasswd"),
            ("REGISTRY_HTTP_TLS_CERTIFICATE", "/certs/domain.crt"),
            ("REGISTRY_HTTP_TLS_KEY", "/certs/domain.key"),
            ("REGISTRY_HTTP_ADDR", "0.0.0.0:443"),
            ("REGISTRY_STORAGE_DELETE_ENABLED", "true"),
            ("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "/data"),
            ("PATH", "/usr/bin"),
            ("HOME", "/root")));
        var config = result.Configuration;

        Assert.StartsWith("log.fields: ", Assert.Single(result.Warnings), StringComparison.Ordinal);
        Assert.Equal("htpasswd", config.Auth.Type);
        Assert.Equal("Registry Realm", config.Auth.Htpasswd?.Realm);
        Assert.Equal("/certs/domain.crt", config.Http.Tls.Certificate);
        Assert.Equal("/certs/domain.key", config.Http.Tls.Key);
        Assert.Equal("0.0.0.0:443", config.Http.Addr);
        Assert.True(config.Storage.Delete.Enabled);
        Assert.Equal("/data", config.Storage.Filesystem.RootDirectory);
        // Untouched file values survive.
        Assert.Equal("inmemory", config.Storage.Cache.BlobDescriptor);
        Assert.True(config.Health.StorageDriver.Enabled);
    }
}
