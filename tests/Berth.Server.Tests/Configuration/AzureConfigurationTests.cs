using Berth.Server.Configuration;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Configuration;

/// <summary><c>storage.azure</c>: registry:2's keys, Distribution 3's, the variables, and what start-up refuses.</summary>
public sealed class AzureConfigurationTests
{
    private const string Registry2Config = "version: 0.1\nstorage:\n  azure:\n    accountname: registry\n    accountkey: a2V5\n    container: registry\n";

    [Fact]
    public void Load_Registry2Keys_SharedKeyOnThePublicCloudWithDefaults()
    {
        var result = LoadYaml(Registry2Config);

        var azure = Assert.IsType<AzureStorageOptions>(result.Configuration.Storage.Azure);
        Assert.Equal(StorageOptions.AzureDriver, result.Configuration.Storage.Driver);
        Assert.Equal(("registry", "a2V5", "registry", "core.windows.net"), (azure.AccountName, azure.AccountKey, azure.Container, azure.Realm));
        Assert.Equal(AzureStorageOptions.SharedKeyCredentials, azure.CredentialsType);
        Assert.Equal((5, TimeSpan.FromMilliseconds(100)), (azure.CopyStatusPollMaxRetry, azure.CopyStatusPollDelay));
        Assert.Null(azure.LegacyRootPrefix);
        Assert.Empty(result.Warnings);
        Assert.Equal(new Uri("https://registry.blob.core.windows.net"), AzureDriverFactory.Validate(azure).EffectiveServiceUrl);
    }

