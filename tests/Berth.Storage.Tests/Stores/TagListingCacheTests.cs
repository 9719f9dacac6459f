using Berth.Core;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Storage.Tests.Stores;

/// <summary>The filesystem tag-list cache must never serve a list that a tag write or delete changed.</summary>
public sealed class TagListingCacheTests : IDisposable
{
    private static readonly Digest Target = Digest.Compute("manifest"u8);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "berth-taglist-" + Guid.NewGuid().ToString("N"));
    private readonly TagStore _tags;
    private readonly RepositoryName _name = RepositoryName.Parse("cache/app");

    public TagListingCacheTests() =>
        _tags = new TagStore(new ValidatingDriver(new FilesystemDriver(_root, NullLogger<FilesystemDriver>.Instance)));

    [Fact]
    public async Task Cached_listing_follows_tag_writes_and_deletes()
    {
        await _tags.SetAsync(_name, "a", Target, CancellationToken.None);
        await _tags.SetAsync(_name, "b", Target, CancellationToken.None);
        AgeTagsDirectory();
        Assert.Equal(["a", "b"], await _tags.ListAsync(_name, CancellationToken.None));
        Assert.Equal(["a", "b"], await _tags.ListAsync(_name, CancellationToken.None));

        await _tags.SetAsync(_name, "c", Target, CancellationToken.None);
        Assert.Equal(["a", "b", "c"], await _tags.ListAsync(_name, CancellationToken.None));

        AgeTagsDirectory();
        Assert.Equal(["a", "b", "c"], await _tags.ListAsync(_name, CancellationToken.None));
        await _tags.DeleteAsync(_name, "a", CancellationToken.None);
        Assert.Equal(["b", "c"], await _tags.ListAsync(_name, CancellationToken.None));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void AgeTagsDirectory() =>
        Directory.SetLastWriteTimeUtc(Path.Combine(_root, "docker/registry/v2/repositories/cache/app/_manifests/tags"), DateTime.UtcNow.AddMinutes(-5));
}
