using Berth.Storage.Azure.Tests.Infrastructure;
using Berth.Storage.Tests.Maintenance;

namespace Berth.Storage.Azure.Tests;

/// <summary>
/// The scrubber over Azure Blob Storage on Azurite (<see cref="ScrubOverObjectStoreScenario"/>), blobs changed with the
/// Azure SDK; moving the corrupt blob aside is the driver's copy and delete.
/// </summary>
public sealed class ScrubberOverAzureTests(AzuriteFixture fixture) : IClassFixture<AzuriteFixture>, IAsyncLifetime
{
    private readonly string _root = $"{AzuriteTestStore.RunPrefix}/{nameof(ScrubberOverAzureTests)}/{Guid.NewGuid():N}";

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => AzuriteTestStore.DeletePrefixAsync(fixture.ServiceUrl, AzuriteTestStore.SharedContainer, _root + "/");

    [Fact]
    public async Task Run_OverwrittenAndDeletedBlobs_AreReportedAndTheCorruptOneIsMovedAside()
    {
        var container = AzuriteTestStore.NewServiceClient(fixture.ServiceUrl).GetBlobContainerClient(AzuriteTestStore.SharedContainer);

        await ScrubOverObjectStoreScenario.RunAsync(fixture.CreateDriver(_root),
            (path, text) => container.GetBlobClient(_root + path).UploadAsync(BinaryData.FromString(text), overwrite: true),
            async path => Assert.True((await container.GetBlobClient(_root + path).DeleteIfExistsAsync()).Value));
    }
}
