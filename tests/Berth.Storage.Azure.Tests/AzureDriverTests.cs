using Berth.Storage.Azure.Tests.Infrastructure;
using Berth.Storage.Drivers;
using Berth.Storage.Tests.Drivers;

namespace Berth.Storage.Azure.Tests;

/// <summary>
/// The shared driver contract against a real Azure Blob service (Azurite). Every test gets a root directory of its
/// own below this run's prefix, so the suite's "fresh, empty driver" holds and runs never collide; the block size is
/// 1 MiB, so the suite's 20 MiB write stages twenty blocks.
/// </summary>
public sealed class AzureDriverTests(AzuriteFixture fixture) : StorageDriverSuite, IClassFixture<AzuriteFixture>, IAsyncLifetime
{
    private readonly string _root = $"{AzuriteTestStore.RunPrefix}/{nameof(AzureDriverTests)}/{Guid.NewGuid():N}";

    protected override IStorageDriver CreateDriver() => fixture.CreateDriver(_root, configure: options => options with { BlockSize = 1024 * 1024 });

    /// <summary>Azure answers SAS URLs; AzureDriverBehaviourTests fetches them.</summary>
    protected override bool ServesBytesItself => false;

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() =>
        await AzuriteTestStore.DeletePrefixAsync(fixture.ServiceUrl, AzuriteTestStore.SharedContainer, _root + "/");

    [Fact]
    public void Name_IsAzure()
    {
        Assert.Equal("azure", Driver.Name);
    }
}

/// <summary>
/// The same contract with registry:2's blob names (a leading slash before the root directory), which the SDK cannot
/// address by name and the driver reaches by URL.
/// </summary>
public sealed class AzureDriverLegacyNamesTests(AzuriteFixture fixture) : StorageDriverSuite, IClassFixture<AzuriteFixture>, IAsyncLifetime
{
    private readonly string _root = $"{AzuriteTestStore.RunPrefix}/{nameof(AzureDriverLegacyNamesTests)}/{Guid.NewGuid():N}";

    protected override IStorageDriver CreateDriver() =>
        fixture.CreateDriver(_root, configure: options => options with { BlockSize = 1024 * 1024, LegacyRootPrefix = true });

    protected override bool ServesBytesItself => false;

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() =>
        await AzuriteTestStore.DeletePrefixAsync(fixture.ServiceUrl, AzuriteTestStore.SharedContainer, "/" + _root + "/");
}
