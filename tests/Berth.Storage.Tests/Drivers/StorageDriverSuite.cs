using System.Security.Cryptography;
using System.Text;
using Berth.Storage.Drivers;

namespace Berth.Storage.Tests.Drivers;

/// <summary>
/// The <see cref="IStorageDriver"/> contract, run against every driver. Each driver is exercised
/// through <see cref="ValidatingDriver"/>, as the registry always wraps it.
/// </summary>
public abstract class StorageDriverSuite : IDisposable
{
    private IStorageDriver? _driver;

    protected static CancellationToken Ct => CancellationToken.None;

    /// <summary>The driver under test, wrapped as production wraps it.</summary>
    protected IStorageDriver Driver => LazyInitializer.EnsureInitialized(ref _driver, () => new ValidatingDriver(CreateDriver()));

    /// <summary>Builds a fresh, empty driver of the kind under test.</summary>
    protected abstract IStorageDriver CreateDriver();

    /// <summary>
    /// Whether the driver serves bytes itself (no redirect URL). Drivers backed by an object store
    /// that clients can reach directly (S3) answer presigned URLs instead.
    /// </summary>
    protected virtual bool ServesBytesItself => true;

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }

    protected static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    protected static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    protected async Task<byte[]> ReadAllAsync(string path, long offset = 0)
    {
        await using var stream = await Driver.OpenReadAsync(path, offset, Ct);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }

    protected async Task<bool> ExistsAsync(string path)
    {
        try
        {
            await Driver.StatAsync(path, Ct);
            return true;
        }
        catch (StoragePathNotFoundException)
        {
            return false;
        }
    }

    // ---- small objects ----

    [Fact]
    public async Task PutContent_ThenGetContent_ReturnsSameBytes()
    {
        var content = RandomBytes(4096, 1);

        await Driver.PutContentAsync("/a/b/c/object", content, Ct);

        Assert.Equal(content, await Driver.GetContentAsync("/a/b/c/object", 1 << 20, Ct));
    }

    [Fact]
    public async Task PutContent_EmptyContent_RoundTrips()
    {
        await Driver.PutContentAsync("/empty", ReadOnlyMemory<byte>.Empty, Ct);

        Assert.Empty(await Driver.GetContentAsync("/empty", 10, Ct));
        Assert.Equal(0, (await Driver.StatAsync("/empty", Ct)).Size);
    }

    [Fact]
    public async Task PutContent_PathWithDotsDashesAndUnderscores_RoundTrips()
    {
        const string path = "/docker/registry/v2/repositories/my-org/app.name/_manifests/tags/v1.0_rc-1/current/link";

        await Driver.PutContentAsync(path, Bytes("sha256:abc"), Ct);

        Assert.Equal(Bytes("sha256:abc"), await Driver.GetContentAsync(path, 100, Ct));
    }

    [Fact]
    public async Task PutContent_ExistingPath_ReplacesContent()
    {
        await Driver.PutContentAsync("/object", Bytes("a much longer first value"), Ct);

        await Driver.PutContentAsync("/object", Bytes("short"), Ct);

        Assert.Equal(Bytes("short"), await Driver.GetContentAsync("/object", 100, Ct));
        Assert.Equal(5, (await Driver.StatAsync("/object", Ct)).Size);
    }

    [Fact]
    public async Task GetContent_MissingPath_ThrowsPathNotFound()
    {
        var exception = await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.GetContentAsync("/missing", 100, Ct));

        Assert.Equal("/missing", exception.Path);
    }

    [Fact]
    public async Task GetContent_MissingParentDirectory_ThrowsPathNotFound()
    {
        await Driver.PutContentAsync("/present/file", Bytes("x"), Ct);

        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.GetContentAsync("/absent/dir/file", 100, Ct));
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.GetContentAsync("/present/other", 100, Ct));
    }

    [Fact]
    public async Task GetContent_OfADirectoryOrBelowAFile_ThrowsPathNotFound()
    {
        await Driver.PutContentAsync("/present/file", Bytes("x"), Ct);

        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.GetContentAsync("/present", 100, Ct));
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.GetContentAsync("/present/file/below", 100, Ct));
    }

    /// <summary>Sizes on both sides of the filesystem driver's one-read fast path (1 KiB) and of the caller's limit.</summary>
    [Theory]
    [InlineData(71)]
    [InlineData(1023)]
    [InlineData(1024)]
    [InlineData(1025)]
    [InlineData(70_000)]
    public async Task GetContent_AnySize_ReturnsTheWholeContentAndHonoursTheLimit(int size)
    {
        var content = new byte[size];
        new Random(size).NextBytes(content);
        await Driver.PutContentAsync("/sized/object", content, Ct);

        Assert.Equal(content, await Driver.GetContentAsync("/sized/object", size, Ct));
        Assert.Equal(content, await Driver.GetContentAsync("/sized/object", size * 2, Ct));
        var exception = await Assert.ThrowsAsync<StorageObjectTooLargeException>(() => Driver.GetContentAsync("/sized/object", size - 1, Ct));
        Assert.Equal("/sized/object", exception.Path);
    }

    [Fact]
    public async Task GetContent_LargerThanMaxBytes_ThrowsObjectTooLarge()
    {
        await Driver.PutContentAsync("/big", new byte[1025], Ct);

        var exception = await Assert.ThrowsAsync<StorageObjectTooLargeException>(() => Driver.GetContentAsync("/big", 1024, Ct));

        Assert.Equal("/big", exception.Path);
    }

    [Fact]
    public async Task GetContent_ExactlyMaxBytes_Succeeds()
    {
        await Driver.PutContentAsync("/fits", new byte[1024], Ct);

        Assert.Equal(1024, (await Driver.GetContentAsync("/fits", 1024, Ct)).Length);
    }

    // ---- reads at offsets ----

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(500)]
    [InlineData(999)]
    [InlineData(1000)]
    [InlineData(1001)]
    [InlineData(1_000_000)]
    public async Task OpenRead_AtOffset_ReturnsBytesFromThatOffset(long offset)
    {
        var content = RandomBytes(1000, 2);
        await Driver.PutContentAsync("/blob", content, Ct);

        var read = await ReadAllAsync("/blob", offset);

        Assert.Equal(content.Skip((int)Math.Min(offset, content.Length)).ToArray(), read);
    }

    [Fact]
    public async Task OpenRead_MissingPath_ThrowsPathNotFound()
    {
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.OpenReadAsync("/missing/blob", 0, Ct));
    }

    [Fact]
    public async Task OpenRead_NegativeOffset_ThrowsArgumentOutOfRange()
    {
        await Driver.PutContentAsync("/blob", Bytes("abc"), Ct);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Driver.OpenReadAsync("/blob", -1, Ct));
    }

    // ---- writers ----

    [Fact]
    public async Task OpenWrite_NewPath_WritesContentAndCreatesParents()
    {
        await using (var writer = await Driver.OpenWriteAsync("/uploads/u1/data", append: false, Ct))
        {
            Assert.Equal(0, writer.Size);
            await writer.WriteAsync(Bytes("hello"), Ct);
            await writer.CommitAsync(Ct);
            Assert.Equal(5, writer.Size);
        }

        Assert.Equal(Bytes("hello"), await Driver.GetContentAsync("/uploads/u1/data", 100, Ct));
        Assert.True((await Driver.StatAsync("/uploads/u1", Ct)).IsDirectory);
    }

    [Fact]
    public async Task OpenWrite_Append_ContinuesExistingContentAndSizeIncludesIt()
    {
        await Driver.PutContentAsync("/upload/data", Bytes("hello "), Ct);

        await using (var writer = await Driver.OpenWriteAsync("/upload/data", append: true, Ct))
        {
            Assert.Equal(6, writer.Size);
            await writer.WriteAsync(Bytes("world"), Ct);
            Assert.Equal(11, writer.Size);
            await writer.CommitAsync(Ct);
        }

        Assert.Equal(Bytes("hello world"), await Driver.GetContentAsync("/upload/data", 100, Ct));
    }

    [Fact]
    public async Task OpenWrite_AppendToMissingPath_StartsEmpty()
    {
        await using (var writer = await Driver.OpenWriteAsync("/upload/new", append: true, Ct))
        {
            Assert.Equal(0, writer.Size);
            await writer.WriteAsync(Bytes("abc"), Ct);
            await writer.CommitAsync(Ct);
        }

        Assert.Equal(Bytes("abc"), await Driver.GetContentAsync("/upload/new", 100, Ct));
    }

    [Fact]
    public async Task OpenWrite_AppendInSeveralSessions_ResumesAtStoredSize()
    {
        for (var i = 0; i < 3; i++)
        {
            await using var writer = await Driver.OpenWriteAsync("/upload/data", append: true, Ct);
            Assert.Equal(i * 4, writer.Size);
            await writer.WriteAsync(Bytes($"ch{i}|"), Ct);
            await writer.CommitAsync(Ct);
        }

        Assert.Equal(Bytes("ch0|ch1|ch2|"), await Driver.GetContentAsync("/upload/data", 100, Ct));
    }

    [Fact]
    public async Task OpenWrite_WithoutAppend_ReplacesExistingContent()
    {
        await Driver.PutContentAsync("/upload/data", Bytes("old content that is long"), Ct);

        await using (var writer = await Driver.OpenWriteAsync("/upload/data", append: false, Ct))
        {
            Assert.Equal(0, writer.Size);
            await writer.WriteAsync(Bytes("new"), Ct);
            await writer.CommitAsync(Ct);
        }

        Assert.Equal(Bytes("new"), await Driver.GetContentAsync("/upload/data", 100, Ct));
    }

    [Fact]
    public async Task Writer_SizeGrowsWithEachWrite()
    {
        await using var writer = await Driver.OpenWriteAsync("/w", append: false, Ct);

        await writer.WriteAsync(new byte[10], Ct);
        Assert.Equal(10, writer.Size);
        await writer.WriteAsync(new byte[0], Ct);
        Assert.Equal(10, writer.Size);
        await writer.WriteAsync(new byte[7], Ct);
        Assert.Equal(17, writer.Size);
    }

    [Fact]
    public async Task Writer_Cancel_RemovesTheFile()
    {
        await using (var writer = await Driver.OpenWriteAsync("/upload/data", append: false, Ct))
        {
            await writer.WriteAsync(Bytes("discard me"), Ct);
            await writer.CancelAsync(Ct);
        }

        Assert.False(await ExistsAsync("/upload/data"));
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.GetContentAsync("/upload/data", 100, Ct));
    }

    [Fact]
    public async Task Writer_CancelAfterAppend_RemovesTheFile()
    {
        await Driver.PutContentAsync("/upload/data", Bytes("existing"), Ct);

        await using (var writer = await Driver.OpenWriteAsync("/upload/data", append: true, Ct))
        {
            await writer.WriteAsync(Bytes("more"), Ct);
            await writer.CancelAsync(Ct);
        }

        Assert.False(await ExistsAsync("/upload/data"));
    }

    [Fact]
    public async Task Writer_DisposeWithoutCommit_KeepsWrittenData()
    {
        await using (var writer = await Driver.OpenWriteAsync("/upload/data", append: false, Ct))
        {
            await writer.WriteAsync(Bytes("partial"), Ct);
        }

        Assert.Equal(Bytes("partial"), await Driver.GetContentAsync("/upload/data", 100, Ct));
        Assert.Equal(7, (await Driver.StatAsync("/upload/data", Ct)).Size);
    }

    // ---- new objects published whole ----

    [Fact]
    public async Task Create_IsInvisibleUntilCommitThenWholeUnderMissingParents()
    {
        var content = RandomBytes(300_000, 11);
        await using (var writer = await Driver.CreateAsync("/blobs/ab/abcdef/data", Ct))
        {
            await writer.WriteAsync(content.AsMemory(0, 100_000), Ct);
            await writer.WriteAsync(content.AsMemory(100_000), Ct);
            Assert.Equal(content.Length, writer.Size);
            Assert.False(await ExistsAsync("/blobs/ab/abcdef/data"));
            Assert.False(await ExistsAsync("/blobs"));

            await writer.CommitAsync(Ct);
        }

        Assert.Equal(content, await ReadAllAsync("/blobs/ab/abcdef/data"));
        Assert.Equal(content.Length, (await Driver.StatAsync("/blobs/ab/abcdef/data", Ct)).Size);
    }

    [Fact]
    public async Task Create_Empty_CommitsAnEmptyObject()
    {
        await using (var writer = await Driver.CreateAsync("/empty/data", Ct))
        {
            await writer.CommitAsync(Ct);
        }

        Assert.Empty(await Driver.GetContentAsync("/empty/data", 10, Ct));
    }

    [Fact]
    public async Task Create_DisposedWithoutCommit_LeavesNothingAndKeepsWhatWasThere()
    {
        await Driver.PutContentAsync("/kept/data", Bytes("old"), Ct);

        await using (var writer = await Driver.CreateAsync("/kept/data", Ct))
        {
            await writer.WriteAsync(Bytes("never published"), Ct);
        }

        await using (var writer = await Driver.CreateAsync("/never/data", Ct))
        {
            await writer.WriteAsync(RandomBytes(200_000, 12), Ct);
        }

        Assert.Equal(Bytes("old"), await Driver.GetContentAsync("/kept/data", 100, Ct));
        Assert.False(await ExistsAsync("/never/data"));
        Assert.False(await ExistsAsync("/never"));
    }

    [Fact]
    public async Task Create_Cancelled_LeavesWhatWasThere()
    {
        await Driver.PutContentAsync("/kept/data", Bytes("old"), Ct);

        await using (var writer = await Driver.CreateAsync("/kept/data", Ct))
        {
            await writer.WriteAsync(Bytes("discard me"), Ct);
            await writer.CancelAsync(Ct);
        }

        Assert.Equal(Bytes("old"), await Driver.GetContentAsync("/kept/data", 100, Ct));
    }

    [Fact]
    public async Task Create_CommittedOverExistingContent_ReplacesIt()
    {
        await Driver.PutContentAsync("/replaced/data", Bytes("old content"), Ct);

        await using (var writer = await Driver.CreateAsync("/replaced/data", Ct))
        {
            await writer.WriteAsync(Bytes("new"), Ct);
            Assert.Equal(Bytes("old content"), await Driver.GetContentAsync("/replaced/data", 100, Ct));
            await writer.CommitAsync(Ct);
        }

        Assert.Equal(Bytes("new"), await Driver.GetContentAsync("/replaced/data", 100, Ct));
    }

    [Fact]
    public async Task Create_ConcurrentWritersToSamePath_LeaveOneCompleteValue()
    {
        var values = Enumerable.Range(0, 8).Select(i => RandomBytes(50_000 + i, 100 + i)).ToArray();

        await Task.WhenAll(values.Select(async value =>
        {
            await using var writer = await Driver.CreateAsync("/contended/data", Ct);
            await writer.WriteAsync(value, Ct);
            await writer.CommitAsync(Ct);
        }));

        var stored = await ReadAllAsync("/contended/data");
        Assert.Contains(values, v => v.AsSpan().SequenceEqual(stored));
    }

    // ---- stat ----

    [Fact]
    public async Task Stat_File_ReportsPathSizeAndFileKind()
    {
        var before = DateTimeOffset.UtcNow.AddMinutes(-5);
        await Driver.PutContentAsync("/dir/file", new byte[123], Ct);

        var info = await Driver.StatAsync("/dir/file", Ct);

        Assert.Equal("/dir/file", info.Path);
        Assert.Equal(123, info.Size);
        Assert.False(info.IsDirectory);
        Assert.InRange(info.ModifiedAt, before, DateTimeOffset.UtcNow.AddMinutes(5));
    }

    [Fact]
    public async Task Stat_Directory_ReportsDirectoryKind()
    {
        await Driver.PutContentAsync("/dir/sub/file", new byte[5], Ct);

        var parent = await Driver.StatAsync("/dir/sub", Ct);
        var grandparent = await Driver.StatAsync("/dir", Ct);

        Assert.True(parent.IsDirectory);
        Assert.Equal("/dir/sub", parent.Path);
        Assert.True(grandparent.IsDirectory);
    }

    [Fact]
    public async Task Stat_MissingPath_ThrowsPathNotFound()
    {
        await Driver.PutContentAsync("/dir/file", new byte[5], Ct);

        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.StatAsync("/dir/other", Ct));
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.StatAsync("/nothing/here", Ct));
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.StatAsync("/di", Ct));
    }

    // ---- list ----

    [Fact]
    public async Task List_Directory_ReturnsDirectChildrenAsFullPaths()
    {
        await Driver.PutContentAsync("/a/b/file1", Bytes("1"), Ct);
        await Driver.PutContentAsync("/a/b/c/file2", Bytes("2"), Ct);
        await Driver.PutContentAsync("/a/b/d/e/file3", Bytes("3"), Ct);
        await Driver.PutContentAsync("/a/x", Bytes("x"), Ct);

        var children = await Driver.ListAsync("/a/b", Ct);

        Assert.Equal(["/a/b/c", "/a/b/d", "/a/b/file1"], children.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task List_Directory_ExcludesSiblingsSharingAPrefix()
    {
        await Driver.PutContentAsync("/a/b/inside", Bytes("1"), Ct);
        await Driver.PutContentAsync("/a/bc/outside", Bytes("2"), Ct);
        await Driver.PutContentAsync("/a/b-c", Bytes("3"), Ct);

        Assert.Equal(["/a/b/inside"], await Driver.ListAsync("/a/b", Ct));
    }

    [Fact]
    public async Task List_Root_ReturnsTopLevelEntries()
    {
        await Driver.PutContentAsync("/top1/nested/file", Bytes("1"), Ct);
        await Driver.PutContentAsync("/top2", Bytes("2"), Ct);

        var children = await Driver.ListAsync("/", Ct);

        Assert.Equal(["/top1", "/top2"], children.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task List_MissingDirectory_ThrowsPathNotFound()
    {
        await Driver.PutContentAsync("/a/file", Bytes("1"), Ct);

        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.ListAsync("/missing", Ct));
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.ListAsync("/a/missing", Ct));
    }

    // ---- move ----

    [Fact]
    public async Task Move_ToNewPath_MovesContentAndRemovesSource()
    {
        await Driver.PutContentAsync("/uploads/1/data", Bytes("payload"), Ct);
        await Driver.PutContentAsync("/blobs/existing", Bytes("other"), Ct);

        await Driver.MoveAsync("/uploads/1/data", "/blobs/moved", Ct);

        Assert.Equal(Bytes("payload"), await Driver.GetContentAsync("/blobs/moved", 100, Ct));
        Assert.False(await ExistsAsync("/uploads/1/data"));
    }

    [Fact]
    public async Task Move_OntoExistingFile_ReplacesDestination()
    {
        await Driver.PutContentAsync("/src", Bytes("new"), Ct);
        await Driver.PutContentAsync("/dst", Bytes("old and longer"), Ct);

        await Driver.MoveAsync("/src", "/dst", Ct);

        Assert.Equal(Bytes("new"), await Driver.GetContentAsync("/dst", 100, Ct));
        Assert.False(await ExistsAsync("/src"));
    }

    [Fact]
    public async Task Move_IntoMissingParents_CreatesThem()
    {
        await Driver.PutContentAsync("/src", Bytes("data"), Ct);

        await Driver.MoveAsync("/src", "/x/y/z/dst", Ct);

        Assert.Equal(Bytes("data"), await Driver.GetContentAsync("/x/y/z/dst", 100, Ct));
        Assert.True((await Driver.StatAsync("/x/y/z", Ct)).IsDirectory);
        Assert.True((await Driver.StatAsync("/x", Ct)).IsDirectory);
        Assert.Equal(["/x/y/z/dst"], await Driver.ListAsync("/x/y/z", Ct));
    }

    [Fact]
    public async Task Move_MissingSource_ThrowsPathNotFoundAndLeavesDestination()
    {
        await Driver.PutContentAsync("/dst", Bytes("keep"), Ct);

        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.MoveAsync("/missing", "/dst", Ct));

        Assert.Equal(Bytes("keep"), await Driver.GetContentAsync("/dst", 100, Ct));
    }

    // ---- delete ----

    [Fact]
    public async Task Delete_File_RemovesOnlyThatFile()
    {
        await Driver.PutContentAsync("/dir/a", Bytes("a"), Ct);
        await Driver.PutContentAsync("/dir/b", Bytes("b"), Ct);

        await Driver.DeleteAsync("/dir/a", Ct);

        Assert.False(await ExistsAsync("/dir/a"));
        Assert.Equal(Bytes("b"), await Driver.GetContentAsync("/dir/b", 100, Ct));
    }

    [Fact]
    public async Task Delete_Directory_RemovesEverythingBelowIt()
    {
        await Driver.PutContentAsync("/repo/_uploads/1/data", Bytes("1"), Ct);
        await Driver.PutContentAsync("/repo/_uploads/1/startedat", Bytes("t"), Ct);
        await Driver.PutContentAsync("/repo/_uploads/1/deep/er/file", Bytes("d"), Ct);
        await Driver.PutContentAsync("/repo/_uploads/10/data", Bytes("sibling with shared prefix"), Ct);

        await Driver.DeleteAsync("/repo/_uploads/1", Ct);

        Assert.False(await ExistsAsync("/repo/_uploads/1"));
        Assert.False(await ExistsAsync("/repo/_uploads/1/data"));
        Assert.False(await ExistsAsync("/repo/_uploads/1/deep/er/file"));
        Assert.Equal(Bytes("sibling with shared prefix"), await Driver.GetContentAsync("/repo/_uploads/10/data", 100, Ct));
        Assert.Equal(["/repo/_uploads/10"], await Driver.ListAsync("/repo/_uploads", Ct));
    }

    [Fact]
    public async Task Delete_MissingPath_ThrowsPathNotFound()
    {
        await Driver.PutContentAsync("/dir/a", Bytes("a"), Ct);

        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.DeleteAsync("/dir/missing", Ct));
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.DeleteAsync("/nothing", Ct));
    }

    [Fact]
    public async Task Delete_ThenPutContent_RecreatesPath()
    {
        await Driver.PutContentAsync("/dir/a", Bytes("1"), Ct);
        await Driver.DeleteAsync("/dir", Ct);

        await Driver.PutContentAsync("/dir/a", Bytes("2"), Ct);

        Assert.Equal(Bytes("2"), await Driver.GetContentAsync("/dir/a", 100, Ct));
    }

    [Fact]
    public async Task DeleteFile_File_RemovesOnlyThatFileAndSaysSo()
    {
        await Driver.PutContentAsync("/dir/a", Bytes("a"), Ct);
        await Driver.PutContentAsync("/dir/a-2", Bytes("sibling with shared prefix"), Ct);
        await Driver.PutContentAsync("/dir/b", Bytes("b"), Ct);

        Assert.True(await Driver.DeleteFileAsync("/dir/a", Ct));

        Assert.False(await ExistsAsync("/dir/a"));
        Assert.Equal(Bytes("sibling with shared prefix"), await Driver.GetContentAsync("/dir/a-2", 100, Ct));
        Assert.Equal(Bytes("b"), await Driver.GetContentAsync("/dir/b", 100, Ct));
        Assert.False(await Driver.DeleteFileAsync("/dir/a", Ct));
    }

    [Fact]
    public async Task DeleteFile_MissingPathOrDirectory_ReturnsFalseAndDeletesNothing()
    {
        await Driver.PutContentAsync("/dir/sub/x", Bytes("x"), Ct);

        Assert.False(await Driver.DeleteFileAsync("/dir/sub", Ct));
        Assert.False(await Driver.DeleteFileAsync("/dir/missing", Ct));
        Assert.False(await Driver.DeleteFileAsync("/nothing/at/all", Ct));
        Assert.False(await Driver.DeleteFileAsync("/dir/sub/x/below-a-file", Ct));

        Assert.Equal(Bytes("x"), await Driver.GetContentAsync("/dir/sub/x", 100, Ct));
    }

    // ---- list files ----

    [Fact]
    public async Task ListFiles_ReturnsEveryFileBelowAtAnyDepthWithItsSizeAndTime()
    {
        await Driver.PutContentAsync("/t/a", Bytes("abc"), Ct);
        await Driver.PutContentAsync("/t/b/c", Bytes("hello"), Ct);
        await Driver.PutContentAsync("/t/b/d/e", Bytes("e"), Ct);
        await Driver.PutContentAsync("/t-sibling/x", Bytes("not below /t"), Ct);
        await Driver.PutContentAsync("/t2/y", Bytes("nor this"), Ct);

        var files = (await Driver.ListFilesAsync("/t", Ct)).OrderBy(f => f.Path, StringComparer.Ordinal).ToList();

        Assert.Equal(["/t/a", "/t/b/c", "/t/b/d/e"], files.Select(f => f.Path));
        Assert.Equal([3L, 5L, 1L], files.Select(f => f.Size));
        Assert.All(files, f => Assert.False(f.IsDirectory));
        foreach (var file in files)
        {
            // The listing's time and a stat's may differ in precision (an object store's listing has milliseconds, its
            // HEAD whole seconds), never by more.
            var stat = await Driver.StatAsync(file.Path, Ct);
            Assert.InRange((file.ModifiedAt - stat.ModifiedAt).Duration(), TimeSpan.Zero, TimeSpan.FromSeconds(1));
        }
    }

    [Fact]
    public async Task ListFiles_MissingDirectoryOrAFile_IsEmpty()
    {
        await Driver.PutContentAsync("/dir/file", Bytes("x"), Ct);

        Assert.Empty(await Driver.ListFilesAsync("/missing", Ct));
        Assert.Empty(await Driver.ListFilesAsync("/dir/missing", Ct));
        Assert.Empty(await Driver.ListFilesAsync("/dir/file", Ct));
        Assert.Equal(["/dir/file"], (await Driver.ListFilesAsync("/dir", Ct)).Select(f => f.Path));
    }

    [Fact]
    public async Task ListFiles_AfterDeletes_ShowsOnlyWhatIsLeft()
    {
        await Driver.PutContentAsync("/g/1/data", Bytes("1"), Ct);
        await Driver.PutContentAsync("/g/2/data", Bytes("2"), Ct);
        await Driver.PutContentAsync("/g/3/data", Bytes("3"), Ct);

        await Driver.DeleteFileAsync("/g/1/data", Ct);
        await Driver.DeleteAsync("/g/2", Ct);

        Assert.Equal(["/g/3/data"], (await Driver.ListFilesAsync("/g", Ct)).Select(f => f.Path));
    }

    // ---- misc ----

    [Fact]
    public async Task RedirectUri_IsNullOnlyForDriversThatServeBytesThemselves()
    {
        await Driver.PutContentAsync("/blob", Bytes("x"), Ct);

        var redirect = await Driver.RedirectUriAsync("/blob", "GET", Ct);
        Assert.Equal(ServesBytesItself, redirect is null);
    }

    [Fact]
    public void Name_IsSet()
    {
        Assert.False(string.IsNullOrWhiteSpace(Driver.Name));
    }

    // ---- path validation ----

    public static TheoryData<string> InvalidPaths =>
    [
        "",
        "relative",
        "relative/path",
        "/a/../b",
        "/a/./b",
        "/..",
        "/.",
        "/a/..",
        "/a/.",
        "/../a",
        "/a//b",
        "//a",
        "/a b",
        "/a/",
        "/a\\b",
        "/a%2fb",
        "/a:b",
        "/caf\u00e9",
        "/a\tb",
    ];

    [Theory]
    [MemberData(nameof(InvalidPaths))]
    public async Task InvalidPath_IsRejectedByEveryOperation(string path)
    {
        await Driver.PutContentAsync("/valid", Bytes("x"), Ct);

        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.GetContentAsync(path, 100, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.PutContentAsync(path, Bytes("x"), Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.OpenReadAsync(path, 0, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.OpenWriteAsync(path, append: true, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.StatAsync(path, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.ListAsync(path, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.MoveAsync("/valid", path, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.MoveAsync(path, "/valid2", Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.DeleteAsync(path, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.DeleteFileAsync(path, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.ListFilesAsync(path, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.RedirectUriAsync(path, "GET", Ct));
        Assert.Equal(Bytes("x"), await Driver.GetContentAsync("/valid", 100, Ct));
    }

    [Fact]
    public async Task RootPath_IsListableButNotAFile()
    {
        await Driver.ListAsync("/", Ct);

        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.PutContentAsync("/", Bytes("x"), Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.GetContentAsync("/", 100, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.StatAsync("/", Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.DeleteAsync("/", Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.DeleteFileAsync("/", Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.ListFilesAsync("/", Ct));
    }

    [Fact]
    public async Task InvalidPath_LongerThan4096Characters_IsRejected()
    {
        var path = "/" + new string('a', 4096);

        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.StatAsync(path, Ct));
    }

    /// <summary>
    /// <see cref="ValidatingDriver"/>'s grammar ends in <c>$</c>, which in .NET matches before a final
    /// newline, so these paths reach the driver (the filesystem then creates names with a line feed).
    /// </summary>
    [Theory]
    [InlineData("/a\n")]
    [InlineData("/docker/registry/v2/x\n")]
    [InlineData("/a/..\n")]
    public async Task InvalidPath_TrailingNewline_IsRejected(string path)
    {
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.PutContentAsync(path, Bytes("x"), Ct));
    }

    // ---- concurrency and volume ----

    [Fact]
    public async Task PutContent_ConcurrentWritersToSamePath_LeaveOneCompleteValue()
    {
        const int writers = 32;
        const int size = 64 * 1024;
        const string path = "/race/parent/missing/object";
        var values = Enumerable.Range(0, writers).Select(i => Enumerable.Repeat((byte)(i + 1), size).ToArray()).ToArray();

        await Task.WhenAll(values.Select(value => Task.Run(() => Driver.PutContentAsync(path, value, Ct))));

        var stored = await Driver.GetContentAsync(path, size * 2, Ct);
        Assert.Equal(size, stored.Length);
        Assert.Contains(values, value => value.AsSpan().SequenceEqual(stored));
        Assert.Equal([path], await Driver.ListAsync("/race/parent/missing", Ct));
    }

    [Fact]
    public async Task PutContent_ConcurrentReaders_NeverSeeAPartialValue()
    {
        const int size = 256 * 1024;
        const string path = "/race/object";
        await Driver.PutContentAsync(path, Enumerable.Repeat((byte)0, size).ToArray(), Ct);
        using var done = new CancellationTokenSource();

        var readers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var reads = 0;
            while (!done.IsCancellationRequested || reads == 0)
            {
                var content = await Driver.GetContentAsync(path, size, Ct);
                Assert.Equal(size, content.Length);
                Assert.True(content.AsSpan().IndexOfAnyExcept(content[0]) < 0, "a read saw bytes of two different writes");
                reads++;
            }
        })).ToArray();

        var writes = Enumerable.Range(1, 16).Select(i => Task.Run(() => Driver.PutContentAsync(path, Enumerable.Repeat((byte)i, size).ToArray(), Ct)));
        await Task.WhenAll(writes);
        await done.CancelAsync();
        await Task.WhenAll(readers);
    }

    [Fact]
    public async Task PutContent_ConcurrentSiblingsUnderMissingParents_AllSurvive()
    {
        const int writers = 32;

        await Task.WhenAll(Enumerable.Range(0, writers)
            .Select(i => Task.Run(() => Driver.PutContentAsync($"/fresh/deep/tree/file{i}", Bytes($"value {i}"), Ct))));

        var children = await Driver.ListAsync("/fresh/deep/tree", Ct);
        Assert.Equal(writers, children.Count);
        for (var i = 0; i < writers; i++)
        {
            Assert.Equal(Bytes($"value {i}"), await Driver.GetContentAsync($"/fresh/deep/tree/file{i}", 100, Ct));
        }
    }

    [Fact]
    public async Task Writer_LargeStreamedWrite_RoundTripsByteExact()
    {
        const int chunkSize = 64 * 1024;
        const int chunks = 320; // 20 MiB
        const long total = (long)chunkSize * chunks;
        var random = new Random(1234);
        var chunk = new byte[chunkSize];
        using var written = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] middle = [];

        await using (var writer = await Driver.OpenWriteAsync("/uploads/big/data", append: false, Ct))
        {
            for (var i = 0; i < chunks; i++)
            {
                random.NextBytes(chunk);
                if (i == chunks / 2)
                {
                    middle = chunk[..100];
                }

                written.AppendData(chunk);
                await writer.WriteAsync(chunk, Ct);
            }

            Assert.Equal(total, writer.Size);
            await writer.CommitAsync(Ct);
        }

        Assert.Equal(total, (await Driver.StatAsync("/uploads/big/data", Ct)).Size);

        using var read = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var readTotal = 0L;
        await using (var stream = await Driver.OpenReadAsync("/uploads/big/data", 0, Ct))
        {
            var buffer = new byte[100_000];
            int n;
            while ((n = await stream.ReadAsync(buffer, Ct)) > 0)
            {
                read.AppendData(buffer, 0, n);
                readTotal += n;
            }
        }

        Assert.Equal(total, readTotal);
        Assert.Equal(written.GetHashAndReset(), read.GetHashAndReset());

        await using (var stream = await Driver.OpenReadAsync("/uploads/big/data", (long)chunkSize * (chunks / 2), Ct))
        {
            var buffer = new byte[100];
            await stream.ReadExactlyAsync(buffer, Ct);
            Assert.Equal(middle, buffer);
        }
    }
}
