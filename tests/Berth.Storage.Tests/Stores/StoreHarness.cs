using System.Text;
using Berth.Core;
using Berth.Core.Errors;
using Berth.Storage.Drivers;

namespace Berth.Storage.Tests.Stores;

/// <summary>The stores wired as <see cref="StorageServiceCollectionExtensions.AddBerthStorage"/> wires them, over one in-memory driver.</summary>
internal sealed class StoreHarness
{
    public StoreHarness()
    {
        Driver = new ValidatingDriver(new InMemoryDriver());
        Blobs = new BlobStore(Driver);
        Tags = new TagStore(Driver);
        Referrers = new ReferrerStore(Driver);
        Manifests = new ManifestStore(Driver, Blobs, Tags, Referrers);
        Uploads = NewUploadStore();
        Catalog = new CatalogStore(Driver);
    }

    public static CancellationToken Ct => CancellationToken.None;

    public IStorageDriver Driver { get; }

    public BlobStore Blobs { get; }

    public TagStore Tags { get; }

    public ReferrerStore Referrers { get; }

    public ManifestStore Manifests { get; }

    public UploadStore Uploads { get; }

    public CatalogStore Catalog { get; }

    /// <summary>Another upload store over the same storage, as after a restart or on another replica.</summary>
    public UploadStore NewUploadStore() => new(Driver, Blobs, TimeProvider.System);

    public static RepositoryName Name(string value) => RepositoryName.Parse(value);

    public static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Stores <paramref name="content"/> and links it into <paramref name="name"/>, as a finished upload does.</summary>
    public async Task<Digest> PutBlobAsync(RepositoryName name, byte[] content)
    {
        var digest = Digest.Compute(content);
        await Blobs.PutContentAsync(digest, content, Ct);
        await Blobs.LinkAsync(name, digest, Ct);
        return digest;
    }

    public async Task<bool> ExistsAsync(string path)
    {
        try
        {
            await Driver.StatAsync(path, Ct);
            return true;
        }
        catch (StoragePathNotFoundException)
        {
            return false;
        }
    }

    public static async Task<RegistryException> ThrowsAsync(ErrorCode expected, Func<Task> action)
    {
        var exception = await Assert.ThrowsAsync<RegistryException>(action);
        Assert.Equal(expected.Code, exception.Code.Code);
        Assert.Equal(expected, exception.Code);
        return exception;
    }
}
