using Berth.Storage.Drivers;

namespace Berth.Storage.Tests.Drivers;

/// <summary>
/// The filesystem driver's native read on its own (Linux only, as the driver uses it): the driver suite checks the
/// driver's answers, these check that the native path gives them itself instead of leaving them to the portable read.
/// </summary>
public sealed class WholeFileReadTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("berth-read-").FullName;

    public WholeFileReadTests()
    {
        Assert.True(WholeFileRead.IsSupported, "the filesystem driver reads natively on Linux, where the tests run");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(0)]
    [InlineData(71)]
    [InlineData(WholeFileRead.FirstReadBytes - 1)]
    [InlineData(WholeFileRead.FirstReadBytes)]
    [InlineData(WholeFileRead.FirstReadBytes + 1)]
    [InlineData(300_000)]
    public void TryRead_AnySizeWithinTheLimit_ReadsItWhole(int size)
    {
        var content = new byte[size];
        new Random(size).NextBytes(content);
        var path = Path.Combine(_directory, "file");
        File.WriteAllBytes(path, content);

        Assert.Equal(WholeFileRead.Outcome.Read, WholeFileRead.TryRead(path, size, out var read, out var length));
        Assert.Equal(content, read);
        Assert.Equal(size, length);
    }

    [Theory]
    [InlineData(71, 70)]
    [InlineData(WholeFileRead.FirstReadBytes, WholeFileRead.FirstReadBytes - 1)]
    [InlineData(5000, 4000)]
    [InlineData(1, 0)]
    public void TryRead_OverTheLimit_IsTooLargeWithItsLength(int size, int maxBytes)
    {
        var path = Path.Combine(_directory, "file");
        File.WriteAllBytes(path, new byte[size]);

        Assert.Equal(WholeFileRead.Outcome.TooLarge, WholeFileRead.TryRead(path, maxBytes, out _, out var length));
        Assert.Equal(size, length);
    }

    [Fact]
    public void TryRead_AbsentFileDirectoryOrPathBelowAFile_IsMissing()
    {
        var file = Path.Combine(_directory, "file");
        File.WriteAllText(file, "x");

        Assert.Equal(WholeFileRead.Outcome.Missing, WholeFileRead.TryRead(Path.Combine(_directory, "absent"), 100, out _, out _));
        Assert.Equal(WholeFileRead.Outcome.Missing, WholeFileRead.TryRead(Path.Combine(_directory, "no", "parent"), 100, out _, out _));
        Assert.Equal(WholeFileRead.Outcome.Missing, WholeFileRead.TryRead(_directory, 100, out _, out _));
        Assert.Equal(WholeFileRead.Outcome.Missing, WholeFileRead.TryRead(Path.Combine(file, "below"), 100, out _, out _));
    }
}
