using Amazon.S3.Model;
using Berth.Storage.S3.Tests.Infrastructure;
using Berth.Storage.Tests.Maintenance;

namespace Berth.Storage.S3.Tests;

/// <summary>The scrubber over the real S3 server (<see cref="ScrubOverObjectStoreScenario"/>), objects changed with the AWS SDK.</summary>
public sealed class ScrubberOverS3Tests(S3Fixture fixture) : IClassFixture<S3Fixture>, IAsyncLifetime
{
    private readonly string _root = $"{S3TestStore.RunPrefix}/{nameof(ScrubberOverS3Tests)}/{Guid.NewGuid():N}";
    private S3Driver? _driver;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await S3TestStore.DeletePrefixAsync(fixture.Endpoint, _root + "/");
        _driver?.Dispose();
    }

    [Fact]
    public async Task Run_OverwrittenAndDeletedObjects_AreReportedAndTheCorruptOneIsMovedAside()
    {
        _driver = fixture.CreateDriver(_root);
        using var raw = S3TestStore.RawClient(fixture.Endpoint);
        var bucket = fixture.Endpoint.Bucket;

        await ScrubOverObjectStoreScenario.RunAsync(_driver,
            (path, text) => raw.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = _root + path, ContentBody = text }),
            path => raw.DeleteObjectAsync(bucket, _root + path));
    }
}
