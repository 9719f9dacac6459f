using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Storage.Tests.Drivers;

/// <summary>
/// The driver contract over the portable renames (File.Move and Directory.Move), which the filesystem driver
/// switches to for good when a filesystem answers renameat2's RENAME_NOREPLACE with EINVAL or ENOSYS (some network
/// and FUSE filesystems). Every filesystem here supports renameat2, so this is the only way that path runs.
/// </summary>
public sealed class FilesystemDriverPortableRenameTests : StorageDriverSuite
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "berth-fs-portable-" + Guid.NewGuid().ToString("N"));

    protected override IStorageDriver CreateDriver() => new FilesystemDriver(_root, NullLogger<FilesystemDriver>.Instance, Renames.Portable());

    protected override void Dispose(bool disposing)
    {
        if (disposing && Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }

        base.Dispose(disposing);
    }

    [Fact]
    public async Task PublishUnderAnExistingDirectoryRace_FallsBackToAPlainRename()
    {
        // Two writers building the same missing parents: one directory rename wins, the other must land its file
        // inside the winner's directory, as the renameat2 path does.
        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => Driver.PutContentAsync($"/race/dir/f{i}", Bytes($"v{i}"), Ct))));

        for (var i = 0; i < 16; i++)
        {
            Assert.Equal(Bytes($"v{i}"), await Driver.GetContentAsync($"/race/dir/f{i}", 10, Ct));
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_root, FilesystemDriver.StagingDirectoryName)));
    }
}
