using Berth.Server.Configuration;

namespace Berth.Server.Tests.Configuration;

public sealed class GoDurationTests
{
    [Theory]
    [InlineData("0", 0L)]
    [InlineData("10s", 10 * TimeSpan.TicksPerSecond)]
    [InlineData("168h", 168 * TimeSpan.TicksPerHour)]
    [InlineData("1h30m", 90 * TimeSpan.TicksPerMinute)]
    [InlineData("1.5h", 90 * TimeSpan.TicksPerMinute)]
    [InlineData(".5s", 500 * TimeSpan.TicksPerMillisecond)]
    [InlineData("300ms", 300 * TimeSpan.TicksPerMillisecond)]
    [InlineData("2h45m30.5s", (2 * 3600 + 45 * 60 + 30) * TimeSpan.TicksPerSecond + 500 * TimeSpan.TicksPerMillisecond)]
    [InlineData("1500us", 15_000L)]
    [InlineData("1500\u00b5s", 15_000L)]
    [InlineData("1500\u03bcs", 15_000L)]
    [InlineData("250ns", 2L)]
    [InlineData("+5m", 5 * TimeSpan.TicksPerMinute)]
    [InlineData("-1s", -TimeSpan.TicksPerSecond)]
    public void TryParse_GoDuration_ReturnsItsValue(string text, long expectedTicks)
    {
        Assert.True(GoDuration.TryParse(text, out var duration));
        Assert.Equal(expectedTicks, duration.Ticks);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-")]
    [InlineData("10")]
    [InlineData("s")]
    [InlineData("1d")]
    [InlineData("1 s")]
    [InlineData("1.2.3s")]
    [InlineData("h1")]
    [InlineData("1hh")]
    [InlineData("99999999999h")]
    public void TryParse_NotAGoDuration_ReturnsFalse(string text)
    {
        Assert.False(GoDuration.TryParse(text, out _));
    }
}
