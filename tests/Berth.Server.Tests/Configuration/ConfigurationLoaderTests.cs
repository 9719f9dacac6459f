using Berth.Server.Configuration;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Configuration;

public sealed class ConfigurationLoaderTests
{
    [Fact]
    public void Load_NoFileAndNoVariables_UsesRegistry2Defaults()
    {
        var result = ConfigurationLoader.Load(null, NoEnvironment);
        var config = result.Configuration;

        Assert.Null(result.SourcePath);
        Assert.Empty(result.Warnings);
        Assert.Equal("0.1", config.Version);
        Assert.Equal(":5000", config.Http.Addr);
        Assert.Equal("tcp", config.Http.Net);
        Assert.Null(config.Http.Secret);
        Assert.Null(config.Http.Host);
        Assert.False(config.Http.RelativeUrls);
        Assert.Null(config.Http.Tls.Certificate);
        Assert.Null(config.Http.Tls.Key);
        Assert.False(config.Http.Tls.Enabled);
        Assert.Equal("filesystem", config.Storage.Driver);
        Assert.Equal("/var/lib/registry", config.Storage.Filesystem.RootDirectory);
        Assert.Null(config.Storage.S3);
        Assert.False(config.Storage.Delete.Enabled);
        Assert.False(config.Storage.Redirect.Disable);
        Assert.True(config.Storage.Mount.Automatic);
        Assert.False(config.Storage.Maintenance.ReadOnly.Enabled);
        Assert.True(config.Storage.Maintenance.UploadPurging.Enabled);
        Assert.Equal(TimeSpan.FromHours(168), config.Storage.Maintenance.UploadPurging.Age);
        Assert.Equal(TimeSpan.FromHours(24), config.Storage.Maintenance.UploadPurging.Interval);
        Assert.Null(config.Storage.Cache.BlobDescriptor);
        Assert.Equal("info", config.Log.Level);
        Assert.Equal("text", config.Log.Formatter);
        Assert.False(config.Log.AccessLog.Disabled);
        Assert.Null(config.Auth.Type);
        Assert.Equal(1000, config.Catalog.MaxEntries);
        Assert.False(config.Redis.IsConfigured);
        Assert.False(config.Proxy.Enabled);
        Assert.True(config.Validation.Enabled);
    }

