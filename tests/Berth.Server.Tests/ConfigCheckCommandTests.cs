using Berth.Server.Configuration;
using Berth.Server.Tests.Configuration;
using YamlDotNet.RepresentationModel;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests;

/// <summary><c>berth config check</c>: the same loader as <c>serve</c>, the effective YAML, masking, warnings and exit codes.</summary>
public sealed class ConfigCheckCommandTests
{
    private const string S3SecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9s8Q";
    private const string S3AccessKey = "AKIAQ3EGQ7ZZXQ5ZR2LQ";
    private const string HttpSecret = "upload-state-signing-secret-4711";
    private const string RedisPassword = "redis-pass-0815";
    private const string NotificationToken = "Bearer hook-token-31337";

    private static readonly string SecretsYaml = $"""
        version: 0.1
        storage:
          s3:
            region: us-east-1
            regionendpoint: http://127.0.0.1:9000
            bucket: registry
            accesskey: {S3AccessKey}
            secretkey: {S3SecretKey}
        http:
          addr: 127.0.0.1:5000
          secret: {HttpSecret}
        redis:
          addr: 127.0.0.1:6379
          password: {RedisPassword}
        notifications:
          endpoints:
            - name: audit
              url: http://127.0.0.1:8080/events
              headers:
                Authorization: ["{NotificationToken}"]
                Content-Type: [application/json]

        """;

    private sealed record CheckResult(int ExitCode, string Output, string Error)
    {
        public YamlMappingNode Yaml
        {
            get
            {
                var stream = new YamlStream();
                using var reader = new StringReader(Output);
                stream.Load(reader);
                return (YamlMappingNode)stream.Documents[0].RootNode;
            }
        }
    }

    private static async Task<CheckResult> CheckAsync(string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await ConfigCheckCommand.RunAsync(args, environment ?? NoEnvironment, output, error, CancellationToken.None);
        return new CheckResult(exitCode, output.ToString(), error.ToString());
    }

    private static async Task<CheckResult> CheckYamlAsync(string yaml, IReadOnlyDictionary<string, string>? environment = null, params string[] options)
    {
        using var file = new TemporaryConfigFile(yaml);
        return await CheckAsync(["check", .. options, file.Path], environment);
    }

    private static string At(YamlMappingNode root, string dottedPath)
    {
        YamlNode node = root;
        foreach (var segment in dottedPath.Split('.'))
        {
            node = node switch
            {
                YamlMappingNode mapping => mapping.Children[new YamlScalarNode(segment)],
                YamlSequenceNode sequence => sequence.Children[int.Parse(segment, System.Globalization.CultureInfo.InvariantCulture)],
                _ => throw new KeyNotFoundException($"{dottedPath}: '{segment}' is below a scalar"),
            };
        }

        return ((YamlScalarNode)node).Value ?? "";
    }

