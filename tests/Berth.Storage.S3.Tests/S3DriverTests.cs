using Berth.Storage.Drivers;
using Berth.Storage.S3.Tests.Infrastructure;
using Berth.Storage.Tests.Drivers;

namespace Berth.Storage.S3.Tests;

/// <summary>
/// The shared driver contract against a real S3 server (Ceph RGW from start-s3.sh). Every test gets a
/// root directory of its own below this run's prefix, so the suite's "fresh, empty driver" holds and
/// runs never collide; the chunk size is S3's minimum, so the suite's 20 MiB write spans four parts.
/// </summary>
public sealed class S3DriverTests(S3Fixture fixture) : StorageDriverSuite, IClassFixture<S3Fixture>, IAsyncLifetime
{
    private readonly string _root = $"{S3TestStore.RunPrefix}/{nameof(S3DriverTests)}/{Guid.NewGuid():N}";

    protected override IStorageDriver CreateDriver() => fixture.CreateDriver(_root, options => options with
    {
        ChunkSize = S3DriverOptions.MinimumChunkSize,
    });

    /// <summary>S3 answers presigned URLs; S3DriverBehaviourTests fetches them.</summary>
    protected override bool ServesBytesItself => false;

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await S3TestStore.DeletePrefixAsync(fixture.Endpoint, _root + "/");

    [Fact]
    public void Name_IsS3()
    {
        Assert.Equal("s3", Driver.Name);
    }
}
