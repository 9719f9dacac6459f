namespace Berth.Storage.Maintenance;

/// <summary>
/// How a <see cref="GarbageCollector"/> run behaves. Start from <see cref="Online"/> (the server's
/// scheduled runs) or <see cref="Offline"/> (<c>berth garbage-collect</c>) and adjust with <c>with</c>.
/// </summary>
/// <remarks>
/// The grace period: content (blob data, <c>_layers</c> links, untagged manifest revisions) modified
/// less than <see cref="GracePeriod"/> before the run started is never collected. Online runs need
/// it because a push uploads layers before the manifest that references them, and pushes an
/// index's children untagged before the index; one hour covers any sane push and also the clock
/// skew between Berth hosts and a storage backend that stamps its own modification times (S3).
/// The offline CLI defaults to zero, as registry:2's collector has none: run against a stopped or
/// read-only registry, the result is exact. Running it against a live registry is still safe
/// against corruption (the quarantine protocol applies), but it may fail pushes in flight, so an
/// operator who must do that should pass a grace period.
/// </remarks>
public sealed record GarbageCollectionOptions
{
    /// <summary>The grace period of scheduled online runs.</summary>
    public static readonly TimeSpan DefaultOnlineGracePeriod = TimeSpan.FromHours(1);

    /// <summary>How long online runs wait between quarantining blobs and looking for late references.</summary>
    public static readonly TimeSpan DefaultSettleDelay = TimeSpan.FromSeconds(5);

    /// <summary>Defaults for runs by the server while it serves pushes and pulls.</summary>
    public static GarbageCollectionOptions Online { get; } = new();

    /// <summary>Defaults for <c>berth garbage-collect</c>: registry:2's semantics (no grace period, no settle delay).</summary>
    public static GarbageCollectionOptions Offline { get; } = new() { GracePeriod = TimeSpan.Zero, SettleDelay = TimeSpan.Zero };

    /// <summary>Report what would be deleted and change nothing (<c>--dry-run</c>).</summary>
    public bool DryRun { get; init; }

    /// <summary>
    /// Also delete manifests that no tag reaches (<c>--delete-untagged</c>): reached means tagged,
    /// a child of a reached index (recursively), or a referrer whose subject is reached.
    /// </summary>
    public bool DeleteUntagged { get; init; }

    /// <summary>Content younger than this at the start of the run is kept. Must not be negative.</summary>
    public TimeSpan GracePeriod { get; init; } = DefaultOnlineGracePeriod;

    /// <summary>
    /// Pause between quarantining blobs and the re-scan for references that appeared during the
    /// run, so that a manifest push which checked its blobs just before they were quarantined has
    /// written its revision link by the time the re-scan looks. Pushes that perform
    /// <see cref="CollectionHandshake"/> do not depend on it; it remains a second line of defence
    /// and shortens the time a re-used blob is unreadable on paths without the handshake. Zero for
    /// offline runs.
    /// </summary>
    public TimeSpan SettleDelay { get; init; } = DefaultSettleDelay;

    /// <summary>How many storage reads (manifests, blob stats) a run keeps in flight at once.</summary>
    public int MaxConcurrency { get; init; } = 8;

    /// <summary>Test seams: callbacks between phases, to act as a concurrent client would.</summary>
    internal GarbageCollectionHooks? Hooks { get; init; }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(GracePeriod, TimeSpan.Zero, nameof(GracePeriod));
        ArgumentOutOfRangeException.ThrowIfLessThan(SettleDelay, TimeSpan.Zero, nameof(SettleDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrency, 1, nameof(MaxConcurrency));
    }
}

/// <summary>Callbacks a test uses to play a client that writes while a run is in progress.</summary>
internal sealed class GarbageCollectionHooks
{
    /// <summary>After the mark phase, before anything is deleted.</summary>
    public Func<CancellationToken, Task>? AfterMark { get; init; }

    /// <summary>After untagged manifests are deleted and candidate blobs quarantined, before the re-scan.</summary>
    public Func<CancellationToken, Task>? AfterQuarantine { get; init; }

    /// <summary>After the re-scan, before quarantined blobs are deleted for good.</summary>
    public Func<CancellationToken, Task>? BeforePurge { get; init; }
}

/// <summary>What a <see cref="GarbageCollector"/> run found and did. In a dry run the deletion figures say what a real run would delete.</summary>
public sealed record GarbageCollectionReport
{
    public required bool DryRun { get; init; }

    /// <summary>When the run started (the reference point of the grace period).</summary>
    public required DateTimeOffset StartedAt { get; init; }

    public required TimeSpan Duration { get; init; }

    /// <summary>Repositories walked: directories holding any of <c>_manifests</c>, <c>_layers</c>, <c>_uploads</c>.</summary>
    public required int Repositories { get; init; }

    /// <summary>Manifest revision links read, over all repositories.</summary>
    public required int ManifestsScanned { get; init; }

    /// <summary>Revision links removed as untagged (only with <see cref="GarbageCollectionOptions.DeleteUntagged"/>).</summary>
    public required int ManifestsDeleted { get; init; }

    /// <summary>Blobs in the content store when the sweep began.</summary>
    public required int BlobsScanned { get; init; }

    /// <summary>Distinct digests marked as referenced.</summary>
    public required int BlobsMarked { get; init; }

    /// <summary>Unreferenced blobs kept because they, or a link to them, are younger than the grace period.</summary>
    public required int BlobsInGracePeriod { get; init; }

    public required int BlobsDeleted { get; init; }

    public required long BytesFreed { get; init; }

    /// <summary>Repository <c>_layers</c> links removed (to deleted blobs, or dangling).</summary>
    public required int LinksRemoved { get; init; }

    /// <summary>Quarantined blobs put back because a reference to them appeared during the run.</summary>
    public required int BlobsRestored { get; init; }

    /// <summary>Blobs found in quarantine at the start, left by an interrupted run, and put back.</summary>
    public required int QuarantineRecovered { get; init; }
}
