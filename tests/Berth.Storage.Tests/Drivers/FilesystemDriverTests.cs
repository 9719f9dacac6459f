using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Storage.Tests.Drivers;

public sealed class FilesystemDriverTests : StorageDriverSuite
{
    /// <summary>A fresh directory per test; the driver's root is one level below so escapes are visible.</summary>
    private readonly string _outer = Path.Combine(Path.GetTempPath(), "berth-fs-tests-" + Guid.NewGuid().ToString("N"));

    private string Root => Path.Combine(_outer, "root");

    private string Staging => Path.Combine(Root, FilesystemDriver.StagingDirectoryName);

    protected override IStorageDriver CreateDriver() => new FilesystemDriver(Root, NullLogger<FilesystemDriver>.Instance);

    protected override void Dispose(bool disposing)
    {
        if (Directory.Exists(_outer))
        {
            Directory.Delete(_outer, recursive: true);
        }

        base.Dispose(disposing);
    }

    private async Task RunAssortedOperationsAsync()
    {
        await Driver.PutContentAsync("/docker/registry/v2/blobs/sha256/ab/abcd/data", Bytes("blob"), Ct);
        await Driver.PutContentAsync("/docker/registry/v2/repositories/r/_layers/link", Bytes("link"), Ct);
        await using (var writer = await Driver.OpenWriteAsync("/docker/registry/v2/repositories/r/_uploads/u/data", append: true, Ct))
        {
            await writer.WriteAsync(Bytes("upload"), Ct);
            await writer.CommitAsync(Ct);
        }

        await Driver.MoveAsync("/docker/registry/v2/repositories/r/_uploads/u/data", "/docker/registry/v2/blobs/sha256/cd/cdef/data", Ct);
        await using (var created = await Driver.CreateAsync("/docker/registry/v2/blobs/sha256/ef/ef01/data", Ct))
        {
            await created.WriteAsync(Bytes("published whole"), Ct);
            await created.CommitAsync(Ct);
        }

        await using (var discarded = await Driver.CreateAsync("/docker/registry/v2/blobs/sha256/ef/ef02/data", Ct))
        {
            await discarded.WriteAsync(Bytes("never published"), Ct);
        }

        await using (var cancelled = await Driver.CreateAsync("/docker/registry/v2/blobs/sha256/ef/ef03/data", Ct))
        {
            await cancelled.WriteAsync(Bytes("cancelled"), Ct);
            await cancelled.CancelAsync(Ct);
        }

        await Driver.DeleteAsync("/docker/registry/v2/repositories/r/_uploads", Ct);
        await Driver.DeleteAsync("/docker/registry/v2/repositories/r/_layers/link", Ct);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => Driver.PutContentAsync($"/many/new/dirs/f{i}", Bytes("x"), Ct))));
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => Driver.PutContentAsync("/same/new/dir/f", Bytes($"v{i}"), Ct))));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.PutContentAsync("/../escape", Bytes("x"), Ct));
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.DeleteAsync("/not/there", Ct));
    }

    [Fact]
    public void Name_IsFilesystem()
    {
        Assert.Equal("filesystem", Driver.Name);
    }

    [Fact]
    public async Task PutContent_StoresFileAtTheMatchingPathBelowRoot()
    {
        await Driver.PutContentAsync("/docker/registry/v2/repositories/lib/app/_layers/sha256/aa/link", Bytes("sha256:aa"), Ct);

        var file = Path.Combine(Root, "docker", "registry", "v2", "repositories", "lib", "app", "_layers", "sha256", "aa", "link");
        Assert.Equal(Bytes("sha256:aa"), await File.ReadAllBytesAsync(file, Ct));
    }

    [Fact]
    public async Task PutContent_MissingParents_CreatesParentDirectories()
    {
        await Driver.PutContentAsync("/p1/p2/p3/file", Bytes("x"), Ct);

        Assert.True(Directory.Exists(Path.Combine(Root, "p1")));
        Assert.True(Directory.Exists(Path.Combine(Root, "p1", "p2")));
        Assert.True(Directory.Exists(Path.Combine(Root, "p1", "p2", "p3")));
        Assert.True((await Driver.StatAsync("/p1/p2", Ct)).IsDirectory);
    }

    [Fact]
    public async Task PutContent_SomeParentsExist_CreatesOnlyTheMissingOnes()
    {
        await Driver.PutContentAsync("/p1/existing", Bytes("x"), Ct);

        await Driver.PutContentAsync("/p1/p2/p3/file", Bytes("y"), Ct);

        Assert.Equal(["/p1/existing", "/p1/p2"], (await Driver.ListAsync("/p1", Ct)).Order(StringComparer.Ordinal));
        Assert.Equal(Bytes("y"), await Driver.GetContentAsync("/p1/p2/p3/file", 10, Ct));
    }

    [Fact]
    public async Task Operations_WriteNothingOutsideTheRoot()
    {
        Directory.CreateDirectory(_outer);

        await RunAssortedOperationsAsync();

        Assert.Equal([Root], Directory.EnumerateFileSystemEntries(_outer));
        var rootPrefix = Root + Path.DirectorySeparatorChar;
        Assert.All(Directory.EnumerateFileSystemEntries(_outer, "*", SearchOption.AllDirectories),
            entry => Assert.True(entry == Root || entry.StartsWith(rootPrefix, StringComparison.Ordinal), entry));
    }

    [Fact]
    public async Task Operations_LeaveNoStagingEntries()
    {
        await RunAssortedOperationsAsync();

        Assert.DoesNotContain(await Driver.ListAsync("/", Ct), p => p.Contains(FilesystemDriver.StagingDirectoryName, StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Staging));
    }

    [Fact]
    public async Task List_Root_HidesTheStagingDirectory()
    {
        _ = Driver.Name;
        Assert.True(Directory.Exists(Staging));

        Assert.Empty(await Driver.ListAsync("/", Ct));

        await Driver.PutContentAsync("/docker/x", Bytes("x"), Ct);
        Assert.Equal(["/docker"], await Driver.ListAsync("/", Ct));
    }

    [Fact]
    public void LocalPath_TraversalOutsideRoot_IsRefusedEvenWithoutValidation()
    {
        var raw = new FilesystemDriver(Root, NullLogger<FilesystemDriver>.Instance);

        Assert.Throws<InvalidStoragePathException>(() => raw.LocalPath("/../escape"));
        Assert.Throws<InvalidStoragePathException>(() => raw.LocalPath("/a/../../escape"));
        Assert.Throws<InvalidStoragePathException>(() => raw.LocalPath("/../root-sibling"));
        Assert.Equal(Path.Combine(Root, "a", "b"), raw.LocalPath("/a/b"));
    }

    [Fact]
    public async Task Constructor_RemovesStaleStagingEntriesButKeepsFreshOnes()
    {
        _ = Driver.Name;
        var staleFile = Path.Combine(Staging, "stale-file");
        var staleDirectory = Path.Combine(Staging, "stale-dir");
        var fresh = Path.Combine(Staging, "fresh-file");
        await File.WriteAllBytesAsync(staleFile, Bytes("x"), Ct);
        Directory.CreateDirectory(Path.Combine(staleDirectory, "child"));
        await File.WriteAllBytesAsync(fresh, Bytes("x"), Ct);
        File.SetLastWriteTimeUtc(staleFile, DateTime.UtcNow.AddHours(-2));
        Directory.SetLastWriteTimeUtc(staleDirectory, DateTime.UtcNow.AddHours(-2));

        _ = new FilesystemDriver(Root, NullLogger<FilesystemDriver>.Instance);

        Assert.False(File.Exists(staleFile));
        Assert.False(Directory.Exists(staleDirectory));
        Assert.True(File.Exists(fresh));
    }

    [Fact]
    public async Task SecondInstance_OverSameRoot_SeesTheData()
    {
        await Driver.PutContentAsync("/persisted/file", Bytes("durable"), Ct);

        var second = new ValidatingDriver(new FilesystemDriver(Root, NullLogger<FilesystemDriver>.Instance));

        Assert.Equal(Bytes("durable"), await second.GetContentAsync("/persisted/file", 100, Ct));
    }
}
