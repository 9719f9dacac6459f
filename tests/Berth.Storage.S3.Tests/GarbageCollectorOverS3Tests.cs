using Berth.Storage.Drivers;
using Berth.Storage.S3.Tests.Infrastructure;
using Berth.Storage.Tests.Maintenance;
using Xunit.Abstractions;

namespace Berth.Storage.S3.Tests;

/// <summary>
/// The whole garbage collector suite against the real S3 server: the plan's flat listings of blob data and layer links,
/// the purge's single-object deletes and the quarantine's copies, as a collection over S3 makes them. Every test gets a
/// root directory of its own below this run's prefix.
/// </summary>
public sealed class GarbageCollectorOverS3Tests(S3Fixture fixture, ITestOutputHelper output)
    : GarbageCollectorSuite(output), IClassFixture<S3Fixture>, IAsyncLifetime
{
    private readonly string _root = $"{S3TestStore.RunPrefix}/{nameof(GarbageCollectorOverS3Tests)}/{Guid.NewGuid():N}";

    protected override IStorageDriver CreateDriver() => fixture.CreateDriver(_root);

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await S3TestStore.DeletePrefixAsync(fixture.Endpoint, _root + "/");
}