    [Fact]
    public void Load_Distribution3Keys_ClientSecretServiceUrlAndCopyPolling()
    {
        var result = LoadYaml("""
            version: 0.1
            storage:
              azure:
                accountname: registry
                container: images
                rootdirectory: /berth
                serviceurl: http://127.0.0.1:10000/devstoreaccount1
                credentials:
                  type: client_secret
                  clientid: app
                  tenantid: tenant
                  secret: s3cr3t
                max_retries: 9
                retry_delay: 250ms
                skipverify: true
                legacyrootprefix: false
            """);

        var azure = result.Configuration.Storage.Azure!;
        Assert.Equal(AzureStorageOptions.ClientSecretCredentials, azure.CredentialsType);
        Assert.Equal(("app", "tenant", "s3cr3t"), (azure.ClientId, azure.TenantId, azure.Secret));
        Assert.Equal(new Uri("http://127.0.0.1:10000/devstoreaccount1"), azure.ServiceUrl);
        Assert.Equal((9, TimeSpan.FromMilliseconds(250)), (azure.CopyStatusPollMaxRetry, azure.CopyStatusPollDelay));
        Assert.Equal("/berth", azure.RootDirectory);
        Assert.True(azure.SkipVerify);
        Assert.False(azure.LegacyRootPrefix);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Load_ReleaseCandidateCopyPollingKeys_AreHonoured()
    {
        var azure = LoadYaml(Registry2Config + "    copy_status_poll_max_retry: -1\n    copy_status_poll_delay: 1s\n").Configuration.Storage.Azure!;

        Assert.Equal((-1, TimeSpan.FromSeconds(1)), (azure.CopyStatusPollMaxRetry, azure.CopyStatusPollDelay));
    }

    [Fact]
    public void Load_EnvironmentVariables_OverrideEveryKeyIncludingThoseWithUnderscores()
    {
        var result = LoadYaml(Registry2Config, Environment(
            ("REGISTRY_STORAGE_AZURE_ACCOUNTKEY", "b3RoZXI="),
            ("REGISTRY_STORAGE_AZURE_CONTAINER", "other"),
            ("REGISTRY_STORAGE_AZURE_COPY_STATUS_POLL_MAX_RETRY", "7"),
            ("REGISTRY_STORAGE_AZURE_RETRY_DELAY", "3s"),
            ("REGISTRY_STORAGE_AZURE_CREDENTIALS_TYPE", "shared_key")));

        var azure = result.Configuration.Storage.Azure!;
        Assert.Equal(("b3RoZXI=", "other", 7, TimeSpan.FromSeconds(3)), (azure.AccountKey, azure.Container, azure.CopyStatusPollMaxRetry, azure.CopyStatusPollDelay));
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Load_EnvironmentOnly_SelectsTheDriver()
    {
        var result = LoadEnvironment(Environment(
            ("REGISTRY_STORAGE", "azure"),
            ("REGISTRY_STORAGE_AZURE_ACCOUNTNAME", "registry"),
            ("REGISTRY_STORAGE_AZURE_ACCOUNTKEY", "a2V5"),
            ("REGISTRY_STORAGE_AZURE_CONTAINER", "registry")));

        Assert.Equal(StorageOptions.AzureDriver, result.Configuration.Storage.Driver);
        Assert.Equal("registry", result.Configuration.Storage.Azure!.AccountName);
    }

    [Theory]
    [InlineData("    credentials:\n      type: default\n", "default_credentials")]
    [InlineData("    credentials:\n      type: default_credentials\n", "default_credentials")]
    public void Load_DefaultCredentials_BothSpellings(string credentials, string expected)
    {
        var result = LoadYaml("version: 0.1\nstorage:\n  azure:\n    accountname: registry\n    container: registry\n" + credentials);

        Assert.Equal(expected, result.Configuration.Storage.Azure!.CredentialsType);
    }

    [Fact]
    public void Load_AccountKeyBesideEntraCredentials_IsWarnedAboutAndUnused()
    {
        var result = LoadYaml(Registry2Config + "    credentials:\n      type: default_credentials\n");

        Assert.Null(result.Configuration.Storage.Azure!.AccountKey);
        Assert.Contains(result.Warnings, warning => warning.StartsWith("storage.azure.accountkey: not used with default_credentials", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_ClientSecretKeysBesideSharedKey_AreWarnedAboutNamingEachKey()
    {
        var result = LoadYaml(Registry2Config + "    credentials:\n      type: shared_key\n      clientid: app\n      secret: s3cret\n");

        Assert.Equal(AzureStorageOptions.SharedKeyCredentials, result.Configuration.Storage.Azure!.CredentialsType);
        Assert.Contains(result.Warnings, warning => warning.StartsWith("storage.azure.credentials.clientid: used only with client_secret", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, warning => warning.StartsWith("storage.azure.credentials.secret: used only with client_secret", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_BothSpellingsOfTheCopyPollingKeys_TheReleaseCandidateOneWinsAndTheOtherIsWarnedAbout()
    {
        var result = LoadYaml(Registry2Config + "    copy_status_poll_max_retry: 7\n    max_retries: 9\n    copy_status_poll_delay: 2s\n    retry_delay: 3s\n");

        var azure = result.Configuration.Storage.Azure!;
        Assert.Equal((7, TimeSpan.FromSeconds(2)), (azure.CopyStatusPollMaxRetry, azure.CopyStatusPollDelay));
        Assert.Contains(result.Warnings, warning => warning.StartsWith("storage.azure.max_retries: ignored", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, warning => warning.StartsWith("storage.azure.retry_delay: ignored", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("    accountname: registry\n    container: registry\n", "storage.azure.credentials.type", "required without storage.azure.accountkey")]
    [InlineData("    accountkey: a2V5\n    container: registry\n", "storage.azure.accountname", "required")]
    [InlineData("    accountname: registry\n    accountkey: a2V5\n", "storage.azure.container", "required")]
    [InlineData("    accountname: registry\n    accountkey: a2V5\n    container: My_Images\n", "storage.azure.container", "is not a container name")]
    [InlineData("    accountname: registry\n    container: registry\n    credentials:\n      type: oauth\n", "storage.azure.credentials.type", "expected one of")]
    [InlineData("    accountname: registry\n    container: registry\n    credentials:\n      type: shared_key\n", "storage.azure.accountkey", "required with shared_key")]
    [InlineData("    accountname: registry\n    accountkey: a2V5\n    container: registry\n    serviceurl: ftp://x\n", "storage.azure.serviceurl", "http or https")]
    [InlineData("    accountname: registry\n    accountkey: a2V5\n    container: registry\n    max_retries: -2\n", "storage.azure.max_retries", "-1")]
    [InlineData("    accountname: registry\n    accountkey: a2V5\n    container: registry\n    redirectexpiry: 200h\n", "storage.azure.redirectexpiry", "7 days")]
    [InlineData("    accountname: 'a b'\n    accountkey: a2V5\n    container: registry\n", "storage.azure.realm", "is not a host name")]
    public void Load_InvalidAzureSection_IsRefusedNamingTheKey(string section, string key, string detail)
    {
        var exception = Assert.Throws<ConfigurationException>(() => LoadYaml("version: 0.1\nstorage:\n  azure:\n" + section));

        Assert.Equal(key, exception.Key);
        Assert.Contains(detail, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_AccountKeyThatIsNotBase64_IsRefusedAsServeWouldRefuseIt()
    {
        var config = LoadYaml("version: 0.1\nstorage:\n  azure:\n    accountname: registry\n    accountkey: 'not base64!'\n    container: registry\n").Configuration;

        var exception = Assert.Throws<ConfigurationException>(() => StartupValidation.Validate(config));

        Assert.Equal("storage.azure.accountkey", exception.Key);
    }

    [Fact]
    public void RenderEffectiveYaml_MasksTheAccountKeyAndTheClientSecret()
    {
        var shared = ConfigCheckCommand.RenderEffectiveYaml(LoadYaml(Registry2Config).Configuration);
        var entra = ConfigCheckCommand.RenderEffectiveYaml(LoadYaml(
            "version: 0.1\nstorage:\n  azure:\n    accountname: registry\n    container: registry\n    credentials:\n      type: client_secret\n      clientid: app\n      tenantid: t\n      secret: hush\n").Configuration);

        Assert.Contains(ConfigCheckCommand.Mask, shared, StringComparison.Ordinal);
        Assert.DoesNotContain("a2V5", shared, StringComparison.Ordinal);
        Assert.Contains("  azure:", shared, StringComparison.Ordinal);
        Assert.DoesNotContain("hush", entra, StringComparison.Ordinal);
        Assert.Contains("clientid: app", entra, StringComparison.Ordinal);
    }
}
