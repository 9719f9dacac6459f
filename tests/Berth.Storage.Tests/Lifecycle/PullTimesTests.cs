using Berth.Core;
using Berth.Storage.Drivers;
using Berth.Storage.Lifecycle;
using Berth.Storage.Tests.Maintenance;

namespace Berth.Storage.Tests.Lifecycle;

/// <summary>Pull times: memory until a flush, one object per replica, the latest time across replicas, kept across restarts.</summary>
public sealed class PullTimesTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly RepositoryName App = RepositoryName.Parse("team/app");
    private static readonly Digest First = Digest.Compute("first"u8.ToArray());
    private static readonly Digest Second = Digest.Compute("second"u8.ToArray());

    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly CountingDriver _driver = new(new ValidatingDriver(new InMemoryDriver()));

    [Fact]
    public async Task Record_WritesNothingUntilFlush()
    {
        var pulls = new PullTimes(_driver, _clock, "a");
        for (var i = 0; i < 100; i++)
        {
            pulls.Record(App, First);
        }

        Assert.Equal(0, _driver.Writes);
        Assert.Equal(1, await pulls.FlushAsync(Ct));
        Assert.Equal(1, _driver.Writes);
        Assert.Equal(0, await pulls.FlushAsync(Ct));
        Assert.Equal(1, _driver.Writes);
    }

    [Fact]
    public async Task ReadAll_TakesTheLatestTimeAcrossReplicas()
    {
        var a = new PullTimes(_driver, _clock, "a");
        var b = new PullTimes(_driver, _clock, "b");
        a.Record(App, First);
        _clock.Advance(TimeSpan.FromHours(1));
        b.Record(App, First);
        b.Record(App, Second);
        _clock.Advance(TimeSpan.FromHours(1));
        a.Record(App, Second);
        await a.FlushAsync(Ct);
        await b.FlushAsync(Ct);

        var index = await new PullTimes(_driver, _clock, "reader").ReadAllAsync(Ct);

        Assert.Equal(_clock.GetUtcNow().AddHours(-1), index.LastPulled(App, First));
        Assert.Equal(_clock.GetUtcNow(), index.LastPulled(App, Second));
        Assert.Null(index.LastPulled(RepositoryName.Parse("team/other"), First));
        Assert.Equal(
            [$"{PullTimes.Root}/a.json", $"{PullTimes.Root}/b.json"],
            (await _driver.ListAsync(PullTimes.Root, Ct)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Flush_AfterARestart_KeepsTheTimesWrittenBefore()
    {
        var before = new PullTimes(_driver, _clock, "a");
        before.Record(App, First);
        await before.FlushAsync(Ct);
        var firstPull = _clock.GetUtcNow();
        _clock.Advance(TimeSpan.FromDays(1));

        var after = new PullTimes(_driver, _clock, "a");
        after.Record(App, Second);
        await after.FlushAsync(Ct);

        var index = await after.ReadAllAsync(Ct);
        Assert.Equal(firstPull, index.LastPulled(App, First));
        Assert.Equal(_clock.GetUtcNow(), index.LastPulled(App, Second));
    }

    [Fact]
    public async Task ReadAll_IncludesPullsNotYetFlushed()
    {
        var pulls = new PullTimes(_driver, _clock, "a");
        pulls.Record(App, First);

        Assert.Equal(_clock.GetUtcNow(), (await pulls.ReadAllAsync(Ct)).LastPulled(App, First));
    }

    [Fact]
    public async Task Flush_WriteFails_KeepsThePullsForTheNextFlush()
    {
        var pulls = new PullTimes(_driver, _clock, "a");
        pulls.Record(App, First);
        _driver.FailWrites = true;

        await Assert.ThrowsAsync<IOException>(() => pulls.FlushAsync(Ct));

        Assert.Equal(1, pulls.PendingCount);
        _driver.FailWrites = false;
        Assert.Equal(1, await pulls.FlushAsync(Ct));
        Assert.Equal(0, pulls.PendingCount);
        Assert.Equal(_clock.GetUtcNow(), (await new PullTimes(_driver, _clock, "reader").ReadAllAsync(Ct)).LastPulled(App, First));
    }

    [Fact]
    public void Replica_WithCharactersAPathCannotHold_IsMadeSafe()
    {
        Assert.Equal("host-1-pod", new PullTimes(_driver, _clock, "host 1/pod").Replica);
    }

    /// <summary>Counts small-object writes, to show that pulls alone write nothing.</summary>
    private sealed class CountingDriver(IStorageDriver inner) : IStorageDriver
    {
        public int Writes;

        public bool FailWrites;

        public string Name => inner.Name;

        public Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken) => inner.GetContentAsync(path, maxBytes, cancellationToken);

        public Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
        {
            if (FailWrites)
            {
                throw new IOException("the storage refused the write");
            }

            Interlocked.Increment(ref Writes);
            return inner.PutContentAsync(path, content, cancellationToken);
        }

        public Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken) => inner.OpenReadAsync(path, offset, cancellationToken);

        public Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken) => inner.OpenWriteAsync(path, append, cancellationToken);

        public Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken) => inner.CreateAsync(path, cancellationToken);

        public Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken) => inner.StatAsync(path, cancellationToken);

        public Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken) => inner.ListAsync(path, cancellationToken);

        public Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken) => inner.MoveAsync(sourcePath, destinationPath, cancellationToken);

        public Task DeleteAsync(string path, CancellationToken cancellationToken) => inner.DeleteAsync(path, cancellationToken);

        public Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken) => inner.RedirectUriAsync(path, method, cancellationToken);
    }
}
