namespace Berth.Storage.Maintenance;

/// <summary>
/// Asks a scheduled online garbage collection to run now instead of at its next interval (the web UI offers it after
/// a delete). Requests made while one is pending, or while a collection runs, are one request: a collection started
/// after the request sees every delete made before it.
/// </summary>
public sealed class CollectionRequests
{
    private readonly SemaphoreSlim _pending = new(0, 1);

    /// <summary>True when a scheduled collector is running in this process and so will act on <see cref="Request"/>.</summary>
    public bool Scheduled { get; private set; }

    /// <summary>Asks for a collection as soon as the collector is free.</summary>
    public void Request()
    {
        try
        {
            _pending.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already asked; one run covers both.
        }
    }

    /// <summary>Called by the collector's loop once it runs, so <see cref="Scheduled"/> tells the truth.</summary>
    public void CollectorStarted() => Scheduled = true;

    /// <summary>Completes when a collection was requested (and consumes the request).</summary>
    public Task WaitAsync(CancellationToken cancellationToken) => _pending.WaitAsync(cancellationToken);
}
