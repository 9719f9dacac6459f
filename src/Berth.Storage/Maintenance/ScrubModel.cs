using Berth.Core;

namespace Berth.Storage.Maintenance;

/// <summary>What a scrub does besides reading.</summary>
public sealed record ScrubOptions
{
    /// <summary>Report only: nothing is moved aside and no cache entry is dropped.</summary>
    public bool DryRun { get; init; }

    /// <summary>The most blob bytes read per second, on average; 0 reads as fast as the storage allows.</summary>
    public long BytesPerSecond { get; init; }

    /// <summary>Throws when the options cannot run.</summary>
    public void Validate() => ArgumentOutOfRangeException.ThrowIfNegative(BytesPerSecond);
}

/// <summary>The kinds of problem a scrub reports; the text form is the kebab-case name.</summary>
public enum ScrubProblem
{
    /// <summary>A blob's bytes do not hash to its digest.</summary>
    BlobCorrupt,

    /// <summary>A blob's data exists but reading it failed.</summary>
    BlobUnreadable,

    /// <summary>A revision link names a manifest whose data is absent.</summary>
    ManifestMissing,

    /// <summary>A revision link names a manifest whose data is corrupt.</summary>
    ManifestCorrupt,

    /// <summary>A manifest's bytes are not JSON, so nothing it references can be checked.</summary>
    ManifestUnparsable,

    /// <summary>A revision link file does not hold the digest its path names.</summary>
    RevisionLinkInvalid,

    /// <summary>A manifest references a blob or child manifest whose data is absent.</summary>
    ReferenceMissing,

    /// <summary>A manifest references a blob or child manifest whose data is corrupt.</summary>
    ReferenceCorrupt,

    /// <summary>A manifest references content that exists but is not linked into its repository, so pulls of it fail.</summary>
    ReferenceNotLinked,

    /// <summary>A tag's link file is absent or does not hold a digest.</summary>
    TagInvalid,

    /// <summary>A tag names a manifest that is not a revision of its repository.</summary>
    TagDangling,
}

/// <summary>
/// One problem: what is wrong, with the repository, the tags that reach the manifest, the manifest
/// and the blob it concerns (whichever apply). <see cref="ToString"/> is the one-line text form.
/// </summary>
public sealed record ScrubFinding(ScrubProblem Problem, string Detail)
{
    /// <summary>The repository, for manifest and tag findings.</summary>
    public RepositoryName? Repository { get; init; }

    /// <summary>The tags of <see cref="Repository"/> that name <see cref="Manifest"/> (or the tag of a tag finding).</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>The manifest concerned.</summary>
    public Digest? Manifest { get; init; }

    /// <summary>The blob (or child manifest) concerned.</summary>
    public Digest? Blob { get; init; }

    /// <summary>Where the data was moved, when it was moved aside.</summary>
    public string? MovedTo { get; init; }

    /// <summary>The problem's name as printed and in JSON (<c>blob-corrupt</c>, <c>reference-missing</c>...).</summary>
    public string Code => ProblemCode(Problem);

    /// <summary>The kebab-case name of <paramref name="problem"/>.</summary>
    public static string ProblemCode(ScrubProblem problem) => problem switch
    {
        ScrubProblem.BlobCorrupt => "blob-corrupt",
        ScrubProblem.BlobUnreadable => "blob-unreadable",
        ScrubProblem.ManifestMissing => "manifest-missing",
        ScrubProblem.ManifestCorrupt => "manifest-corrupt",
        ScrubProblem.ManifestUnparsable => "manifest-unparsable",
        ScrubProblem.RevisionLinkInvalid => "revision-link-invalid",
        ScrubProblem.ReferenceMissing => "reference-missing",
        ScrubProblem.ReferenceCorrupt => "reference-corrupt",
        ScrubProblem.ReferenceNotLinked => "reference-not-linked",
        ScrubProblem.TagInvalid => "tag-invalid",
        ScrubProblem.TagDangling => "tag-dangling",
        _ => throw new ArgumentOutOfRangeException(nameof(problem)),
    };

    /// <summary>
    /// <c>code subject: detail</c>, the subject being <c>repo@manifest (tags: a, b)</c>, <c>repo:tag</c>
    /// or <c>blob digest</c>.
    /// </summary>
    public override string ToString()
    {
        string subject;
        if (Repository is { } repository)
        {
            subject = Manifest is { } manifest
                ? $"{repository}@{manifest}{(Tags.Count > 0 ? $" (tags: {string.Join(", ", Tags)})" : "")}"
                : $"{repository}:{string.Join(", ", Tags)}";
        }
        else
        {
            subject = $"blob {Blob}";
        }

        return $"{Code} {subject}: {Detail}";
    }
}

/// <summary>What one scrub found and how much it read.</summary>
public sealed record ScrubReport
{
    /// <summary>Whether the run was a dry run.</summary>
    public bool DryRun { get; init; }

    /// <summary>Every problem, in the order found.</summary>
    public IReadOnlyList<ScrubFinding> Findings { get; init; } = [];

    /// <summary>Repositories checked.</summary>
    public int Repositories { get; init; }

    /// <summary>Manifest revisions checked.</summary>
    public int Manifests { get; init; }

    /// <summary>Manifests whose bytes are JSON in a format Berth does not parse (schema1...): their references are not checked.</summary>
    public int ManifestsNotUnderstood { get; init; }

    /// <summary>Tags checked.</summary>
    public int Tags { get; init; }

    /// <summary>Blobs re-hashed.</summary>
    public int BlobsHashed { get; init; }

    /// <summary>Bytes read to re-hash them.</summary>
    public long BytesHashed { get; init; }

    /// <summary>Blobs whose bytes did not match their digest.</summary>
    public int BlobsCorrupt { get; init; }

    /// <summary>Corrupt blobs moved to <see cref="CorruptBlobs"/>.</summary>
    public int BlobsMovedAside { get; init; }

    /// <summary>
    /// Blob directories listed without data when read: deleted meanwhile (a collection), or a directory the filesystem
    /// kept after its data went. Not a problem by itself; a manifest that needs the data is reported.
    /// </summary>
    public int BlobsVanished { get; init; }

    /// <summary>Wall time of the run.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>Wall time spent re-hashing blobs.</summary>
    public TimeSpan HashingDuration { get; init; }

    /// <summary>True when nothing is wrong.</summary>
    public bool Clean => Findings.Count == 0;

    /// <summary>Re-hash throughput in MB/s (10^6 bytes), over the hashing phase.</summary>
    public double MegabytesPerSecond => HashingDuration > TimeSpan.Zero ? BytesHashed / 1e6 / HashingDuration.TotalSeconds : 0;
}
