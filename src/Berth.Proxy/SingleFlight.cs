using System.Collections.Concurrent;

namespace Berth.Proxy;

/// <summary>
/// Runs at most one operation per key at a time: callers that arrive while one runs wait for its result instead of
/// starting their own. The operation runs on its own cancellation, not the first caller's, so a client that goes
/// away does not fail the others; a caller that gives up stops waiting and nothing else.
/// </summary>
internal sealed class SingleFlight<TKey, TResult>
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, TaskCompletionSource<TResult>> _running = new();

    /// <summary>Runs <paramref name="operation"/> for <paramref name="key"/>, or joins the run already in progress.</summary>
    /// <param name="key">What the operation is about.</param>
    /// <param name="operation">The work, started only when no run for the key is in progress.</param>
    /// <param name="joined">Called when this call joined a run another caller started.</param>
    /// <param name="cancellationToken">Stops this caller's wait, not the run.</param>
    public Task<TResult> RunAsync(TKey key, Func<Task<TResult>> operation, Action? joined, CancellationToken cancellationToken)
    {
        var mine = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var flight = _running.GetOrAdd(key, mine);
        if (ReferenceEquals(flight, mine))
        {
            _ = RunIntoAsync(key, mine, operation);
        }
        else
        {
            joined?.Invoke();
        }

        return flight.Task.WaitAsync(cancellationToken);
    }

    private async Task RunIntoAsync(TKey key, TaskCompletionSource<TResult> flight, Func<Task<TResult>> operation)
    {
        try
        {
            // Off the caller's stack: the run must not share its synchronous part with whoever started it.
            flight.TrySetResult(await Task.Run(operation));
        }
        catch (Exception ex)
        {
            flight.TrySetException(ex);
        }
        finally
        {
            _running.TryRemove(new KeyValuePair<TKey, TaskCompletionSource<TResult>>(key, flight));
        }
    }
}
