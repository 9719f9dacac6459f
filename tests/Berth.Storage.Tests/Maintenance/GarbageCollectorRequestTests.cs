using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;
using Berth.Storage.Tests.Drivers;
using Berth.Storage.Tests.Stores;
using static Berth.Storage.Tests.Maintenance.MaintenanceHarness;

namespace Berth.Storage.Tests.Maintenance;

/// <summary>
/// How a collection asks an object store (a driver that is not local files) for what it needs: blob data and layer links
/// come with their sizes and times from listings, and single objects are deleted without a listing of what is below
/// them. Each of those is a round trip on S3 per object otherwise.
/// </summary>
public sealed class GarbageCollectorRequestTests
{
    private static readonly Core.RepositoryName App = Core.RepositoryName.Parse("library/app");

    [Fact]
    public async Task Plan_OverAnObjectStore_StatsNoBlobDataAndNoLayerLink()
    {
        var (h, counting) = await FillAsync();

        var report = await h.CollectAsync(Offline with { DryRun = true, DeleteUntagged = true });

        Assert.Equal(15, report.BlobsDeleted);
        Assert.Equal(10, report.LinksRemoved);
        Assert.DoesNotContain(counting.Stats, path => path.EndsWith("/data", StringComparison.Ordinal) || path.Contains("/_layers/", StringComparison.Ordinal));
        Assert.Contains(counting.FileListings, path => path.EndsWith("/_layers", StringComparison.Ordinal));
        Assert.Contains(counting.FileListings, path => path.StartsWith("/docker/registry/v2/blobs/sha256/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_OverAnObjectStore_DeletesSingleObjectsNeverASubtree()
    {
        var (h, counting) = await FillAsync();

        var report = await h.CollectAsync(Offline with { DeleteUntagged = true });

        Assert.Equal(5, report.ManifestsDeleted);
        Assert.Equal(15, report.BlobsDeleted);
        Assert.Equal(10, report.LinksRemoved);
        Assert.Empty(counting.SubtreeDeletes);
    }

    [Fact]
    public async Task Mark_ReadsTheNextRepositoriesWhileItMarksOne()
    {
        // Listings that take a round trip's time show how many the mark overlaps: one at a time when it reads one
        // repository after another.
        var counting = new RequestCountingDriver(new InMemoryDriver()) { ListDelay = TimeSpan.FromMilliseconds(20) };
        var h = new MaintenanceHarness(counting);
        for (var i = 0; i < 8; i++)
        {
            await h.PushImageAsync(Core.RepositoryName.Parse($"library/app{i}"), "v1", $"image {i}");
        }

        var inFlightAfterMark = 0;
        await h.CollectAsync(Offline with
        {
            DryRun = true,
            Hooks = new GarbageCollectionHooks { AfterMark = _ => { inFlightAfterMark = counting.MaxListsInFlight; return Task.CompletedTask; } },
        });

        Assert.InRange(inFlightAfterMark, 2, int.MaxValue);
    }

    /// <summary>Five tagged images and five untagged ones (their manifest, config and layer are the garbage), aged.</summary>
    private static async Task<(MaintenanceHarness Harness, CallCountingDriver Counting)> FillAsync()
    {
        var counting = new CallCountingDriver(new InMemoryDriver());
        var h = new MaintenanceHarness(counting);
        for (var i = 0; i < 5; i++)
        {
            await h.PushImageAsync(App, $"v{i}", $"kept {i}");
            await h.PushImageAsync(App, null, $"untagged {i}");
        }

        h.AgeEverything();
        counting.Reset();
        return (h, counting);
    }

    /// <summary>Records stats, subtree deletes and flat listings; passes everything on, the two optional calls included.</summary>
    private sealed class CallCountingDriver(IStorageDriver inner) : ForwardingDriver(inner), IStorageDriver
    {
        private readonly Lock _lock = new();
        private readonly List<string> _stats = [];
        private readonly List<string> _subtreeDeletes = [];
        private readonly List<string> _fileListings = [];

        public IReadOnlyList<string> Stats => Snapshot(_stats);

        public IReadOnlyList<string> SubtreeDeletes => Snapshot(_subtreeDeletes);

        public IReadOnlyList<string> FileListings => Snapshot(_fileListings);

        public void Reset()
        {
            lock (_lock)
            {
                _stats.Clear();
                _subtreeDeletes.Clear();
                _fileListings.Clear();
            }
        }

        public override Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken)
        {
            Record(_stats, path);
            return base.StatAsync(path, cancellationToken);
        }

        public override Task DeleteAsync(string path, CancellationToken cancellationToken)
        {
            Record(_subtreeDeletes, path);
            return base.DeleteAsync(path, cancellationToken);
        }

        public Task<bool> DeleteFileAsync(string path, CancellationToken cancellationToken) => Inner.DeleteFileAsync(path, cancellationToken);

        public Task<IReadOnlyList<StorageFileInfo>> ListFilesAsync(string path, CancellationToken cancellationToken)
        {
            Record(_fileListings, path);
            return Inner.ListFilesAsync(path, cancellationToken);
        }

        private void Record(List<string> calls, string path)
        {
            lock (_lock)
            {
                calls.Add(path);
            }
        }

        private List<string> Snapshot(List<string> calls)
        {
            lock (_lock)
            {
                return [.. calls];
            }
        }
    }
}
