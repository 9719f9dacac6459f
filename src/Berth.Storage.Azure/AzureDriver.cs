using System.Net;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Sas;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging;

namespace Berth.Storage.Azure;

/// <summary>
/// Stores objects as blobs in one Azure Blob Storage container, named as registry:2 names them, so a container
/// written by Distribution's azure driver is served unchanged and the other way round.
/// </summary>
/// <remarks>
/// <para>
/// Names: Distribution 3 names the blob of a storage path by the root directory without trailing slashes followed by
/// the path, without leading slashes (<c>docker/registry/v2/...</c>). registry:2 (Distribution 2.x) passed the path
/// to its SDK as it was, so its blobs carry a leading slash (<c>/docker/registry/v2/...</c>, a nameless first
/// "directory" in the portal) and it had no root directory. <see cref="AzureDriverOptions.LegacyRootPrefix"/> picks
/// one; left unset, a root directory means Distribution 3's names, and without one the container is looked at once: a
/// container holding only registry:2's names is served with them, anything else (an empty container included) gets
/// Distribution 3's.
/// </para>
/// <para>
/// Directories do not exist: a path is a directory while some blob lies below it. Small objects are block blobs
/// written with one Put Blob. Writers stage blocks of <see cref="AzureDriverOptions.BlockSize"/> and publish them with
/// one Put Block List, so appending to an upload adds blocks to the list it already has and never copies or downloads
/// what is stored (<see cref="AzureBlockWriter"/>). Upload data registry:2 left as an append blob is continued with
/// Append Block (<see cref="AzureAppendBlobWriter"/>). Moves are server-side copies (Copy Blob) followed by a delete,
/// as registry:2 does: Azure cannot give committed blocks another name.
/// </para>
/// </remarks>
public sealed partial class AzureDriver : IStorageDriver
{
    /// <summary>The most results one listing request returns.</summary>
    internal const int ListPageSize = 5000;

    /// <summary>Deletes of one directory's blobs sent at once.</summary>
    private const int DeleteConcurrency = 16;

    /// <summary>The path prefix registry data lives under; what the layout detection looks for.</summary>
    private const string RegistryRoot = "docker/registry/v2/";

    // A user delegation key is asked for with this much life and replaced when less than the redirect expiry is left.
    private static readonly TimeSpan UserDelegationKeyLifetime = TimeSpan.FromDays(2);

    // After the service refused a user delegation key, how long pulls are served without asking again.
    private static readonly TimeSpan DelegationKeyRetryInterval = TimeSpan.FromMinutes(5);

    private readonly BlobServiceClient _service;
    private readonly BlobContainerClient _container;
    private readonly StorageSharedKeyCredential? _sharedKey;
    private readonly TokenCredential? _token;
    private readonly BlobClientOptions _clientOptions;
    private readonly string _rootKey;
    private readonly SemaphoreSlim _initialization = new(1, 1);
    private readonly SemaphoreSlim _delegationKeyGate = new(1, 1);
    private volatile string? _prefix;
    private UserDelegationKey? _delegationKey;
    private DateTimeOffset _delegationKeyRefusedUntil;

    private AzureDriver(AzureDriverOptions options, BlobClientOptions clientOptions, StorageSharedKeyCredential? sharedKey, TokenCredential? token,
        ILogger logger)
    {
        Options = options;
        Logger = logger;
        _clientOptions = clientOptions;
        _sharedKey = sharedKey;
        _token = token;
        _service = sharedKey is not null
            ? new BlobServiceClient(options.EffectiveServiceUrl, sharedKey, clientOptions)
            : new BlobServiceClient(options.EffectiveServiceUrl, token, clientOptions);
        _container = _service.GetBlobContainerClient(options.Container);
        _rootKey = (options.RootDirectory ?? string.Empty).Trim('/');
        if (options.LegacyRootPrefix is { } legacy)
        {
            _prefix = NamePrefix(legacy);
        }
        else if (_rootKey.Length > 0)
        {
            // registry:2 had no root directory, so a configuration with one was written for Distribution 3.
            _prefix = NamePrefix(legacy: false);
        }
    }

    /// <inheritdoc />
    public string Name => "azure";