    [Fact]
    public void Load_NullPathWithConfigurationPathVariable_ReadsThatFile()
    {
        using var file = new TemporaryConfigFile("""
            version: 0.1
            http:
              addr: :7000
            """);

        var result = ConfigurationLoader.Load(null, Environment(("REGISTRY_CONFIGURATION_PATH", file.Path)));

        Assert.Equal(file.Path, result.SourcePath);
        Assert.Equal(":7000", result.Configuration.Http.Addr);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Load_ExplicitPath_WinsOverConfigurationPathVariable()
    {
        using var chosen = new TemporaryConfigFile("version: 0.1\nhttp:\n  addr: :7001\n");
        using var other = new TemporaryConfigFile("version: 0.1\nhttp:\n  addr: :7002\n");

        var result = ConfigurationLoader.Load(chosen.Path, Environment(("REGISTRY_CONFIGURATION_PATH", other.Path)));

        Assert.Equal(":7001", result.Configuration.Http.Addr);
    }

    [Fact]
    public void Load_MissingFile_ThrowsNamingThePath()
    {
        var path = Path.Combine(Path.GetTempPath(), "berth-no-such-dir-" + Guid.NewGuid().ToString("N"), "config.yml");

        var exception = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load(path, NoEnvironment));

        Assert.Contains(path, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_FileWithMainSettings_BindsThem()
    {
        var config = LoadYaml("""
            version: 0.1
            log:
              level: debug
              formatter: json
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: /srv/registry
              delete:
                enabled: true
              redirect:
                disable: true
              maintenance:
                uploadpurging:
                  enabled: false
                  age: 72h
                  interval: 1h30m
                  dryrun: true
                readonly:
                  enabled: true
            http:
              addr: 127.0.0.1:5443
              prefix: /registry/
              host: https://registry.example.com:5443
              secret: asecretforlocaldevelopment
              relativeurls: true
              headers:
                X-Content-Type-Options: [nosniff]
                Strict-Transport-Security: max-age=31536000
              tls:
                certificate: /certs/domain.crt
                key: /certs/domain.key
                clientcas:
                  - /certs/ca1.pem
                  - /certs/ca2.pem
                minimumtls: tls1.3
              debug:
                addr: localhost:5001
                prometheus:
                  enabled: true
            catalog:
              maxentries: 250
            """).Configuration;

        Assert.Equal("debug", config.Log.Level);
        Assert.Equal("json", config.Log.Formatter);
        Assert.True(config.Log.AccessLog.Disabled);

        Assert.Equal("filesystem", config.Storage.Driver);
        Assert.Equal("/srv/registry", config.Storage.Filesystem.RootDirectory);
        Assert.True(config.Storage.Delete.Enabled);
        Assert.True(config.Storage.Redirect.Disable);
        Assert.False(config.Storage.Maintenance.UploadPurging.Enabled);
        Assert.Equal(TimeSpan.FromHours(72), config.Storage.Maintenance.UploadPurging.Age);
        Assert.Equal(TimeSpan.FromMinutes(90), config.Storage.Maintenance.UploadPurging.Interval);
        Assert.True(config.Storage.Maintenance.UploadPurging.DryRun);
        Assert.True(config.Storage.Maintenance.ReadOnly.Enabled);

        Assert.Equal("127.0.0.1:5443", config.Http.Addr);
        Assert.Equal("/registry/", config.Http.Prefix);
        Assert.Equal("https://registry.example.com:5443", config.Http.Host);
        Assert.Equal("asecretforlocaldevelopment", config.Http.Secret);
        Assert.True(config.Http.RelativeUrls);
        Assert.Equal(["nosniff"], config.Http.Headers["X-Content-Type-Options"]);
        Assert.Equal(["max-age=31536000"], config.Http.Headers["strict-transport-security"]);
        Assert.Equal("/certs/domain.crt", config.Http.Tls.Certificate);
        Assert.Equal("/certs/domain.key", config.Http.Tls.Key);
        Assert.True(config.Http.Tls.Enabled);
        Assert.Equal(["/certs/ca1.pem", "/certs/ca2.pem"], config.Http.Tls.ClientCas);
        Assert.Equal("tls1.3", config.Http.Tls.MinimumTls);
        Assert.Equal("localhost:5001", config.Http.Debug.Addr);
        Assert.True(config.Http.Debug.Prometheus.Enabled);
        Assert.Equal("/metrics", config.Http.Debug.Prometheus.Path);

        Assert.Equal(250, config.Catalog.MaxEntries);
    }

    [Theory]
    [InlineData("storage: inmemory", "inmemory")]
    [InlineData("storage: filesystem", "filesystem")]
    [InlineData("storage:\n  inmemory:", "inmemory")]
    [InlineData("storage:\n  inmemory: {}", "inmemory")]
    public void Load_StorageDriverSpelledEitherWay_SelectsIt(string storage, string expectedDriver)
    {
        var result = LoadYaml("version: 0.1\n" + storage + "\n");

        Assert.Equal(expectedDriver, result.Configuration.Storage.Driver);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Load_StorageWithOnlyRegistryKeys_DefaultsToFilesystem()
    {
        var result = LoadYaml("""
            version: 0.1
            storage:
              delete:
                enabled: true
              redirect:
                disable: true
              cache:
                blobdescriptor: inmemory
              maintenance:
                readonly:
                  enabled: true
            """);

        var storage = result.Configuration.Storage;
        Assert.Equal("filesystem", storage.Driver);
        Assert.Equal("/var/lib/registry", storage.Filesystem.RootDirectory);
        Assert.True(storage.Delete.Enabled);
        Assert.True(storage.Redirect.Disable);
        Assert.Equal("inmemory", storage.Cache.BlobDescriptor);
        Assert.True(storage.Maintenance.ReadOnly.Enabled);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Load_S3Storage_BindsParametersAndDistributionDefaults()
    {
        var result = LoadYaml("""
            version: 0.1
            storage:
              s3:
                accesskey: AKIAEXAMPLE
                secretkey: secret
                region: us-east-1
                regionendpoint: http://minio:9000
                bucket: registry
                rootdirectory: /prefix
                forcepathstyle: true
                skipverify: true
                chunksize: 20971520
                storageclass: reduced_redundancy
                loglevel: off
            """);

        var storage = result.Configuration.Storage;
        Assert.Equal("s3", storage.Driver);
        var s3 = Assert.IsType<S3StorageOptions>(storage.S3);
        Assert.Equal("AKIAEXAMPLE", s3.AccessKey);
        Assert.Equal("secret", s3.SecretKey);
        Assert.Equal("us-east-1", s3.Region);
        Assert.Equal("http://minio:9000", s3.RegionEndpoint);
        Assert.Equal("registry", s3.Bucket);
        Assert.Equal("/prefix", s3.RootDirectory);
        Assert.True(s3.ForcePathStyle);
        Assert.True(s3.SkipVerify);
        Assert.True(s3.Secure);
        Assert.True(s3.V4Auth);
        Assert.Equal(20 * 1024 * 1024, s3.ChunkSize);
        Assert.Equal(32 * 1024 * 1024, s3.MultipartCopyThresholdSize);
        Assert.Equal("REDUCED_REDUNDANCY", s3.StorageClass);
        Assert.Equal("private", s3.ObjectAcl);
        Assert.Equal("/var/lib/registry", storage.Filesystem.RootDirectory);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Load_S3WithEndpointButNoRegion_IsAccepted()
    {
        var s3 = LoadYaml("version: 0.1\nstorage:\n  s3:\n    regionendpoint: http://minio:9000\n    bucket: b\n").Configuration.Storage.S3;

        Assert.NotNull(s3);
        Assert.Null(s3.Region);
    }

    [Fact]
    public void Load_HtpasswdAuth_BindsRealmAndPath()
    {
        var auth = LoadYaml("""
            version: 0.1
            auth:
              htpasswd:
                realm: basic-realm
                path: /auth/htpasswd
            """).Configuration.Auth;

        Assert.Equal("htpasswd", auth.Type);
        Assert.Equal("basic-realm", auth.Htpasswd?.Realm);
        Assert.Equal("/auth/htpasswd", auth.Htpasswd?.Path);
        Assert.Null(auth.Token);
    }

    [Fact]
    public void Load_TokenAuth_BindsParameters()
    {
        var auth = LoadYaml("""
            version: 0.1
            auth:
              token:
                realm: https://auth.example.com/token
                service: registry.example.com
                issuer: auth.example.com
                rootcertbundle: /certs/bundle.pem
                autoredirect: true
                signingalgorithms: [RS256, ES256]
            """).Configuration.Auth;

        Assert.Equal("token", auth.Type);
        var token = Assert.IsType<TokenAuthOptions>(auth.Token);
        Assert.Equal("https://auth.example.com/token", token.Realm);
        Assert.Equal("registry.example.com", token.Service);
        Assert.Equal("auth.example.com", token.Issuer);
        Assert.Equal("/certs/bundle.pem", token.RootCertBundle);
        Assert.True(token.AutoRedirect);
        Assert.Equal("/auth/token", token.AutoRedirectPath);
        Assert.Equal(["RS256", "ES256"], token.SigningAlgorithms);
    }

    [Fact]
    public void Load_NotificationEndpoints_BindsListWithDefaults()
    {
        var notifications = LoadYaml("""
            version: 0.1
            notifications:
              events:
                includereferences: false
              endpoints:
                - name: alistener
                  url: https://listener.example.com/event
                  headers:
                    Authorization: [Bearer abc]
                  timeout: 500ms
                  ignore:
                    actions: [pull]
                - name: second
                  disabled: true
                  url: http://other.example.com/
            """).Configuration.Notifications;

        Assert.Equal(2, notifications.Endpoints.Count);
        var first = notifications.Endpoints[0];
        Assert.Equal("alistener", first.Name);
        Assert.Equal(new Uri("https://listener.example.com/event"), first.Url);
        Assert.Equal(["Bearer abc"], first.Headers["authorization"]);
        Assert.Equal(TimeSpan.FromMilliseconds(500), first.Timeout);
        Assert.Equal(10, first.Threshold);
        Assert.Equal(TimeSpan.FromSeconds(1), first.Backoff);
        Assert.Equal(["pull"], first.Ignore.Actions);
        Assert.True(notifications.Endpoints[1].Disabled);
        Assert.Equal(TimeSpan.FromSeconds(1), notifications.Endpoints[1].Timeout);
    }

    [Fact]
    public void Load_Registry2RedisKeys_BindsTheServerAndWarnsAboutThePool()
    {
        var result = LoadYaml("""
            version: 0.1
            redis:
              addr: localhost:6379
              password: asecret
              db: 2
              dialtimeout: 10ms
              pool:
                maxidle: 16
                maxactive: 64
                idletimeout: 300s
            """);
        var redis = result.Configuration.Redis;

        Assert.True(redis.IsConfigured);
        Assert.Equal(["localhost:6379"], redis.Addrs);
        Assert.Equal("asecret", redis.Password);
        Assert.Equal(2, redis.Db);
        Assert.Equal(TimeSpan.FromMilliseconds(10), redis.DialTimeout);
        // One multiplexed connection per server: there is no pool for these to size.
        Assert.StartsWith("redis.pool: ", Assert.Single(result.Warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_RedisBlobDescriptorCacheWithRedis_IsAccepted()
    {
        var config = LoadYaml("""
            version: 0.1
            storage:
              cache:
                blobdescriptor: redis
            redis:
              addrs: [redis-1:6379, redis-2:6379]
            """).Configuration;

        Assert.Equal("redis", config.Storage.Cache.BlobDescriptor);
        Assert.Equal(["redis-1:6379", "redis-2:6379"], config.Redis.Addrs);
    }

    [Fact]
    public void Load_StorageDriverHealthCheck_BindsWithDefaultInterval()
    {
        var health = LoadYaml("""
            version: 0.1
            health:
              storagedriver:
                enabled: true
                threshold: 3
              file: []
            """).Configuration.Health;

        Assert.True(health.StorageDriver.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(10), health.StorageDriver.Interval);
        Assert.Equal(3, health.StorageDriver.Threshold);
    }

    [Theory]
    [InlineData("file", "- file: /tmp/down")]
    [InlineData("http", "- uri: http://upstream:8080/health")]
    [InlineData("tcp", "- addr: redis:6379")]
    public void Load_FileHttpOrTcpHealthCheck_IsRefused(string kind, string check)
    {
        // A load balancer that drains a replica through one of these would keep it in rotation if it were ignored.
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml($"version: 0.1\nhealth:\n  {kind}:\n    {check}\n"));

        Assert.Equal($"health.{kind}", exception.Key);
        Assert.Contains("health.storagedriver", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ProxySection_BindsUpstreamAndTtl()
    {
        var proxy = LoadYaml("""
            version: 0.1
            proxy:
              remoteurl: https://registry-1.docker.io
              username: user
              password: pass
              ttl: 72h
            """).Configuration.Proxy;

        Assert.True(proxy.Enabled);
        Assert.Equal(new Uri("https://registry-1.docker.io"), proxy.RemoteUrl);
        Assert.Equal("user", proxy.Username);
        Assert.Equal(TimeSpan.FromHours(72), proxy.Ttl);
        Assert.Null(proxy.Exec);
    }

    [Fact]
    public void Load_ValidationRulesWhileDisabled_WarnsThatTheyHaveNoEffect()
    {
        var result = LoadYaml("""
            version: 0.1
            validation:
              disabled: true
              manifests:
                urls:
                  allow:
                    - ^https?://([^/]+\.)*example\.com/
                indexes:
                  platforms: List
                  platformlist:
                    - architecture: amd64
                      os: linux
            """);

        Assert.False(result.Configuration.Validation.Enabled);
        Assert.Equal(
            ["validation.disabled", "validation.manifests.urls.allow", "validation.manifests.indexes.platforms", "validation.manifests.indexes.platformlist"],
            result.Warnings.Select(warning => warning[..warning.IndexOf(':', StringComparison.Ordinal)]));
    }

    [Theory]
    [InlineData("urls:\n      allow: ['^https://example\\.com/']", "validation.manifests.urls.allow")]
    [InlineData("urls:\n      deny: ['^http://']", "validation.manifests.urls.deny")]
    [InlineData("indexes:\n      platforms: none", "validation.manifests.indexes.platforms")]
    [InlineData("indexes:\n      platformlist: [{os: linux, architecture: amd64}]", "validation.manifests.indexes.platformlist")]
    public void Load_ValidationRuleWhileEnabled_IsRefused(string rule, string key)
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml($"version: 0.1\nvalidation:\n  manifests:\n    {rule}\n"));

        Assert.Equal(key, exception.Key);
    }

    [Theory]
    [InlineData("0", 1000)]
    [InlineData("-5", 1000)]
    [InlineData("50", 50)]
    public void Load_CatalogMaxEntries_NonPositiveMeansDefault(string value, int expected)
    {
        var config = LoadYaml($"version: 0.1\ncatalog:\n  maxentries: {value}\n").Configuration;

        Assert.Equal(expected, config.Catalog.MaxEntries);
    }

    [Fact]
    public void Load_DeprecatedTopLevelLoglevel_IsUsedWithWarning()
    {
        var result = LoadYaml("version: 0.1\nloglevel: Debug\n");

        Assert.Equal("debug", result.Configuration.Log.Level);
        Assert.Contains(result.Warnings, warning => warning.StartsWith("loglevel: deprecated", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_YamlMergeKeys_AreApplied()
    {
        var config = LoadYaml("""
            version: 0.1
            x-common: &common
              enabled: true
            storage:
              delete:
                <<: *common
            """);

        Assert.True(config.Configuration.Storage.Delete.Enabled);
    }

    [Theory]
    [InlineData("version: 0.1")]
    [InlineData("version: '0.1'")]
    [InlineData("version: \"0.1\"")]
    public void Load_VersionZeroPointOne_IsAccepted(string version)
    {
        var result = LoadYaml(version + "\n");

        Assert.Equal("0.1", result.Configuration.Version);
    }

    [Theory]
    [InlineData("http:\n  addr: :5000\n")]
    [InlineData("")]
    [InlineData("version:\n")]
    public void Load_FileWithoutVersion_Throws(string yaml)
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml(yaml));

        Assert.Equal("version", exception.Key);
        Assert.StartsWith("version: required", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.2")]
    [InlineData("0.10")]
    [InlineData("1.0")]
    public void Load_UnsupportedVersion_Throws(string version)
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml($"version: {version}\n"));

        Assert.Equal("version", exception.Key);
        Assert.Contains($"'{version}'", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_InvalidYaml_ThrowsWithFileAndLine()
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml("version: 0.1\nhttp:\n  addr: [unclosed\n"));

        Assert.StartsWith("config.yml line ", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("version: 0.1\nstorage: {filesystem: {rootdirectory: /data}\nhttp: {addr: :5000}\n")]
    [InlineData("version: 0.1\nstorage: {filesystem: {rootdirectory: /data}")]
    [InlineData("version: 0.1\nhttp: [\"a\", {b: c\n")]
    public void Load_UnclosedFlowCollection_ThrowsConfigurationErrorNotACrash(string yaml)
    {
        // YamlDotNet's scanner reports some of these with InvalidOperationException rather than YamlException.
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml(yaml));

        Assert.Contains("invalid YAML", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_DuplicateKey_Throws()
    {
        Assert.Throws<ConfigurationException>(() => LoadYaml("version: 0.1\nhttp:\n  addr: :1\n  addr: :2\n"));
    }

    [Fact]
    public void Load_FileThatIsNotAMapping_Throws()
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml("- version\n- 0.1\n"));

        Assert.Contains("mapping", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Storage_mount_automatic_can_be_turned_off_and_is_not_a_driver()
    {
        var result = LoadYaml("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /srv\n  mount:\n    automatic: false\n");

        Assert.False(result.Configuration.Storage.Mount.Automatic);
        Assert.Equal("filesystem", result.Configuration.Storage.Driver);
        Assert.Empty(result.Warnings);
    }
}
