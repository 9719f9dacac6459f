using Berth.Storage.Maintenance;

namespace Berth.Storage.Tests.Maintenance;

/// <summary>The token bucket under a clock that moves only when told: exact waits, no timing.</summary>
public sealed class ByteRateLimiterTests
{
    private readonly ManualClock _clock = new(new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Take_WithinTheFirstSecondsWorth_DoesNotWait()
    {
        var limiter = new ByteRateLimiter(1000, _clock);

        Assert.Equal(TimeSpan.Zero, limiter.Take(600));
        Assert.Equal(TimeSpan.Zero, limiter.Take(400));
    }

    [Fact]
    public void Take_BeyondTheBucket_WaitsOutTheDebtAtTheRate()
    {
        var limiter = new ByteRateLimiter(1000, _clock);
        limiter.Take(1000);

        Assert.Equal(TimeSpan.FromMilliseconds(500), limiter.Take(500));
        _clock.Advance(TimeSpan.FromMilliseconds(500));
        // The debt is paid; another 250 bytes cost a quarter second.
        Assert.Equal(TimeSpan.FromMilliseconds(250), limiter.Take(250));
    }

    [Fact]
    public void Take_ManyReadsWhoseWaitsAreHonoured_AverageTheRate()
    {
        const long rate = 4096;
        var limiter = new ByteRateLimiter(rate, _clock);
        var elapsed = TimeSpan.Zero;
        long total = 0;
        for (var i = 0; i < 1000; i++)
        {
            var read = 100 + (i * 37 % 3000);
            total += read;
            var wait = limiter.Take(read);
            _clock.Advance(wait);
            elapsed += wait;
        }

        // Everything beyond the initial full bucket was paid for at exactly the rate.
        Assert.Equal((total - rate) / (double)rate, elapsed.TotalSeconds, precision: 3);
    }

    [Fact]
    public void Take_AfterALongIdle_RefillsOnlyOneSecondsWorth()
    {
        var limiter = new ByteRateLimiter(1000, _clock);
        limiter.Take(1000);
        _clock.Advance(TimeSpan.FromHours(1));

        Assert.Equal(TimeSpan.Zero, limiter.Take(1000));
        Assert.Equal(TimeSpan.FromSeconds(1), limiter.Take(1000));
    }

    [Fact]
    public void Constructor_ZeroRate_IsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ByteRateLimiter(0, _clock));
}
