using Berth.Storage.Caching;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging;

namespace Berth.Storage.Maintenance;

/// <summary>
/// Mark and sweep over the whole layout, safe to run while the registry serves pushes and pulls.
/// </summary>
/// <remarks>
/// <para><b>Mark.</b> For every repository (every directory below <c>repositories/</c> holding an
/// underscore directory), every revision under <c>_manifests/revisions</c> is kept unless
/// <see cref="GarbageCollectionOptions.DeleteUntagged"/> is set and no tag reaches it. A tag reaches
/// its manifest, an index reaches its children (recursively), and a kept manifest reaches the
/// manifests whose <c>subject</c> it is (from the referrers index and from the manifests' own
/// <c>subject</c> fields, so volumes written by registry:2, which has no index, work too). A kept
/// manifest marks its own blob, its config and its layers (not foreign ones). Manifests that
/// <see cref="Berth.Core.Manifests.ManifestParser"/> rejects (schema1, unknown formats) and revisions
/// whose content is missing are always kept, and every digest they name is marked. As in
/// registry:2, an untagged manifest whose digest another repository marks is kept too, and
/// only revisions count: a tag naming a manifest without a revision link keeps nothing.</para>
/// <para><b>Sweep.</b> Untagged, unreached manifests lose their revision link, their referrers
/// index entry and their tag-history entries. A blob is collected when it is unmarked, its data is
/// older than the grace period, and no <c>_layers</c> link to it is younger than the grace period
/// (a dedup'ed upload or a mount re-links old data without rewriting it); the plan lists the
/// <c>_layers</c> links of the repositories the mark walked once the mark is done, and holds only
/// those to unmarked digests. Links and blob data come with their sizes and times from flat listings on
/// object stores (<see cref="IStorageDriver.ListFilesAsync"/>: a request per thousand files, not a HEAD
/// per file) and from a stat per file by name on the filesystem (<see cref="LayoutWalker"/>). <c>_layers</c> links to collected blobs, and old links to blobs that
/// no longer exist, are removed. Links are removed
/// file by file, never as a directory tree (<see cref="SafeDelete"/>), so a link written at the
/// same moment survives.</para>
/// <para><b>Online safety.</b> A run never deletes blob data outright. With T0 the run's start and
/// P = T0 − grace period ("protected since"):
/// <list type="number">
/// <item>Anything found in quarantine at the start was left by a run that crashed; it is moved back.</item>
/// <item>Candidates are moved into quarantine (<see cref="Quarantine"/>), where pulls, HEADs and upload
/// commits no longer see them.</item>
/// <item>After <see cref="GarbageCollectionOptions.SettleDelay"/>, every repository is re-scanned:
/// a <c>_layers</c> link to a quarantined digest that is new or modified at or after P, a revision
/// that was not kept by the mark (pushed during the run, or re-pushed), and a tag now naming a
/// manifest this run deleted, are followed like roots of the mark. Every quarantined blob they
/// reach is restored, and every revision this run deleted that they reach is written back.</item>
/// <item>Only then is quarantined data deleted, and the links to it removed unless modified at or
/// after P; a link removed while an upload re-created the blob is written back, and a blob that a
/// push or pull took back from quarantine keeps its links.</item>
/// </list>
/// If the run fails or is cancelled between 2 and 4, what is still in quarantine is restored
/// before the exception propagates; if the process dies, step 1 of the next run does it.</para>
/// <para><b>Uploads in progress</b> have no link yet and their bytes are under <c>_uploads</c> (or, for
/// a blob sent whole, in a staging file or an unfinished multipart upload), which the collector
/// never touches. When one commits during the run, either the digest is absent from <c>blobs/</c>
/// (never stored, or already quarantined) and the commit publishes fresh data, with a fresh
/// modification time, which is not in quarantine and is never deleted (the last step deletes the
/// quarantine copy only), or the data is present and only the link is written, which the re-scan
/// sees. A commit whose upload data was written long ago moves an old file into place, but its
/// link is new, so the grace check on links (plan) or the re-scan (sweep) keeps it.</para>
/// <para><b>The push side.</b> A manifest push checks that its blobs exist and then writes its
/// revision link. If a blob were quarantined after that check and the revision link written only
/// after the re-scan passed that repository, the manifest would be accepted with a blob missing.
/// <see cref="CollectionHandshake.EnsureContentAsync"/> closes this: called by the push after it
/// writes the revision link, it finds a quarantined blob and moves it back (or fails the push
/// when the blob is already deleted). The collector quarantines then scans; the push links then
/// checks; so one of them always sees the other. The same call on the blob read paths makes a
/// blob that an in-flight push re-used readable at once instead of after the re-scan. Without
/// the handshake, <see cref="GarbageCollectionOptions.SettleDelay"/> is only a heuristic: it
/// must exceed the longest manifest PUT, which a loaded, fsync-heavy disk can stretch to a second
/// or more. A client that HEADs an old unreferenced blob, skips its upload and pushes its
/// manifest after the blob was deleted gets MANIFEST_BLOB_UNKNOWN and pushes again; nothing is
/// corrupted. Modification times come from the storage (file mtimes, S3 LastModified), so the
/// grace period must exceed the clock skew between Berth hosts and the storage backend; the
/// online default of one hour does.</para>
/// <para>One instance runs one collection at a time. Do not run two collectors against the same
/// storage at once (say the CLI while the server's schedule is on): neither corrupts anything,
/// but each may restore what the other quarantined.</para>
/// </remarks>
public sealed class GarbageCollector(IStorageDriver driver, TagStore tags, ReferrerStore referrers, IBlobDescriptorCache cache,
    TimeProvider time, ILogger<GarbageCollector> logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>
    /// Runs one collection. <paramref name="progress"/> receives registry:2-style lines (repository
    /// names, what is eligible for deletion, a summary); pass null for <c>--quiet</c>.
    /// </summary>
    public async Task<GarbageCollectionReport> RunAsync(GarbageCollectionOptions options, IProgress<string>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var run = new GarbageCollectionRun(driver, tags, referrers, cache, time, logger, options, progress);
            return await run.ExecuteAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Moves back every blob a crashed run left in quarantine and returns how many. Every run does
    /// this first; the server may also call it at start-up so that content is visible before the
    /// first scheduled run.
    /// </summary>
    public async Task<int> RecoverAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            return await GarbageCollectionRun.RecoverQuarantineAsync(driver, logger, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }
}