    /// <summary>The options the driver was created with.</summary>
    public AzureDriverOptions Options { get; }

    /// <summary>The container every request goes to (for tests and diagnostics).</summary>
    internal BlobContainerClient Container => _container;

    internal ILogger Logger { get; }

    /// <summary>Whether blob names carry registry:2's leading slash; null until known (see <see cref="InitializeAsync"/>).</summary>
    public bool? UsesLegacyRootPrefix => _prefix is { } prefix ? prefix.StartsWith('/') : null;

    /// <summary>
    /// Builds a driver. Fails with <see cref="ArgumentException"/> naming every invalid key; makes no request, so a
    /// service that is down is reported by <see cref="InitializeAsync"/> or the first operation.
    /// </summary>
    public static AzureDriver Create(AzureDriverOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("storage.azure: " + string.Join("; ", errors), nameof(options));
        }

        var clientOptions = new BlobClientOptions();
        if (options.SkipVerify)
        {
#pragma warning disable CA5359, CA5400 // skipverify asks for exactly this.
            var handler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } };
#pragma warning restore CA5359, CA5400
#pragma warning disable CA2000 // The transport owns the client for the driver's lifetime.
            clientOptions.Transport = new HttpClientTransport(new HttpClient(handler));
#pragma warning restore CA2000
        }

        return options.CredentialsType switch
        {
            AzureCredentialsType.SharedKey =>
                new AzureDriver(options, clientOptions, new StorageSharedKeyCredential(options.AccountName, options.AccountKey), null, logger),
            AzureCredentialsType.ClientSecret =>
                new AzureDriver(options, clientOptions, null, new ClientSecretCredential(options.TenantId, options.ClientId, options.Secret), logger),
            _ => new AzureDriver(options, clientOptions, null, new DefaultAzureCredential(), logger),
        };
    }

    /// <summary>
    /// Readies the container before serving: creates it when it is missing (registry:2 did the same at start-up), and
    /// settles the naming (registry:2's or Distribution 3's) when the options leave it open. Safe to call again.
    /// </summary>
    /// <exception cref="AzureContainerException">The container is missing and cannot be created with these credentials.</exception>
    public async Task InitializeAsync(bool createContainer, CancellationToken cancellationToken)
    {
        if (createContainer)
        {
            try
            {
                if ((await _container.CreateIfNotExistsAsync(cancellationToken: cancellationToken))?.Value is not null)
                {
                    LogContainerCreated(Logger, Options.Container);
                }
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.Forbidden or (int)HttpStatusCode.Unauthorized)
            {
                // Entra roles such as Storage Blob Data Contributor may write blobs but not create containers.
                if (!(await _container.ExistsAsync(cancellationToken)).Value)
                {
                    throw new AzureContainerException(
                        $"container '{Options.Container}' does not exist in account '{Options.AccountName}' and these credentials may not create it "
                        + $"({ex.ErrorCode ?? ex.Status.ToString(System.Globalization.CultureInfo.InvariantCulture)}); create it, or grant the right to",
                        ex);
                }
            }
        }

        await PrefixAsync(cancellationToken);
    }

    /// <summary>
    /// The blob name of a storage path under the settled naming: registry:2's or Distribution 3's (see the remarks).
    /// </summary>
    public async ValueTask<string> BlobNameAsync(string path, CancellationToken cancellationToken) =>
        BlobName(await PrefixAsync(cancellationToken), path);

    /// <inheritdoc />
    public async Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken)
    {
        var blob = Blob(await BlobNameAsync(path, cancellationToken));
        try
        {
            using var result = (await blob.DownloadStreamingAsync(cancellationToken: cancellationToken)).Value;
            var length = result.Details.ContentLength;
            if (length > maxBytes)
            {
                throw new StorageObjectTooLargeException(path, length, maxBytes);
            }

            var content = new byte[length];
            await result.Content.ReadExactlyAsync(content, cancellationToken);
            return content;
        }
        catch (RequestFailedException ex) when (IsMissingBlob(ex))
        {
            throw new StoragePathNotFoundException(path, Name);
        }
    }

    /// <summary>
    /// One Put Blob: Azure shows the new content whole or not at all. A registry:2 append blob at the path (its old
    /// writers made small objects that way) cannot be replaced by a block blob in place, so it is removed first, only if
    /// unchanged since it was looked at, as registry:2 does.
    /// </summary>
    public async Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var blob = BlockBlob(await BlobNameAsync(path, cancellationToken));
        try
        {
            await UploadAsync(blob, content, conditions: null, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.ErrorCode == BlobErrorCode.InvalidBlobType)
        {
            await DeleteIfBlobTypeAsync(blob, BlobType.Append, cancellationToken);
            await UploadAsync(blob, content, conditions: null, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken)
    {
        var blob = Blob(await BlobNameAsync(path, cancellationToken));
        try
        {
            // No range for the whole blob: Azure answers a range on an empty blob with 416.
            var options = offset > 0 ? new BlobDownloadOptions { Range = new HttpRange(offset) } : null;
            var result = (await blob.DownloadStreamingAsync(options, cancellationToken)).Value;
            return result.Content;
        }
        catch (RequestFailedException ex) when (IsMissingBlob(ex))
        {
            throw new StoragePathNotFoundException(path, Name);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // The blob exists and the offset is at or past its end: nothing left to read.
            return new MemoryStream([], writable: false);
        }
    }

    /// <summary>
    /// Opens a writer. Without <paramref name="append"/> the new content replaces the old at commit (or disposal). With
    /// it, a block blob's committed block list (one request; nothing is downloaded) becomes the start of the new list,
    /// and the commit is conditional on the blob being unchanged since now; an append blob (registry:2's upload data)
    /// is continued with Append Block.
    /// </summary>
    public async Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken)
    {
        var name = await BlobNameAsync(path, cancellationToken);
        if (!append)
        {
            return new AzureBlockWriter(this, path, name, AzureBlockWriter.Start.Fresh(), discardUnlessCommitted: false);
        }

        BlobProperties properties;
        try
        {
            properties = (await Blob(name).GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
        }
        catch (RequestFailedException ex) when (IsMissingBlob(ex))
        {
            return new AzureBlockWriter(this, path, name, AzureBlockWriter.Start.Missing(), discardUnlessCommitted: false);
        }

        if (properties.BlobType == BlobType.Append)
        {
            return new AzureAppendBlobWriter(this, path, name, properties.ContentLength, properties.ETag);
        }

        if (properties.BlobType != BlobType.Block)
        {
            throw new IOException($"{Name}: cannot append to {path}, a {properties.BlobType} blob");
        }

        var blocks = (await BlockBlob(name).GetBlockListAsync(BlockListTypes.Committed, cancellationToken: cancellationToken)).Value;
        return new AzureBlockWriter(this, path, name,
            AzureBlockWriter.Start.Existing(properties.ContentLength, properties.ETag, [.. blocks.CommittedBlocks.Select(b => (b.Name, b.SizeLong))]),
            discardUnlessCommitted: false);
    }

    /// <summary>
    /// A writer straight to the blob's name: staged blocks are invisible until the commit's Put Block List (or, for
    /// content within one block, its single Put Blob), so no scratch blob and no server-side copy are needed.
    /// </summary>
    public async Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken) =>
        new AzureBlockWriter(this, path, await BlobNameAsync(path, cancellationToken), AzureBlockWriter.Start.Fresh(), discardUnlessCommitted: true);

    /// <inheritdoc />
    public async Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken)
    {
        var name = await BlobNameAsync(path, cancellationToken);
        if (await PropertiesAsync(name, cancellationToken) is { } properties)
        {
            return new StorageFileInfo(path, properties.ContentLength, properties.LastModified, false);
        }

        await foreach (var page in _container.GetBlobsAsync(new GetBlobsOptions { Prefix = name + "/" }, cancellationToken).AsPages(pageSizeHint: 1))
        {
            if (page.Values is [var first, ..])
            {
                return new StorageFileInfo(path, 0, first.Properties.LastModified ?? DateTimeOffset.UnixEpoch, true);
            }

            break;
        }

        throw new StoragePathNotFoundException(path, Name);
    }

    /// <summary>One hierarchical listing (delimiter <c>/</c>), paged: the service returns the children, not the whole subtree.</summary>
    public async Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken)
    {
        var prefix = await PrefixAsync(cancellationToken);
        var listPrefix = path == "/" ? prefix : BlobName(prefix, path) + "/";
        var children = new List<string>();
        var options = new GetBlobsByHierarchyOptions { Delimiter = "/", Prefix = listPrefix.Length == 0 ? null : listPrefix };
        await foreach (var page in _container.GetBlobsByHierarchyAsync(options, cancellationToken).AsPages(pageSizeHint: ListPageSize))
        {
            foreach (var item in page.Values)
            {
                if (item.IsPrefix)
                {
                    // A nameless segment ("a//b") is no path Berth can name; registry:2's own root is handled by the prefix.
                    if (item.Prefix.Length > listPrefix.Length + 1)
                    {
                        children.Add(ToPath(prefix, item.Prefix[..^1]));
                    }
                }
                else if (item.Blob.Name.Length > listPrefix.Length && !item.Blob.Name.EndsWith('/'))
                {
                    // A name ending in '/' is a directory marker some tools create; it is not a file of its own.
                    children.Add(ToPath(prefix, item.Blob.Name));
                }
            }
        }

        if (children.Count == 0 && path != "/")
        {
            throw new StoragePathNotFoundException(path, Name);
        }

        return children;
    }

    /// <summary>
    /// Copies the blob server-side (Copy Blob, conditional on the source's ETag, so a source rewritten meanwhile fails
    /// the move rather than mixing contents), waits for the copy as <c>copy_status_poll_max_retry</c> and
    /// <c>copy_status_poll_delay</c> allow, then deletes the source. Within one account Azure usually finishes the
    /// copy in the first answer; Azure cannot rename a blob or move committed blocks to another name.
    /// </summary>
    public async Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        var sourceName = await BlobNameAsync(sourcePath, cancellationToken);
        var destinationName = await BlobNameAsync(destinationPath, cancellationToken);
        var source = Blob(sourceName);
        var sourceProperties = await PropertiesAsync(sourceName, cancellationToken) ?? throw new StoragePathNotFoundException(sourcePath, Name);
        if (sourceName == destinationName)
        {
            return;
        }

        var destination = Blob(destinationName);
        CopyFromUriOperation copy;
        try
        {
            copy = await destination.StartCopyFromUriAsync(source.Uri, new BlobCopyFromUriOptions
            {
                SourceConditions = new BlobRequestConditions { IfMatch = sourceProperties.ETag },
            }, cancellationToken);
        }
        catch (RequestFailedException ex) when (IsMissingBlob(ex) || ex.ErrorCode == BlobErrorCode.CannotVerifyCopySource)
        {
            throw new StoragePathNotFoundException(sourcePath, Name);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.PreconditionFailed)
        {
            throw new IOException($"{Name}: {sourcePath} changed while being moved to {destinationPath}", ex);
        }

        await WaitForCopyAsync(destination, copy, destinationPath, cancellationToken);
        try
        {
            await source.DeleteAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: cancellationToken);
        }
        catch (RequestFailedException ex) when (IsMissingBlob(ex))
        {
            // Someone removed the source once it had been copied; the move is done all the same.
        }
    }

    /// <summary>
    /// Deletes the blob at the path and every blob below it, listing a page of names at a time and deleting each page
    /// with a bounded number of requests at once.
    /// </summary>
    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        var name = await BlobNameAsync(path, cancellationToken);
        var deleted = 0;
        if ((await Blob(name).DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: cancellationToken)).Value)
        {
            deleted++;
        }

        await foreach (var page in _container.GetBlobsAsync(new GetBlobsOptions { Prefix = name + "/" }, cancellationToken).AsPages(pageSizeHint: ListPageSize))
        {
            var names = page.Values.Select(item => item.Name).ToList();
            var results = new bool[names.Count];
            await Parallel.ForEachAsync(Enumerable.Range(0, names.Count),
                new ParallelOptions { MaxDegreeOfParallelism = DeleteConcurrency, CancellationToken = cancellationToken },
                async (index, token) => results[index] = (await Blob(names[index])
                    .DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: token)).Value);
            deleted += results.Count(removed => removed);
        }

        if (deleted == 0)
        {
            throw new StoragePathNotFoundException(path, Name);
        }
    }

    /// <summary>One Delete Blob, which says itself whether the blob was there.</summary>
    public async Task<bool> DeleteFileAsync(string path, CancellationToken cancellationToken) =>
        (await Blob(await BlobNameAsync(path, cancellationToken))
            .DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: cancellationToken)).Value;

    /// <summary>One flat listing, a request per page of names, sizes and times included.</summary>
    public async Task<IReadOnlyList<StorageFileInfo>> ListFilesAsync(string path, CancellationToken cancellationToken)
    {
        var prefix = await PrefixAsync(cancellationToken);
        var listPrefix = BlobName(prefix, path) + "/";
        var files = new List<StorageFileInfo>();
        await foreach (var page in _container.GetBlobsAsync(new GetBlobsOptions { Prefix = listPrefix }, cancellationToken).AsPages(pageSizeHint: ListPageSize))
        {
            foreach (var item in page.Values)
            {
                // Directory markers (names ending in '/') and empty segments name no file Berth could address.
                if (item.Name.Length > listPrefix.Length && !item.Name.EndsWith('/') && !item.Name.Contains("//", StringComparison.Ordinal))
                {
                    files.Add(new StorageFileInfo(ToPath(prefix, item.Name), item.Properties.ContentLength ?? 0,
                        item.Properties.LastModified ?? DateTimeOffset.UnixEpoch, false));
                }
            }
        }

        return files;
    }

    /// <summary>
    /// A read-only SAS URL for the blob (GET or HEAD), valid for the redirect expiry; null for other methods. Signed with
    /// the account key under shared-key credentials, with a user delegation key under Entra credentials (the identity
    /// needs the right to ask for one, which Storage Blob Data Contributor includes); when no key can be had, null, so
    /// the registry serves the bytes itself. The blob is not looked up: the caller has already found it.
    /// </summary>
    public async Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken)
    {
        if (!string.Equals(method, "GET", StringComparison.OrdinalIgnoreCase) && !string.Equals(method, "HEAD", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var name = await BlobNameAsync(path, cancellationToken);
        var blob = Blob(name);
        var now = DateTimeOffset.UtcNow;
        var sas = new BlobSasBuilder
        {
            BlobContainerName = _container.Name,
            BlobName = name,
            Resource = "b",
            // Clocks differ a little between the registry and the service.
            StartsOn = now.AddMinutes(-5),
            ExpiresOn = now + Options.RedirectExpiry,
            Protocol = blob.Uri.Scheme == Uri.UriSchemeHttps ? SasProtocol.Https : SasProtocol.HttpsAndHttp,
        };
        sas.SetPermissions(BlobSasPermissions.Read);
        SasQueryParameters parameters;
        if (_sharedKey is not null)
        {
            parameters = sas.ToSasQueryParameters(_sharedKey);
        }
        else if (await DelegationKeyAsync(sas.ExpiresOn, cancellationToken) is { } key)
        {
            parameters = sas.ToSasQueryParameters(key, _service.AccountName);
        }
        else
        {
            return null;
        }

        // Appended by hand: a URI builder would drop the empty first segment of registry:2's names.
        return new Uri(blob.Uri.AbsoluteUri + "?" + parameters);
    }

    /// <summary>A client for the blob named <paramref name="name"/>.</summary>
    internal BlobClient Blob(string name) => name.StartsWith('/')
        ? (_sharedKey is not null ? new BlobClient(LegacyUri(name), _sharedKey, _clientOptions) : new BlobClient(LegacyUri(name), _token, _clientOptions))
        : _container.GetBlobClient(name);

    /// <summary>A block blob client for the blob named <paramref name="name"/>.</summary>
    internal BlockBlobClient BlockBlob(string name) => name.StartsWith('/')
        ? (_sharedKey is not null ? new BlockBlobClient(LegacyUri(name), _sharedKey, _clientOptions) : new BlockBlobClient(LegacyUri(name), _token, _clientOptions))
        : _container.GetBlockBlobClient(name);

    /// <summary>An append blob client for the blob named <paramref name="name"/>.</summary>
    internal AppendBlobClient AppendBlob(string name) => name.StartsWith('/')
        ? (_sharedKey is not null ? new AppendBlobClient(LegacyUri(name), _sharedKey, _clientOptions) : new AppendBlobClient(LegacyUri(name), _token, _clientOptions))
        : _container.GetAppendBlobClient(name);

    /// <summary>A blob that does not exist, as opposed to a missing container or another failure.</summary>
    internal static bool IsMissingBlob(RequestFailedException ex) =>
        ex.ErrorCode == BlobErrorCode.BlobNotFound
        || (ex.Status == (int)HttpStatusCode.NotFound && ex.ErrorCode != BlobErrorCode.ContainerNotFound);

    /// <summary>The properties of a blob, or null when there is none by that name.</summary>
    internal async Task<BlobProperties?> PropertiesAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return (await Blob(name).GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
        }
        catch (RequestFailedException ex) when (IsMissingBlob(ex))
        {
            return null;
        }
    }

    /// <summary>One Put Blob of <paramref name="content"/> (block blob), replacing whatever block blob had the name.</summary>
    internal static async Task<BlobContentInfo> UploadAsync(BlockBlobClient blob, ReadOnlyMemory<byte> content, BlobRequestConditions? conditions,
        CancellationToken cancellationToken)
    {
        using var body = AsStream(content);
        return (await blob.UploadAsync(body, new BlobUploadOptions { Conditions = conditions }, cancellationToken)).Value;
    }

    /// <summary>Deletes the blob if it is of <paramref name="type"/> and unchanged since looked at.</summary>
    internal static async Task DeleteIfBlobTypeAsync(BlobBaseClient blob, BlobType type, CancellationToken cancellationToken)
    {
        try
        {
            var properties = (await blob.GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
            if (properties.BlobType == type)
            {
                await blob.DeleteAsync(DeleteSnapshotsOption.IncludeSnapshots, new BlobRequestConditions { IfMatch = properties.ETag }, cancellationToken);
            }
        }
        catch (RequestFailedException ex) when (IsMissingBlob(ex) || ex.ErrorCode == BlobErrorCode.ConditionNotMet)
        {
            // Gone, or already replaced by someone else: the caller's write goes ahead.
        }
    }

    internal static MemoryStream AsStream(ReadOnlyMemory<byte> content) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(content, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(content.ToArray(), writable: false);

    /// <summary>
    /// The URL of a registry:2 name. The SDK drops a leading slash when it builds a blob's URL from its name, so the
    /// URL is built here the way registry:2's SDK built it: the container's URL, a slash, then the name (slash first).
    /// </summary>
    private Uri LegacyUri(string name) =>
        new(_container.Uri.AbsoluteUri.TrimEnd('/') + "/" + string.Join('/', name.Split('/').Select(Uri.EscapeDataString)));

    private static string BlobName(string prefix, string path) => prefix + path.TrimStart('/');

    private string ToPath(string prefix, string name) => "/" + name[prefix.Length..];

    private string NamePrefix(bool legacy) => (legacy ? "/" : string.Empty) + (_rootKey.Length == 0 ? string.Empty : _rootKey + "/");

    /// <summary>The name prefix of every blob: the root directory, with registry:2's leading slash or without.</summary>
    private async ValueTask<string> PrefixAsync(CancellationToken cancellationToken)
    {
        if (_prefix is { } known)
        {
            return known;
        }

        await _initialization.WaitAsync(cancellationToken);
        try
        {
            if (_prefix is null)
            {
                var legacy = await HoldsAnyAsync("/" + RegistryRoot, cancellationToken) && !await HoldsAnyAsync(RegistryRoot, cancellationToken);
                _prefix = NamePrefix(legacy);
                LogNamingChosen(Logger, Options.Container, legacy ? "registry:2's, with a leading slash (/docker/registry/v2/...)" : "Distribution 3's (docker/registry/v2/...)");
            }

            return _prefix;
        }
        finally
        {
            _initialization.Release();
        }
    }

    private async Task<bool> HoldsAnyAsync(string prefix, CancellationToken cancellationToken)
    {
        await foreach (var page in _container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, cancellationToken).AsPages(pageSizeHint: 1))
        {
            return page.Values.Count > 0;
        }

        return false;
    }

    private async Task WaitForCopyAsync(BlobClient destination, CopyFromUriOperation copy, string destinationPath, CancellationToken cancellationToken)
    {
        var status = (await destination.GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
        for (var attempt = 1; status.CopyStatus == CopyStatus.Pending; attempt++)
        {
            if (attempt > Options.CopyStatusPollMaxRetry)
            {
                await TryAbortCopyAsync(destination, copy.Id);
                throw new IOException($"{Name}: the copy to {destinationPath} did not finish after {Math.Max(0, Options.CopyStatusPollMaxRetry)} polls; "
                    + "raise storage.azure.copy_status_poll_max_retry or copy_status_poll_delay");
            }

            await Task.Delay(Options.CopyStatusPollDelay * attempt, cancellationToken);
            status = (await destination.GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
        }

        if (status.CopyStatus is CopyStatus.Failed or CopyStatus.Aborted)
        {
            throw new IOException($"{Name}: the copy to {destinationPath} {status.CopyStatus.ToString()!.ToLowerInvariant()}: {status.CopyStatusDescription}");
        }
    }

    private async Task TryAbortCopyAsync(BlobClient destination, string copyId)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await destination.AbortCopyFromUriAsync(copyId, cancellationToken: timeout.Token);
        }
        catch (Exception ex) when (ex is RequestFailedException or IOException or OperationCanceledException)
        {
            LogAbortCopyFailed(Logger, destination.Uri.AbsolutePath, ex);
        }
    }

    /// <summary>A user delegation key valid past <paramref name="validUntil"/>, reused until then; null when the service refuses one.</summary>
    private async Task<UserDelegationKey?> DelegationKeyAsync(DateTimeOffset validUntil, CancellationToken cancellationToken)
    {
        if (_delegationKey is { } cached && cached.SignedExpiresOn > validUntil)
        {
            return cached;
        }

        if (DateTimeOffset.UtcNow < _delegationKeyRefusedUntil)
        {
            // Asked a moment ago and refused: serve the bytes rather than ask (and warn) on every pull.
            return null;
        }

        await _delegationKeyGate.WaitAsync(cancellationToken);
        try
        {
            if (_delegationKey is { } current && current.SignedExpiresOn > validUntil)
            {
                return current;
            }

            var now = DateTimeOffset.UtcNow;
            var lifetime = UserDelegationKeyLifetime > Options.RedirectExpiry * 2 ? UserDelegationKeyLifetime : Options.RedirectExpiry * 2;
            _delegationKey = (await _service.GetUserDelegationKeyAsync(now.AddMinutes(-5), now + (lifetime > AzureDriverOptions.MaximumRedirectExpiry
                ? AzureDriverOptions.MaximumRedirectExpiry : lifetime), cancellationToken)).Value;
            return _delegationKey;
        }
        catch (Exception ex) when (ex is RequestFailedException or AuthenticationFailedException)
        {
            _delegationKeyRefusedUntil = DateTimeOffset.UtcNow + DelegationKeyRetryInterval;
            LogDelegationKeyRefused(Logger, ex);
            return null;
        }
        finally
        {
            _delegationKeyGate.Release();
        }
    }

    [LoggerMessage(EventId = 2201, Level = LogLevel.Information, Message = "Created the Azure container {Container}, which did not exist")]
    private static partial void LogContainerCreated(ILogger logger, string container);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Information, Message = "Azure container {Container}: blob names follow {Naming}")]
    private static partial void LogNamingChosen(ILogger logger, string container, string naming);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Warning,
        Message = "Could not abort the copy to {Blob}; the service finishes or fails it on its own")]
    private static partial void LogAbortCopyFailed(ILogger logger, string blob, Exception exception);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Warning,
        Message = "The storage service refused a user delegation key, so blobs are served through the registry instead of SAS redirects for the next 5 minutes")]
    private static partial void LogDelegationKeyRefused(ILogger logger, Exception exception);
}

/// <summary>The registry's container cannot be used (missing, and not creatable with the configured credentials).</summary>
public sealed class AzureContainerException(string message, Exception innerException) : IOException(message, innerException);
