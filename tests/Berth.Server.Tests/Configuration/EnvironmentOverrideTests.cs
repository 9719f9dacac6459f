using Berth.Server.Configuration;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Configuration;

public sealed class EnvironmentOverrideTests
{
    private const string FilesystemConfig = """
        version: 0.1
        storage:
          filesystem:
            rootdirectory: /from/file
        http:
          addr: :5000
          secret: file-secret
        """;

    [Fact]
    public void Load_LeafVariable_OverridesFileValueAndKeepsSiblings()
    {
        var result = LoadYaml(FilesystemConfig, Environment(("REGISTRY_HTTP_ADDR", ":6000")));

        Assert.Equal(":6000", result.Configuration.Http.Addr);
        Assert.Equal("file-secret", result.Configuration.Http.Secret);
        Assert.Equal("/from/file", result.Configuration.Storage.Filesystem.RootDirectory);
        Assert.Empty(result.Warnings);
    }

    [Theory]
    [InlineData("{unclosed")]
    [InlineData("[a, {b: c")]
    [InlineData("{filesystem: {rootdirectory: /data}")]
    public void Load_ValueThatIsNotYaml_IsTakenAsText(string value)
    {
        var result = LoadYaml(FilesystemConfig, Environment(("REGISTRY_HTTP_SECRET", value)));

        Assert.Equal(value, result.Configuration.Http.Secret);
    }

