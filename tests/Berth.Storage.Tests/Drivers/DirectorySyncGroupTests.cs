using Berth.Storage.Drivers;

namespace Berth.Storage.Tests.Drivers;

/// <summary>
/// The group commit of directory syncs: no writer returns before a sync that began after its call has succeeded,
/// and writers that arrive while a sync runs share the next one.
/// </summary>
public sealed class DirectorySyncGroupTests
{
    [Fact]
    public void Sync_WritersArrivingDuringASync_ShareTheNextOneAndNeverReturnBeforeIt()
    {
        var syncStarts = new List<int>();
        var calls = 0;
        using var firstSyncRunning = new ManualResetEventSlim();
        using var releaseFirstSync = new ManualResetEventSlim();
        var group = new DirectorySyncGroup(_ =>
        {
            int number;
            lock (syncStarts)
            {
                number = syncStarts.Count + 1;
                syncStarts.Add(Volatile.Read(ref calls));
            }

            if (number == 1)
            {
                firstSyncRunning.Set();
                releaseFirstSync.Wait(TimeSpan.FromSeconds(10));
            }
        });

        // Threads of their own, not the thread pool: the callers block, and a pool of two threads grows slowly.
        var first = new Thread(() => { Interlocked.Increment(ref calls); group.Sync("/d"); });
        first.Start();
        Assert.True(firstSyncRunning.Wait(TimeSpan.FromSeconds(10)));
        var later = Enumerable.Range(0, 8).Select(_ => new Thread(() => { Interlocked.Increment(ref calls); group.Sync("/d"); })).ToArray();
        foreach (var thread in later)
        {
            thread.Start();
        }

        // Let the eight callers reach the group and wait behind the running sync.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Volatile.Read(ref calls) < 9 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(10);
        }

        Thread.Sleep(200);
        Assert.All(later, thread => Assert.True(thread.IsAlive));
        releaseFirstSync.Set();
        Assert.All(later.Append(first), thread => Assert.True(thread.Join(TimeSpan.FromSeconds(10))));

        // The first sync, then one more begun after all nine calls, for the eight that came during the first.
        Assert.Equal(2, syncStarts.Count);
        Assert.Equal(9, syncStarts[1]);
    }

    [Fact]
    public void Sync_AFailedSync_IsReportedAndTheNextWriterSyncsAgain()
    {
        var attempts = 0;
        var group = new DirectorySyncGroup(_ =>
        {
            if (Interlocked.Increment(ref attempts) == 1)
            {
                throw new IOException("disk full");
            }
        });

        Assert.Throws<IOException>(() => group.Sync("/d"));
        group.Sync("/d");
        Assert.Equal(2, attempts);
    }

    [Fact]
    public void Sync_DifferentDirectories_AreSyncedEachOnTheirOwn()
    {
        var synced = new List<string>();
        var group = new DirectorySyncGroup(directory => { lock (synced) { synced.Add(directory); } });
        group.Sync("/a");
        group.Sync("/b");
        group.Sync("/a");
        Assert.Equal(["/a", "/b", "/a"], synced);
    }
}
