using System.Globalization;
using Berth.EndToEnd.Tests.Infrastructure;
using Berth.Storage.Azure.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Real Berth processes over a real Azure Blob service (Azurite, found or started by <see cref="AzuriteTestStore"/>):
/// registry:2's <c>storage.azure</c> keys with Distribution 3's <c>serviceurl</c>, the development account's key.
/// </summary>
public static class BerthOnAzure
{
    /// <summary>A container name no other test uses.</summary>
    public static string NewContainer(string purpose) => $"e2e-{purpose}-{Guid.NewGuid():N}"[..Math.Min(63, 5 + purpose.Length + 1 + 12)];

    /// <summary>Starts Berth on a free port over <paramref name="container"/> (created by Berth when missing) and waits until it answers.</summary>
    public static Task<RegistryProcess> StartAsync(string name, Uri serviceUrl, string container, bool redirectDisabled = false, string extraAzureKeys = "") =>
        RegistryProcess.StartAsync(RegistryKind.Berth, name, $"azure:{container}", port => $"""
            version: 0.1
            log:
              level: info
              accesslog:
                disabled: true
            storage:
              azure:
                accountname: {AzuriteTestStore.AccountName}
                accountkey: {AzuriteTestStore.AccountKey}
                container: {container}
                serviceurl: {serviceUrl}
            {extraAzureKeys}
              delete:
                enabled: true
              redirect:
                disable: {(redirectDisabled ? "true" : "false")}
            http:
              addr: 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}
              secret: berth-azure-end-to-end-tests
            health:
              storagedriver:
                enabled: false

            """);
}

/// <summary>One Berth over its own Azurite container for a test class, pulls redirected to SAS URLs (the default).</summary>
public sealed class BerthOnAzureFixture : IRegistryFixture, IAsyncLifetime
{
    private RegistryProcess? _registry;

    public RegistryProcess Registry => _registry ?? throw new InvalidOperationException("Berth on Azurite has not started.");

    public async Task InitializeAsync()
    {
        var serviceUrl = await AzuriteTestStore.GetAsync();
        _registry = await BerthOnAzure.StartAsync("berth-azure", serviceUrl, BerthOnAzure.NewContainer("skopeo"));
    }

    public async Task DisposeAsync()
    {
        if (_registry is not null)
        {
            await _registry.DisposeAsync();
        }
    }
}

/// <summary>skopeo against Berth storing in Azure Blob Storage (Azurite): every skopeo test, blobs pulled through SAS redirects.</summary>
public sealed class SkopeoAgainstBerthOnAzureTests(BerthOnAzureFixture fixture, ITestOutputHelper log)
    : SkopeoTests(fixture, log), IClassFixture<BerthOnAzureFixture>;

/// <summary>buildah and podman against Berth storing in Azure Blob Storage (Azurite): every buildah/podman test.</summary>
public sealed class BuildahPodmanAgainstBerthOnAzureTests(BerthOnAzureFixture fixture, ITestOutputHelper log)
    : BuildahPodmanTests(fixture, log), IClassFixture<BerthOnAzureFixture>;