    [Fact]
    public void Load_VariablesWithoutFile_OverrideDefaults()
    {
        var config = LoadEnvironment(Environment(
            ("REGISTRY_HTTP_ADDR", ":6000"),
            ("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "/data"),
            ("REGISTRY_HTTP_SECRET", "s3cr3t"))).Configuration;

        Assert.Equal(":6000", config.Http.Addr);
        Assert.Equal("filesystem", config.Storage.Driver);
        Assert.Equal("/data", config.Storage.Filesystem.RootDirectory);
        Assert.Equal("s3cr3t", config.Http.Secret);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", false)]
    [InlineData("yes", true)]
    [InlineData("TRUE", true)]
    public void Load_BooleanVariable_IsParsedAsYaml(string value, bool expected)
    {
        var config = LoadEnvironment(Environment(("REGISTRY_STORAGE_DELETE_ENABLED", value))).Configuration;

        Assert.Equal(expected, config.Storage.Delete.Enabled);
    }

    [Fact]
    public void Load_IntegerVariable_IsParsedAsYaml()
    {
        var config = LoadEnvironment(Environment(("REGISTRY_CATALOG_MAXENTRIES", "200"))).Configuration;

        Assert.Equal(200, config.Catalog.MaxEntries);
    }

    [Fact]
    public void Load_StorageScalarVariable_ReplacesTheWholeSection()
    {
        var result = LoadYaml(FilesystemConfig, Environment(
            ("REGISTRY_STORAGE", "s3"),
            ("REGISTRY_STORAGE_S3_BUCKET", "registry"),
            ("REGISTRY_STORAGE_S3_REGION", "eu-west-1")));

        var storage = result.Configuration.Storage;
        Assert.Equal("s3", storage.Driver);
        Assert.Equal("registry", storage.S3?.Bucket);
        Assert.Equal("eu-west-1", storage.S3?.Region);
        // The file's filesystem section went with the rest of the replaced section.
        Assert.Equal("/var/lib/registry", storage.Filesystem.RootDirectory);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Load_StorageScalarVariable_DropsFileKeysThatAreNotDrivers()
    {
        var yaml = "version: 0.1\nstorage:\n  filesystem: {}\n  delete:\n    enabled: true\n";

        var config = LoadYaml(yaml, Environment(("REGISTRY_STORAGE", "inmemory"))).Configuration;

        Assert.Equal("inmemory", config.Storage.Driver);
        Assert.False(config.Storage.Delete.Enabled);
    }

    [Fact]
    public void Load_AuthScalarVariable_ReplacesSectionAndDeeperVariablesFillIt()
    {
        var yaml = """
            version: 0.1
            auth:
              token:
                realm: https://auth/token
                service: s
                issuer: i
                jwks: /jwks.json
            """;

        var auth = LoadYaml(yaml, Environment(
            ("REGISTRY_AUTH", "htpasswd"),
            ("REGISTRY_AUTH_HTPASSWD_REALM", "Registry Realm"),
            ("REGISTRY_AUTH_HTPASSWD_PATH", "/auth/htpasswd"))).Configuration.Auth;

        Assert.Equal("htpasswd", auth.Type);
        Assert.Equal("Registry Realm", auth.Htpasswd?.Realm);
        Assert.Equal("/auth/htpasswd", auth.Htpasswd?.Path);
        Assert.Null(auth.Token);
    }

    [Fact]
    public void Load_AuthParametersWithoutSection_CreateTheSection()
    {
        var auth = LoadEnvironment(Environment(
            ("REGISTRY_AUTH_HTPASSWD_REALM", "basic-realm"),
            ("REGISTRY_AUTH_HTPASSWD_PATH", "/auth/htpasswd"))).Configuration.Auth;

        Assert.Equal("htpasswd", auth.Type);
        Assert.Equal("basic-realm", auth.Htpasswd?.Realm);
    }

    [Fact]
    public void Load_SectionVariableWithMappingValue_ReplacesSectionAndDeeperVariablesWin()
    {
        var config = LoadYaml(FilesystemConfig, Environment(
            ("REGISTRY_HTTP", "{addr: ':7000', relativeurls: true}"),
            ("REGISTRY_HTTP_ADDR", ":6000"))).Configuration;

        Assert.Equal(":6000", config.Http.Addr);
        Assert.True(config.Http.RelativeUrls);
        Assert.Null(config.Http.Secret);
    }

    [Theory]
    [InlineData("REGISTRY_HTTP_RELATIVEURLS")]
    [InlineData("REGISTRY_http_relativeurls")]
    [InlineData("REGISTRY_Http_RelativeUrls")]
    public void Load_KeySegments_MatchCaseInsensitively(string name)
    {
        var result = LoadEnvironment(Environment((name, "true")));

        Assert.True(result.Configuration.Http.RelativeUrls);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Load_LowerCasePrefix_IsNotARegistryVariable()
    {
        var result = LoadEnvironment(Environment(("registry_http_addr", ":6000")));

        Assert.Equal(":5000", result.Configuration.Http.Addr);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Load_VariableForSecondDriver_ThrowsBecauseTwoDriversAreConfigured()
    {
        var exception = Assert.Throws<ConfigurationException>(
            () => LoadYaml(FilesystemConfig, Environment(("REGISTRY_STORAGE_S3_BUCKET", "b"))));

        Assert.Equal("storage", exception.Key);
        Assert.Contains("filesystem, s3", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_FlowSequenceVariable_IsParsedAsList()
    {
        var config = LoadEnvironment(Environment(("REGISTRY_HTTP_TLS_CLIENTCAS", "[/a.pem, /b.pem]"))).Configuration;

        Assert.Equal(["/a.pem", "/b.pem"], config.Http.Tls.ClientCas);
    }

    [Fact]
    public void Load_IndexedVariables_ReplaceAndAppendListItems()
    {
        var yaml = "version: 0.1\nhttp:\n  tls:\n    clientcas: [/file-0.pem, /file-1.pem]\n";

        var config = LoadYaml(yaml, Environment(
            ("REGISTRY_HTTP_TLS_CLIENTCAS_1", "/env-1.pem"),
            ("REGISTRY_HTTP_TLS_CLIENTCAS_2", "/env-2.pem"))).Configuration;

        Assert.Equal(["/file-0.pem", "/env-1.pem", "/env-2.pem"], config.Http.Tls.ClientCas);
    }

    [Fact]
    public void Load_IndexedVariablesInsideListItems_SetItemKeys()
    {
        var config = LoadEnvironment(Environment(
            ("REGISTRY_NOTIFICATIONS_ENDPOINTS_0_NAME", "hook"),
            ("REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL", "https://hooks.example.com/registry"),
            ("REGISTRY_NOTIFICATIONS_ENDPOINTS_0_TIMEOUT", "2s"))).Configuration;

        var endpoint = Assert.Single(config.Notifications.Endpoints);
        Assert.Equal("hook", endpoint.Name);
        Assert.Equal(new Uri("https://hooks.example.com/registry"), endpoint.Url);
        Assert.Equal(TimeSpan.FromSeconds(2), endpoint.Timeout);
    }

    [Fact]
    public void Load_IndexPastTheEndOfTheList_Throws()
    {
        var exception = Assert.Throws<ConfigurationException>(
            () => LoadEnvironment(Environment(("REGISTRY_HTTP_TLS_CLIENTCAS_3", "/a.pem"))));

        Assert.Equal("http.tls.clientcas.3", exception.Key);
        Assert.Contains("REGISTRY_HTTP_TLS_CLIENTCAS_3", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MapVariables_AddLowerCaseKeysAndOverrideExistingOnesCaseInsensitively()
    {
        var yaml = "version: 0.1\nhttp:\n  headers:\n    Service: [from-file]\n";

        var headers = LoadYaml(yaml, Environment(
            ("REGISTRY_HTTP_HEADERS_SERVICE", "from-env"),
            ("REGISTRY_HTTP_HEADERS_ENVIRONMENT", "staging"))).Configuration.Http.Headers;

        Assert.Equal(["Service", "environment"], headers.Keys);
        Assert.Equal(["from-env"], headers["Service"]);
        Assert.Equal(["staging"], headers["environment"]);
    }

    [Fact]
    public void Load_GoFieldNamesInVariables_AreAcceptedWhereDistributionUsesThem()
    {
        var result = LoadEnvironment(Environment(
            ("REGISTRY_NOTIFICATIONS_EVENTCONFIG_INCLUDEREFERENCES", "false"),
            ("REGISTRY_REDIS_ADDRS", "[redis:6379]"),
            ("REGISTRY_REDIS_OPTIONS_PASSWORD", "password123")));

        // Every variable was read: none is reported as naming no key.
        Assert.Empty(result.Warnings);
        Assert.Equal("password123", result.Configuration.Redis.Password);

        // Berth has no TCP health checks, and says so about the variable rather than ignoring it as unknown.
        var exception = Assert.Throws<ConfigurationException>(() => LoadEnvironment(Environment(("REGISTRY_HEALTH_TCPCHECKERS_0_ADDR", "redis:6379"))));
        Assert.Equal("health.tcp", exception.Key);
    }

    [Fact]
    public void Load_UnknownVariables_AreWarnedAboutByName()
    {
        var result = LoadEnvironment(Environment(
            ("REGISTRY_DUCKS", "quack"),
            ("REGISTRY_HTTP_FOO", "1"),
            ("REGISTRY_HTTP_ADDR_PORT", "1")));

        Assert.Equal(3, result.Warnings.Count);
        Assert.Contains(result.Warnings, warning => warning.StartsWith("REGISTRY_DUCKS: ignored", StringComparison.Ordinal) && warning.Contains("'ducks'", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, warning => warning.StartsWith("REGISTRY_HTTP_FOO: ignored", StringComparison.Ordinal) && warning.Contains("'http.foo'", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, warning => warning.StartsWith("REGISTRY_HTTP_ADDR_PORT: ignored", StringComparison.Ordinal));
        Assert.Equal(":5000", result.Configuration.Http.Addr);
    }

    [Fact]
    public void Load_ConfigurationPathVariable_IsNotReportedAsUnknown()
    {
        using var file = new TemporaryConfigFile("version: 0.1\n");

        var result = ConfigurationLoader.Load(file.Path, Environment(("REGISTRY_CONFIGURATION_PATH", file.Path)));

        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Load_VersionVariable_IsIgnoredWithWarning()
    {
        var result = LoadYaml("version: 0.1\n", Environment(("REGISTRY_VERSION", "0.2")));

        Assert.Equal("0.1", result.Configuration.Version);
        Assert.Contains(result.Warnings, warning => warning.StartsWith("version: the configuration version cannot be set from the environment", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_InvalidVariableValue_ThrowsNamingKeyAndVariable()
    {
        var exception = Assert.Throws<ConfigurationException>(
            () => LoadEnvironment(Environment(("REGISTRY_STORAGE_DELETE_ENABLED", "maybe"))));

        Assert.Equal("storage.delete.enabled", exception.Key);
        Assert.Equal("storage.delete.enabled: expected a boolean, got 'maybe' (from REGISTRY_STORAGE_DELETE_ENABLED)", exception.Message);
    }

    [Theory]
    [InlineData("REGISTRY_LOG_ACCESSLOG", "log.accesslog")]
    [InlineData("REGISTRY_STORAGE_FILESYSTEM", "storage.filesystem")]
    [InlineData("REGISTRY_HTTP_HEADERS", "http.headers")]
    [InlineData("REGISTRY_NOTIFICATIONS_ENDPOINTS", "notifications.endpoints")]
    public void Load_ScalarVariableForASection_Throws(string name, string key)
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml(FilesystemConfig, Environment((name, "somestring"))));

        Assert.Equal(key, exception.Key);
    }

    [Fact]
    public void Load_ValueThatIsNotValidYaml_IsKeptVerbatim()
    {
        var config = LoadEnvironment(Environment(("REGISTRY_HTTP_SECRET", "*not-an-alias%"))).Configuration;

        Assert.Equal("*not-an-alias%", config.Http.Secret);
    }

    [Fact]
    public void Load_QuotedVariableValue_IsUnquotedLikeYaml()
    {
        var config = LoadEnvironment(Environment(("REGISTRY_HTTP_SECRET", "'a: b'"))).Configuration;

        Assert.Equal("a: b", config.Http.Secret);
    }

    [Fact]
    public void Load_EmptyVariable_ResetsTheKeyToItsDefault()
    {
        var config = LoadYaml(FilesystemConfig, Environment(("REGISTRY_HTTP_SECRET", ""))).Configuration;

        Assert.Null(config.Http.Secret);
    }

    [Fact]
    public void Load_VariableForIgnoredSection_WarnsOnceAsUnsupported()
    {
        var result = LoadEnvironment(Environment(("REGISTRY_REPORTING_BUGSNAG_APIKEY", "k"), ("REGISTRY_REPORTING_BUGSNAG_ENDPOINT", "https://bugsnag.example.com")));

        var warning = Assert.Single(result.Warnings);
        Assert.StartsWith("reporting.bugsnag: error reporting to Bugsnag", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_VariableForRefusedSection_StopsNamingIt()
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadEnvironment(Environment(("REGISTRY_MIDDLEWARE_STORAGE_0_NAME", "cloudfront"))));

        Assert.Equal("middleware.storage", exception.Key);
    }
}
