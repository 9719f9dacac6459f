using Berth.Storage.Azure.Tests.Infrastructure;
using Berth.Storage.Drivers;
using Berth.Storage.Tests.Maintenance;
using Xunit.Abstractions;

namespace Berth.Storage.Azure.Tests;

/// <summary>
/// The whole garbage collector suite against a real Azure Blob service (Azurite): flat listings, single-blob deletes and
/// server-side copies, as a collection over Azure makes them. Every test gets a root directory of its own.
/// </summary>
public sealed class GarbageCollectorOverAzureTests(AzuriteFixture fixture, ITestOutputHelper output)
    : GarbageCollectorSuite(output), IClassFixture<AzuriteFixture>, IAsyncLifetime
{
    private readonly string _root = $"{AzuriteTestStore.RunPrefix}/{nameof(GarbageCollectorOverAzureTests)}/{Guid.NewGuid():N}";

    protected override IStorageDriver CreateDriver() => fixture.CreateDriver(_root);

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() =>
        await AzuriteTestStore.DeletePrefixAsync(fixture.ServiceUrl, AzuriteTestStore.SharedContainer, _root + "/");
}
