using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Core;
using Berth.Storage.Drivers;

namespace Berth.Storage.Maintenance;

/// <summary>
/// Where a scrub puts blob data whose bytes no longer hash to their digest:
/// <code>
/// /docker/registry/v2/_berth_corrupt/&lt;alg&gt;/&lt;hex&gt;/data          the blob's former blobs/.../data
/// /docker/registry/v2/_berth_corrupt/&lt;alg&gt;/&lt;hex&gt;/record.json   when, why, what it hashed to
/// </code>
/// Deliberately not the collector's <see cref="Quarantine"/>: the collector moves everything it finds
/// there back into <c>blobs/</c> when it starts (its crash recovery), which would publish the bad
/// bytes again. Like the quarantine it sits beside <c>blobs/</c> and <c>repositories/</c>, so neither
/// the catalog nor registry:2 ever looks inside, and a move in is one rename on the filesystem.
/// Once the data is gone from <c>blobs/</c>, pulls answer 404 and the next upload of the digest
/// commits fresh bytes (a commit only writes data that is absent), which is how a re-push heals.
/// Nothing in Berth reads this area back; an operator deletes it, or inspects it, by hand.
/// </summary>
public static class CorruptBlobs
{
    /// <summary>The holding area's root in the storage layout.</summary>
    public const string Root = StoragePaths.Root + "/_berth_corrupt";

    /// <summary>Where the data of <paramref name="digest"/> is kept once moved aside.</summary>
    public static string DataPath(Digest digest) => $"{Root}/{digest.Algorithm}/{digest.Encoded}/data";

    /// <summary>The record written beside <see cref="DataPath"/>.</summary>
    public static string RecordPath(Digest digest) => $"{Root}/{digest.Algorithm}/{digest.Encoded}/record.json";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
    };

    /// <summary>
    /// Moves a blob's data out of <c>blobs/</c> and writes its record; false when the data was no
    /// longer there (a collection removed it meanwhile), in which case nothing is written. A blob
    /// moved aside twice (corrupt again after a re-push) replaces the earlier copy and record.
    /// </summary>
    public static async Task<bool> MoveAsideAsync(IStorageDriver driver, CorruptBlobRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(record);
        var digest = Digest.Parse(record.Digest);
        try
        {
            await driver.MoveAsync(StoragePaths.BlobData(digest), DataPath(digest), cancellationToken);
        }
        catch (Exception ex) when (ex is StoragePathNotFoundException or FileNotFoundException)
        {
            return false;
        }

        await driver.PutContentAsync(RecordPath(digest), JsonSerializer.SerializeToUtf8Bytes(record, JsonOptions), cancellationToken);
        SafeDelete.TryRemoveEmptyDirectory(driver, StoragePaths.BlobDirectory(digest));
        return true;
    }

    /// <summary>The record of a blob moved aside, or null when there is none (or it cannot be read).</summary>
    public static async Task<CorruptBlobRecord?> ReadRecordAsync(IStorageDriver driver, Digest digest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(driver);
        try
        {
            var content = await driver.GetContentAsync(RecordPath(digest), 64 * 1024, cancellationToken);
            return JsonSerializer.Deserialize<CorruptBlobRecord>(content, JsonOptions);
        }
        catch (Exception ex) when (ex is StoragePathNotFoundException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Every digest held in the area.</summary>
    public static Task<List<Digest>> ListAsync(IStorageDriver driver, CancellationToken cancellationToken) =>
        LayoutWalker.DigestTreeAsync(driver, Root, cancellationToken);
}

/// <summary>What <c>record.json</c> says about a blob moved aside.</summary>
/// <param name="Digest">The digest the blob is stored under.</param>
/// <param name="ActualDigest">What its bytes hash to.</param>
/// <param name="Size">Its size in bytes when it was moved.</param>
/// <param name="MovedAt">When it was moved (UTC).</param>
/// <param name="Reason">Why, in words.</param>
public sealed record CorruptBlobRecord(string Digest, string ActualDigest, long Size, DateTimeOffset MovedAt, string Reason);