    [Fact]
    public async Task Check_ValidFileWithSecrets_PrintsEffectiveYamlWithEverySecretMasked()
    {
        var result = await CheckYamlAsync(SecretsYaml);

        Assert.Equal(0, result.ExitCode);
        foreach (var secret in new[] { S3SecretKey, S3AccessKey, HttpSecret, RedisPassword, NotificationToken, "hook-token" })
        {
            Assert.DoesNotContain(secret, result.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, result.Error, StringComparison.Ordinal);
        }

        var yaml = result.Yaml;
        Assert.Equal(ConfigCheckCommand.Mask, At(yaml, "storage.s3.secretkey"));
        // The first characters of an access key say which account it is without giving the key away.
        Assert.Equal("AKIA" + ConfigCheckCommand.Mask, At(yaml, "storage.s3.accesskey"));
        Assert.Equal(ConfigCheckCommand.Mask, At(yaml, "http.secret"));
        Assert.Equal(ConfigCheckCommand.Mask, At(yaml, "redis.password"));
        Assert.Equal(ConfigCheckCommand.Mask, At(yaml, "notifications.endpoints.0.headers.Authorization.0"));
        Assert.Equal("application/json", At(yaml, "notifications.endpoints.0.headers.Content-Type.0"));
        // What is not secret stays readable, defaults filled in.
        Assert.Equal("registry", At(yaml, "storage.s3.bucket"));
        Assert.Equal("127.0.0.1:6379", At(yaml, "redis.addrs.0"));
        Assert.Equal("10485760", At(yaml, "storage.s3.chunksize"));
        Assert.Contains("configuration is valid", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_EnvironmentOverrides_AreAppliedAsServeAppliesThem()
    {
        var environment = Environment(
            ("REGISTRY_HTTP_ADDR", "127.0.0.1:6001"),
            ("REGISTRY_STORAGE_DELETE_ENABLED", "true"),
            ("REGISTRY_HTTP_SECRET", "from-the-environment-secret"));

        // A root that does not exist yet under a writable parent: serve would create it, the check creates nothing.
        var root = Path.Combine(Path.GetTempPath(), $"berth-check-root-{Guid.NewGuid():N}", "registry");
        var result = await CheckYamlAsync($"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root}\n", environment);

        Assert.Equal(0, result.ExitCode);
        var yaml = result.Yaml;
        Assert.Equal("127.0.0.1:6001", At(yaml, "http.addr"));
        Assert.Equal("true", At(yaml, "storage.delete.enabled"));
        Assert.Equal(root, At(yaml, "storage.filesystem.rootdirectory"));
        Assert.False(Directory.Exists(Path.GetDirectoryName(root)));
        Assert.Equal(ConfigCheckCommand.Mask, At(yaml, "http.secret"));
        Assert.DoesNotContain("from-the-environment-secret", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_NoFileButConfigurationPathVariable_LoadsThatFile()
    {
        using var file = new TemporaryConfigFile("version: 0.1\nhttp:\n  addr: 127.0.0.1:6002\nstorage:\n  inmemory: {}\n");

        var result = await CheckAsync(["check"], Environment(("REGISTRY_CONFIGURATION_PATH", file.Path)));

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("127.0.0.1:6002", At(result.Yaml, "http.addr"));
        Assert.Contains(file.Path, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_UnknownKeys_WarnsNamingThemAndStillExitsZero()
    {
        var result = await CheckYamlAsync("version: 0.1\nhttp:\n  addr: 127.0.0.1:5000\n  tlss: {}\nstorage:\n  inmemory: {}\n  delete:\n    Enabled: true\n");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("warning: http.tlss: unknown configuration key", result.Error, StringComparison.Ordinal);
        Assert.Contains("warning: storage.delete.Enabled: unknown configuration key", result.Error, StringComparison.Ordinal);
        Assert.Contains("did you mean 'enabled'", result.Error, StringComparison.Ordinal);
        Assert.Contains("with 2 warnings", result.Error, StringComparison.Ordinal);
        Assert.Equal("false", At(result.Yaml, "storage.delete.enabled"));
    }

    [Fact]
    public async Task Check_StrictWithWarnings_ExitsOne()
    {
        var result = await CheckYamlAsync("version: 0.1\nhttp:\n  tlss: {}\nstorage:\n  inmemory: {}\n", options: "--strict");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("http.tlss", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_StrictWithoutWarnings_ExitsZero()
    {
        var result = await CheckYamlAsync("version: 0.1\nhttp:\n  addr: 127.0.0.1:5000\nstorage:\n  inmemory: {}\n", options: "--strict");

        Assert.Equal(0, result.ExitCode);
        Assert.DoesNotContain("warning:", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_TlsVersionServeRaises_WarnsAsServeDoes()
    {
        using var pki = new Security.TestPki();
        var (certificate, key, _) = pki.Server("server");

        var result = await CheckYamlAsync(
            $"version: 0.1\nstorage:\n  inmemory: {{}}\nhttp:\n  tls:\n    certificate: {certificate}\n    key: {key}\n    minimumtls: tls1.0\n", options: "--strict");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("warning: http.tls.minimumtls: tls1.0 is not offered; Berth serves TLS 1.2 and 1.3 only", result.Error, StringComparison.Ordinal);
        Assert.Contains("with 1 warning", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("version: 0.1\nstorage:\n  delete:\n    enabled: maybe\n", "storage.delete.enabled")]
    [InlineData("version: 0.1\nhttp:\n  tls:\n    certificate: /etc/cert.pem\n", "http.tls.key")]
    [InlineData("version: 0.1\nstorage:\n  s3:\n    bucket: b\n", "storage.s3.region")]
    [InlineData("version: 0.2\n", "version")]
    public async Task Check_InvalidValue_ExitsOneNamingTheKeyAndPrintsNoConfiguration(string yaml, string key)
    {
        var result = await CheckYamlAsync(yaml);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"berth: configuration error: {key}:", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task Check_InvalidEnvironmentVariable_NamesTheKeyAndTheVariable()
    {
        var result = await CheckYamlAsync("version: 0.1\n", Environment(("REGISTRY_STORAGE_DELETE_ENABLED", "sometimes")));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("storage.delete.enabled", result.Error, StringComparison.Ordinal);
        Assert.Contains("REGISTRY_STORAGE_DELETE_ENABLED", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_MissingFile_ExitsOneNamingTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"berth-absent-{Guid.NewGuid():N}.yml");

        var result = await CheckAsync(["check", path]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(path, result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("verify")]
    [InlineData("check --frobnicate")]
    [InlineData("check a.yml b.yml")]
    public async Task Check_BadUsage_ExitsTwoWithUsage(string commandLine)
    {
        var result = await CheckAsync(commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Usage: berth config check", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void RenderEffectiveYaml_LoadedAgain_GivesTheSameEffectiveConfigurationWithoutWarnings()
    {
        // Without secrets (masks cannot load back), every section the printer writes must be a valid config.yml.
        var original = LoadYaml("""
            version: 0.1
            log:
              level: debug
              formatter: json
            storage:
              filesystem:
                rootdirectory: /srv/registry
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  age: 90m
                readonly:
                  enabled: true
            http:
              addr: 127.0.0.1:5000
              relativeurls: true
              headers:
                X-Content-Type-Options: [nosniff]
              debug:
                addr: 127.0.0.1:5001
                prometheus:
                  enabled: true
            notifications:
              endpoints:
                - name: audit
                  url: http://127.0.0.1:8080/events
                  timeout: 500ms
                  ignore:
                    actions: [pull]
            health:
              storagedriver:
                enabled: true
                interval: 30s
            retention:
              dryrun: true
              rules:
                - repositories: ["team/**"]
                  keep: {latest: 5, pulledwithin: 720h, tags: ["v*"]}
                  untagged: 48h
            immutabletags:
              - repositories: ["prod/**"]
                tags: ["v*", "stable"]

            """);
        Assert.Empty(original.Warnings);
        var printed = ConfigCheckCommand.RenderEffectiveYaml(original.Configuration);

        var reloaded = LoadYaml(printed);

        Assert.Empty(reloaded.Warnings);
        Assert.Equal(printed, ConfigCheckCommand.RenderEffectiveYaml(reloaded.Configuration));
        Assert.Equal(TimeSpan.FromMinutes(90), reloaded.Configuration.Storage.Maintenance.UploadPurging.Age);
        Assert.Equal(TimeSpan.FromSeconds(30), reloaded.Configuration.Health.StorageDriver.Interval);
        Assert.True(reloaded.Configuration.Http.RelativeUrls);
        Assert.True(reloaded.Configuration.Storage.Maintenance.ReadOnly.Enabled);
    }

    [Fact]
    public void RenderEffectiveYaml_AccessRulesWithHtpasswd_PrintsRulesThatLoadAgain()
    {
        var original = LoadYaml("""
            version: 0.1
            auth:
              htpasswd:
                realm: Registry
                path: /etc/registry/htpasswd
            access:
              groups:
                devs: [alice, bob]
              rules:
                - repositories: ["team/**"]
                  groups: [devs]
                  actions: [pull, push]

            """);
        var printed = ConfigCheckCommand.RenderEffectiveYaml(original.Configuration);

        var reloaded = LoadYaml(printed);

        Assert.Equal(printed, ConfigCheckCommand.RenderEffectiveYaml(reloaded.Configuration));
        var rule = Assert.Single(reloaded.Configuration.Access.Rules);
        Assert.Equal("team/**", Assert.Single(rule.Repositories).ToString());
        Assert.Equal(Berth.Auth.RepositoryActions.Pull | Berth.Auth.RepositoryActions.Push, rule.Actions);
        Assert.Equal("/etc/registry/htpasswd", reloaded.Configuration.Auth.Htpasswd?.Path);
    }

    [Theory]
    [InlineData(0, 0, 0, 0, "0s")]
    [InlineData(168, 0, 0, 0, "168h")]
    [InlineData(0, 1, 30, 0, "1m30s")]
    [InlineData(0, 0, 0, 500, "500ms")]
    [InlineData(25, 0, 1, 0, "25h1s")]
    public void FormatGoDuration_PrintsWithoutZeroUnits(int hours, int minutes, int seconds, int milliseconds, string expected)
    {
        var duration = new TimeSpan(0, hours, minutes, seconds, milliseconds);

        Assert.Equal(expected, ConfigCheckCommand.FormatGoDuration(duration));
        Assert.True(GoDurationParses(expected, duration));
    }

    private static bool GoDurationParses(string text, TimeSpan expected) =>
        GoDuration.TryParse(text, out var parsed) && parsed == expected;
}
