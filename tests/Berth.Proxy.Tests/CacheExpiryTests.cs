using System.Text;
using System.Text.Json;
using Berth.Core;
using Berth.Storage;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Proxy.Tests;

/// <summary>The expiry schedule over the in-memory driver with a hand-moved clock.</summary>
public sealed class CacheExpiryTests
{
    private static readonly RepositoryName Repository = RepositoryName.Parse("library/alpine");
    private readonly InMemoryDriver _driver = new();
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly BlobStore _blobs;
    private readonly ManifestStore _manifests;

    public CacheExpiryTests()
    {
        _blobs = new BlobStore(_driver);
        _manifests = new ManifestStore(_driver, _blobs, new TagStore(_driver), new ReferrerStore(_driver));
    }

    [Fact]
    public async Task DueBlob_IsUnlinkedAndItsBytesDeleted_InRegistry2Mode_ButNotWhileItIsBeingFetched()
    {
        var digest = await StoreBlobAsync("layer");
        var expiry = NewExpiry(deleteBlobData: true);
        expiry.ScheduleBlob(Repository, digest, TimeSpan.FromHours(1));

        _clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(0, await expiry.ExpireDueAsync(_ => false, CancellationToken.None));
        _clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(0, await expiry.ExpireDueAsync(_ => true, CancellationToken.None));
        Assert.NotNull(await _blobs.StatAsync(Repository, digest, CancellationToken.None));

        _clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(1, await expiry.ExpireDueAsync(_ => false, CancellationToken.None));

        Assert.Null(await _blobs.StatAsync(Repository, digest, CancellationToken.None));
        Assert.Null(await _blobs.StatContentAsync(digest, CancellationToken.None));
    }

    [Fact]
    public async Task DueBlob_BesideLocalRepositories_KeepsItsBytesForGarbageCollection()
    {
        var digest = await StoreBlobAsync("shared");
        var expiry = NewExpiry(deleteBlobData: false);
        expiry.ScheduleBlob(Repository, digest, TimeSpan.FromMinutes(1));
        _clock.Advance(TimeSpan.FromMinutes(2));

        await expiry.ExpireDueAsync(_ => false, CancellationToken.None);

        Assert.Null(await _blobs.StatAsync(Repository, digest, CancellationToken.None));
        Assert.NotNull(await _blobs.StatContentAsync(digest, CancellationToken.None));
    }

    [Fact]
    public async Task Schedule_IsSavedAsRegistry2Writes_AndReadBackByTheNextProcess()
    {
        var digest = await StoreBlobAsync("kept");
        var manifest = Digest.Compute(Encoding.UTF8.GetBytes("some manifest"));
        var first = NewExpiry(deleteBlobData: true);
        first.ScheduleBlob(Repository, digest, TimeSpan.FromHours(2));
        first.ScheduleManifest(Repository, manifest, TimeSpan.FromHours(2));
        await first.SaveAsync(CancellationToken.None);

        using (var state = JsonDocument.Parse(await _driver.GetContentAsync(CacheExpiry.StatePath, 1 << 20, CancellationToken.None)))
        {
            var blob = state.RootElement.GetProperty($"library/alpine@{digest}");
            Assert.Equal($"library/alpine@{digest}", blob.GetProperty("Key").GetString());
            Assert.Equal(0, blob.GetProperty("EntryType").GetInt32());
            Assert.Equal(_clock.GetUtcNow().AddHours(2), blob.GetProperty("ExpiryData").GetDateTimeOffset());
            Assert.Equal(1, state.RootElement.GetProperty($"library/alpine@{manifest}").GetProperty("EntryType").GetInt32());
        }

        // A restart three hours later: the entries came due while nobody ran, and expire at once.
        _clock.Advance(TimeSpan.FromHours(3));
        var second = NewExpiry(deleteBlobData: true);
        using var stop = new CancellationTokenSource();
        var running = second.RunAsync(_ => false, stop.Token);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await _blobs.StatContentAsync(digest, CancellationToken.None) is not null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Null(await _blobs.StatContentAsync(digest, CancellationToken.None));
        await stop.CancelAsync();
        await running;
        Assert.Equal(0, second.Count);
    }

    [Fact]
    public async Task StateWrittenByRegistry2_WithGoTimestamps_IsRead()
    {
        var digest = await StoreBlobAsync("from registry:2");
        var state = $$$"""{"library/alpine@{{{digest}}}":{"Key":"library/alpine@{{{digest}}}","ExpiryData":"2026-11-30T23:59:59.123456789Z","EntryType":0}}""";
        await _driver.PutContentAsync(CacheExpiry.StatePath, Encoding.UTF8.GetBytes(state), CancellationToken.None);
        var expiry = NewExpiry(deleteBlobData: true);
        using var stop = new CancellationTokenSource();

        var running = expiry.RunAsync(_ => false, stop.Token);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await _blobs.StatContentAsync(digest, CancellationToken.None) is not null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        await stop.CancelAsync();
        await running;
        Assert.Null(await _blobs.StatContentAsync(digest, CancellationToken.None));
    }

    [Fact]
    public async Task UnreadableState_IsStartedAfresh_AndTheRegistryKeepsRunning()
    {
        await _driver.PutContentAsync(CacheExpiry.StatePath, "{not json"u8.ToArray(), CancellationToken.None);
        var expiry = NewExpiry(deleteBlobData: true);
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await expiry.RunAsync(_ => false, stop.Token);

        Assert.Equal(0, expiry.Count);
    }

    [Fact]
    public async Task ZeroTtl_SchedulesNothing()
    {
        var expiry = NewExpiry(deleteBlobData: true);

        expiry.ScheduleBlob(Repository, await StoreBlobAsync("forever"), TimeSpan.Zero);

        Assert.Equal(0, expiry.Count);
    }

    private CacheExpiry NewExpiry(bool deleteBlobData) =>
        new(_driver, _blobs, _manifests, deleteBlobData, _clock, NullLogger<CacheExpiry>.Instance);

    private async Task<Digest> StoreBlobAsync(string text)
    {
        var content = Encoding.UTF8.GetBytes(text);
        var digest = Digest.Compute(content);
        await _blobs.PutContentAsync(digest, content, CancellationToken.None);
        await _blobs.LinkAsync(Repository, digest, CancellationToken.None);
        return digest;
    }
}
