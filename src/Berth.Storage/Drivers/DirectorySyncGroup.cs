using System.Collections.Concurrent;

namespace Berth.Storage.Drivers;

/// <summary>
/// Group commit for directory syncs: concurrent writers that each renamed a name into the same directory share one
/// fsync of it. A sync that <em>starts</em> after a writer's rename makes that rename durable, so a writer that finds a
/// sync of its directory already running waits for it to end and then joins the next one, which one of the waiting
/// writers runs for all of them; a writer never returns before a sync that began after its own rename has succeeded.
/// </summary>
/// <remarks>
/// Many pushers of one repository rename into the same few directories (<c>_layers/sha256</c>,
/// <c>_manifests/revisions/sha256</c>, <c>_manifests/tags</c>), and each paid a whole directory sync of its own. A failed
/// sync advances nothing: each writer it was run for then runs (or joins) another, and sees its own error if that fails too.
/// </remarks>
internal sealed class DirectorySyncGroup(Action<string> sync)
{
    private readonly ConcurrentDictionary<string, DirectoryState> _directories = new(StringComparer.Ordinal);

    /// <summary>This process's group, syncing with <see cref="DirectorySync.Sync"/>.</summary>
    public static DirectorySyncGroup Native { get; } = new(DirectorySync.Sync);

    /// <summary>Returns once a sync of <paramref name="directory"/> begun after this call has succeeded.</summary>
    /// <exception cref="IOException">The sync this writer ran failed.</exception>
    public void Sync(string directory)
    {
        var state = _directories.GetOrAdd(directory, static _ => new DirectoryState());
        long covered;
        lock (state)
        {
            // Every rename into the directory before this line is covered by any sync that starts after it.
            var ticket = ++state.Requested;
            state.Waiting++;
            while (true)
            {
                if (state.Completed >= ticket)
                {
                    Leave(directory, state);
                    return;
                }

                if (!state.Running)
                {
                    state.Running = true;
                    covered = state.Requested;
                    break;
                }

                Monitor.Wait(state);
            }
        }

        var succeeded = false;
        try
        {
            sync(directory);
            succeeded = true;
        }
        finally
        {
            lock (state)
            {
                state.Running = false;
                if (succeeded)
                {
                    state.Completed = Math.Max(state.Completed, covered);
                }

                Leave(directory, state);
                Monitor.PulseAll(state);
            }
        }
    }

    /// <summary>Under the state's lock: one writer fewer; the last one out removes the entry, so idle directories cost nothing.</summary>
    private void Leave(string directory, DirectoryState state)
    {
        state.Waiting--;
        if (state.Waiting == 0 && !state.Running)
        {
            // A writer that fetched this entry just before the removal still works on it alone, correctly; it only
            // misses sharing with writers that make a new entry.
            _directories.TryRemove(new KeyValuePair<string, DirectoryState>(directory, state));
        }
    }

    /// <summary>The counters of one directory (guarded by locking the instance).</summary>
    private sealed class DirectoryState
    {
        public long Requested;
        public long Completed;
        public int Waiting;
        public bool Running;
    }
}
