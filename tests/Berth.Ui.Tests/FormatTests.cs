using Berth.Ui.Components;

namespace Berth.Ui.Tests;

public sealed class FormatTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(0L, "0 B")]
    [InlineData(1L, "1 B")]
    [InlineData(1023L, "1023 B")]
    [InlineData(1024L, "1 KiB")]
    [InlineData(1536L, "1.5 KiB")]
    [InlineData(1048576L, "1 MiB")]
    [InlineData(5L * 1024 * 1024 * 1024 + 512L * 1024 * 1024, "5.5 GiB")]
    [InlineData(1099511627776L, "1 TiB")]
    [InlineData(1125899906842624L, "1 PiB")]
    [InlineData(long.MaxValue, "8192 PiB")]
    public void Bytes_Size_ReadsInBinaryUnits(long bytes, string expected)
    {
        Assert.Equal(expected, Format.Bytes(bytes));
    }

    [Fact]
    public void Bytes_Unknown_IsADash()
    {
        Assert.Equal("–", Format.Bytes(null));
    }

    [Theory]
    [InlineData(0, "just now")]
    [InlineData(-3600, "just now")]
    [InlineData(89, "just now")]
    [InlineData(100, "2 minutes ago")]
    [InlineData(45 * 60, "45 minutes ago")]
    [InlineData(3 * 3600, "3 hours ago")]
    [InlineData(35 * 3600, "35 hours ago")]
    [InlineData(2 * 86400, "2 days ago")]
    [InlineData(59 * 86400, "59 days ago")]
    [InlineData(91 * 86400, "3 months ago")]
    [InlineData(3 * 365 * 86400, "3 years ago")]
    public void Ago_Age_ReadsAsWords(int seconds, string expected)
    {
        Assert.Equal(expected, Format.Ago(Now.AddSeconds(-seconds), Now));
    }

    [Fact]
    public void Ago_Unknown_IsEmpty()
    {
        Assert.Equal("", Format.Ago(null, Now));
    }

    [Fact]
    public void Count_One_IsSingular()
    {
        Assert.Equal("1 tag", Format.Count(1, "tag"));
        Assert.Equal("0 tags", Format.Count(0, "tag"));
        Assert.Equal("5,000 tags", Format.Count(5000, "tag"));
    }

    [Fact]
    public void Count_Repository_IsSpelledRepositories()
    {
        Assert.Equal("1 repository", Format.Count(1, "repository"));
        Assert.Equal("120 repositories", Format.Count(120, "repository"));
        Assert.Equal("2 days ago", Format.Ago(Now.AddDays(-2), Now));
    }

    [Fact]
    public void Time_Offset_IsShownInUtc()
    {
        var local = new DateTimeOffset(2026, 12, 6, 14, 30, 0, TimeSpan.FromHours(2));

        Assert.Equal("2026-12-06 12:30 UTC", Format.Time(local));
        Assert.Equal("2026-12-06T12:30:00Z", Format.Iso(local));
        Assert.Equal("–", Format.Time(null));
    }
}
