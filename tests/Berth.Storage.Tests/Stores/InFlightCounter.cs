namespace Berth.Storage.Tests.Stores;

/// <summary>Counts the calls of one kind in flight and remembers the most there ever were at once.</summary>
internal sealed class InFlightCounter
{
    private int _now;
    private int _most;

    public int Most => _most;

    /// <summary>Counts a call until the returned scope is disposed.</summary>
    public Scope Enter()
    {
        var now = Interlocked.Increment(ref _now);
        int seen;
        while (now > (seen = _most) && Interlocked.CompareExchange(ref _most, now, seen) != seen)
        {
        }

        return new Scope(this);
    }

    public readonly struct Scope(InFlightCounter counter) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref counter._now);
    }
}
