using Berth.Core;
using Berth.Storage.Drivers;

namespace Berth.Storage;

/// <summary>
/// The referrers index: for each subject digest, a link per manifest whose <c>subject</c> names
/// it, written when that manifest is pushed and removed when it is deleted, so the referrers API
/// never scans a repository.
/// </summary>
public sealed class ReferrerStore(IStorageDriver driver)
{
    public Task AddAsync(RepositoryName name, Digest subject, Digest referrer, CancellationToken cancellationToken) =>
        Links.WriteAsync(driver, StoragePaths.ReferrerLink(name, subject, referrer), referrer, cancellationToken);

    public Task<bool> RemoveAsync(RepositoryName name, Digest subject, Digest referrer, CancellationToken cancellationToken) =>
        Links.DeleteIfExistsAsync(driver, StoragePaths.ReferrerLink(name, subject, referrer)[..^"/link".Length], cancellationToken);

    /// <summary>Digests of the manifests that refer to <paramref name="subject"/>.</summary>
    public async Task<IReadOnlyList<Digest>> ListAsync(RepositoryName name, Digest subject, CancellationToken cancellationToken)
    {
        var result = new List<Digest>();
        foreach (var algorithmDirectory in await Links.ListOrEmptyAsync(driver, StoragePaths.Referrers(name, subject), cancellationToken))
        {
            var algorithm = Links.LastSegment(algorithmDirectory);
            foreach (var entry in await Links.ListOrEmptyAsync(driver, algorithmDirectory, cancellationToken))
            {
                if (Digest.TryParse(algorithm + ":" + Links.LastSegment(entry), out var digest))
                {
                    result.Add(digest);
                }
            }
        }

        return result;
    }
}
