namespace Berth.Storage.Maintenance;

/// <summary>
/// A token bucket on bytes, so a scrub reading the whole store leaves disk and network bandwidth to
/// the registry's clients. The bucket holds at most one second of bytes and starts full; a read
/// takes its bytes up front and may drive the bucket into debt, which the caller then waits out.
/// Over any long stretch the average is therefore the configured rate, whatever the read sizes.
/// </summary>
public sealed class ByteRateLimiter
{
    private readonly double _bytesPerSecond;
    private readonly double _capacity;
    private readonly TimeProvider _time;
    private double _tokens;
    private DateTimeOffset _refilledAt;

    /// <param name="bytesPerSecond">The average rate; must be positive (an unlimited scrub has no limiter).</param>
    /// <param name="time">The clock the bucket refills by.</param>
    public ByteRateLimiter(long bytesPerSecond, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytesPerSecond, 1);
        ArgumentNullException.ThrowIfNull(time);
        _bytesPerSecond = bytesPerSecond;
        _capacity = bytesPerSecond;
        _tokens = _capacity;
        _time = time;
        _refilledAt = time.GetUtcNow();
    }

    /// <summary>Takes <paramref name="bytes"/> from the bucket and returns how long to wait before reading them.</summary>
    public TimeSpan Take(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        // Wall-clock time: a clock set back only means no refill this time, never a negative one.
        var now = _time.GetUtcNow();
        var elapsed = now > _refilledAt ? now - _refilledAt : TimeSpan.Zero;
        _refilledAt = now;
        _tokens = Math.Min(_capacity, _tokens + (elapsed.TotalSeconds * _bytesPerSecond));
        _tokens -= bytes;
        return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / _bytesPerSecond);
    }

    /// <summary>Takes <paramref name="bytes"/> and waits until the rate allows them.</summary>
    public async ValueTask WaitAsync(long bytes, CancellationToken cancellationToken)
    {
        var wait = Take(bytes);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, _time, cancellationToken);
        }
    }
}
