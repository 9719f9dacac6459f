using System.Net;
using System.Runtime.InteropServices;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Internal;
using Amazon.S3.Model;
using Berth.Storage.Drivers;
using Microsoft.Extensions.Logging;

namespace Berth.Storage.S3;

/// <summary>
/// Stores objects in an S3 bucket (Amazon S3 or an S3-compatible server such as Ceph RGW or MinIO)
/// with registry:2's object layout: the key of a storage path is <c>rootdirectory</c> without trailing
/// slashes followed by the path, without leading slashes, so a bucket written by registry:2's S3
/// driver is served unchanged and the other way round.
/// </summary>
/// <remarks>
/// <para>Directories do not exist in S3: a path is a directory while some key lies below it.</para>
/// <para>
/// Writers stream into multipart uploads, one part per <c>chunksize</c> bytes buffered in a pooled
/// array, and finish with a single PUT when everything fits in one chunk. A writer disposed without
/// commit completes the object with what was written, because Berth learns an upload's offset from
/// <see cref="StatAsync"/>; the next append continues it (see <see cref="OpenWriteAsync"/>).
/// </para>
/// </remarks>
public sealed partial class S3Driver : IStorageDriver, IDisposable
{
    /// <summary>The most keys one list or delete request handles.</summary>
    internal const int ListPageSize = 1000;

    /// <summary>S3's largest part number.</summary>
    internal const int MaximumParts = 10_000;

    private const string ContentType = "application/octet-stream";

    private readonly AmazonS3Client _client;
    private readonly AmazonS3Client? _redirectSigner;
    private readonly string _rootKey;
    private readonly string _rootPrefix;
    private readonly Protocol _redirectProtocol;

    private S3Driver(S3DriverOptions options, AmazonS3Client client, AmazonS3Client? redirectSigner, Protocol redirectProtocol, ILogger logger)
    {
        Options = options;
        Logger = logger;
        _client = client;
        _redirectSigner = redirectSigner;
        _redirectProtocol = redirectProtocol;
        _rootKey = (options.RootDirectory ?? string.Empty).TrimEnd('/').TrimStart('/');
        _rootPrefix = _rootKey.Length == 0 ? string.Empty : _rootKey + "/";
        ChunkSize = (int)Math.Min(options.ChunkSize, S3DriverOptions.MaximumBufferSize);
        PartBuffers = new PartBufferPool(ChunkSize);
        StorageClass = options.StorageClass.Equals(S3DriverOptions.NoStorageClass, StringComparison.OrdinalIgnoreCase)
            ? null
            : S3StorageClass.FindValue(options.StorageClass.ToUpperInvariant());
        Encryption = options.Encrypt
            ? (string.IsNullOrEmpty(options.KeyId) ? ServerSideEncryptionMethod.AES256 : ServerSideEncryptionMethod.AWSKMS)
            : null;
        KmsKeyId = options.Encrypt && !string.IsNullOrEmpty(options.KeyId) ? options.KeyId : null;
        Acl = options.ObjectAcl == "private" ? null : S3CannedACL.FindValue(options.ObjectAcl);
    }

    /// <inheritdoc />
    public string Name => "s3";

    /// <summary>The options the driver was created with.</summary>
    public S3DriverOptions Options { get; }

    /// <summary>The client every request goes through (for tests and diagnostics).</summary>
    internal IAmazonS3 Client => _client;

    internal ILogger Logger { get; }

    /// <summary>The part size writers upload, <c>chunksize</c> capped at <see cref="S3DriverOptions.MaximumBufferSize"/>.</summary>
    internal int ChunkSize { get; }

    /// <summary>The writers' part buffers, <see cref="ChunkSize"/> bytes each, few kept idle.</summary>
    internal PartBufferPool PartBuffers { get; }

    private S3StorageClass? StorageClass { get; }

    private ServerSideEncryptionMethod? Encryption { get; }

    private string? KmsKeyId { get; }

    private S3CannedACL? Acl { get; }

    private string Bucket => Options.Bucket;

    /// <summary>
    /// Builds a driver. Fails with <see cref="ArgumentException"/> naming every invalid key; makes no
    /// request, so a server that is down is reported by the first operation.
    /// </summary>
    public static S3Driver Create(S3DriverOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("storage.s3: " + string.Join("; ", errors), nameof(options));
        }

        if (!options.V4Auth)
        {
            LogV4AuthIgnored(logger);
        }

        if (!options.Encrypt && !string.IsNullOrEmpty(options.KeyId))
        {
            LogKeyIdIgnored(logger);
        }

        var endpoint = string.IsNullOrWhiteSpace(options.RegionEndpoint) ? null : EndpointUri(options.RegionEndpoint, options.Secure);
        var pathStyle = options.ForcePathStyle ?? endpoint is not null;
        var credentials = !string.IsNullOrEmpty(options.AccessKey) && !string.IsNullOrEmpty(options.SecretKey)
            ? new BasicAWSCredentials(options.AccessKey, options.SecretKey)
            : null;

        var client = NewClient(options, endpoint, pathStyle, credentials);
        AmazonS3Client? redirectSigner = null;
        var redirectProtocol = endpoint is not null ? ProtocolOf(endpoint) : options.Secure ? Protocol.HTTPS : Protocol.HTTP;
        if (options.RedirectEndpoint is { } redirectEndpoint)
        {
            // SigV4 signs the host, so redirect URLs for another host need a client configured for it.
            redirectSigner = NewClient(options, redirectEndpoint, pathStyle, credentials);
            redirectProtocol = ProtocolOf(redirectEndpoint);
        }

        return new S3Driver(options, client, redirectSigner, redirectProtocol, logger);
    }

    /// <summary>
    /// The object key of a storage path: registry:2's mapping, the root directory without trailing
    /// slashes followed by the path, without leading slashes.
    /// </summary>
    public string ObjectKey(string path) => _rootKey.Length == 0 ? path.TrimStart('/') : _rootKey + path;

    /// <inheritdoc />
    public async Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = Bucket, Key = ObjectKey(path) }, cancellationToken);
            var length = response.ContentLength;
            if (length > maxBytes)
            {
                throw new StorageObjectTooLargeException(path, length, maxBytes);
            }

            var content = new byte[length];
            await response.ResponseStream.ReadExactlyAsync(content, cancellationToken);
            return content;
        }
        catch (AmazonS3Exception ex) when (IsMissingKey(ex))
        {
            throw new StoragePathNotFoundException(path, Name);
        }
    }

    /// <inheritdoc />
    public async Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        using var body = AsStream(content);
        await PutObjectAsync(ObjectKey(path), body, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken)
    {
        var request = new GetObjectRequest { BucketName = Bucket, Key = ObjectKey(path) };
        if (offset > 0)
        {
            request.ByteRange = new ByteRange($"bytes={offset}-");
        }

        try
        {
            var response = await _client.GetObjectAsync(request, cancellationToken);
            return new ResponseStream(response);
        }
        catch (AmazonS3Exception ex) when (IsMissingKey(ex))
        {
            throw new StoragePathNotFoundException(path, Name);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable || ex.ErrorCode == "InvalidRange")
        {
            // The object exists and the offset is at or past its end: nothing left to read.
            return new MemoryStream([], writable: false);
        }
    }

    /// <summary>
    /// Opens a writer. With <paramref name="append"/> the object's current content (size and ETag read
    /// now) becomes the start of the new object at the first write: copied server-side as the first
    /// parts when it is at least 5 MiB, otherwise read into the write buffer. Nothing is replaced before
    /// <see cref="StorageWriter.CommitAsync"/> or disposal, so a failed append leaves the old content.
    /// </summary>
    public async Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken)
    {
        var key = ObjectKey(path);
        var existing = append ? await HeadAsync(key, cancellationToken) : null;
        return new S3Writer(this, path, key, existing);
    }

    /// <summary>
    /// A writer straight to the object's key: nothing is visible there until the commit's PUT (or multipart
    /// completion) succeeds, so no scratch object and no server-side copy are needed.
    /// </summary>
    public Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken) =>
        Task.FromResult<StorageWriter>(new S3Writer(this, path, ObjectKey(path), existing: null, discardUnlessCommitted: true));

    /// <inheritdoc />
    public async Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken)
    {
        var key = ObjectKey(path);
        if (await HeadAsync(key, cancellationToken) is { } head)
        {
            return new StorageFileInfo(path, head.Size, head.ModifiedAt, false);
        }

        var below = await _client.ListObjectsV2Async(
            new ListObjectsV2Request { BucketName = Bucket, Prefix = key + "/", MaxKeys = 1 }, cancellationToken);
        if (below.S3Objects is [var first, ..])
        {
            return new StorageFileInfo(path, 0, ToTimestamp(first.LastModified), true);
        }

        throw new StoragePathNotFoundException(path, Name);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken)
    {
        var prefix = path == "/" ? _rootPrefix : ObjectKey(path) + "/";
        var children = new List<string>();
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix, Delimiter = "/", MaxKeys = ListPageSize };
        do
        {
            var page = await _client.ListObjectsV2Async(request, cancellationToken);
            foreach (var item in page.S3Objects ?? [])
            {
                // A key ending in '/' is a directory marker some tools create; it is not a file of its own.
                if (item.Key.Length > prefix.Length && !item.Key.EndsWith('/'))
                {
                    children.Add(ToPath(item.Key));
                }
            }

            foreach (var common in page.CommonPrefixes ?? [])
            {
                if (common.Length > prefix.Length + 1)
                {
                    children.Add(ToPath(common[..^1]));
                }
            }

            request.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (request.ContinuationToken is not null);

        if (children.Count == 0 && path != "/")
        {
            throw new StoragePathNotFoundException(path, Name);
        }

        return children;
    }

    /// <summary>
    /// Copies the object server-side (one CopyObject up to <c>multipartcopythresholdsize</c>, a parallel
    /// multipart copy above it), then deletes the source. The copy is conditional on the ETag the source
    /// had when the move began, so on Amazon S3 a source rewritten meanwhile fails the move rather than
    /// mixing contents (Ceph RGW ignores the condition).
    /// </summary>
    public async Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        var sourceKey = ObjectKey(sourcePath);
        var destinationKey = ObjectKey(destinationPath);
        var source = await HeadAsync(sourceKey, cancellationToken) ?? throw new StoragePathNotFoundException(sourcePath, Name);
        if (sourceKey == destinationKey)
        {
            return;
        }

        try
        {
            if (source.Size <= Options.MultipartCopyThresholdSize)
            {
                await _client.CopyObjectAsync(new CopyObjectRequest
                {
                    SourceBucket = Bucket,
                    SourceKey = sourceKey,
                    ETagToMatch = source.ETag,
                    DestinationBucket = Bucket,
                    DestinationKey = destinationKey,
                    StorageClass = StorageClass,
                    ServerSideEncryptionMethod = Encryption,
                    ServerSideEncryptionKeyManagementServiceKeyId = KmsKeyId,
                    CannedACL = Acl,
                }, cancellationToken);
            }
            else
            {
                var uploadId = await CreateMultipartUploadAsync(destinationKey, cancellationToken);
                try
                {
                    var parts = await CopyPartsAsync(sourceKey, source, destinationKey, uploadId, firstPartNumber: 1, cancellationToken);
                    await CompleteMultipartUploadAsync(destinationKey, uploadId, parts, cancellationToken);
                }
                catch
                {
                    await TryAbortMultipartUploadAsync(destinationKey, uploadId);
                    throw;
                }
            }
        }
        catch (AmazonS3Exception ex) when (IsMissingKey(ex))
        {
            throw new StoragePathNotFoundException(sourcePath, Name);
        }

        await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = sourceKey }, cancellationToken);
    }

    /// <summary>
    /// Deletes the object at the path and every object below it, listing a page of keys at a time and
    /// removing each page with one batched request, as registry:2 does.
    /// </summary>
    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        var key = ObjectKey(path);
        var deleted = 0;
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = key, MaxKeys = ListPageSize };
        do
        {
            var page = await _client.ListObjectsV2Async(request, cancellationToken);

            // The prefix also matches siblings such as "<key>-2" or "<key>.old"; only the key and its subtree go.
            var victims = (page.S3Objects ?? [])
                .Where(o => o.Key.Length == key.Length || o.Key[key.Length] == '/')
                .Select(o => new KeyVersion { Key = o.Key })
                .ToList();
            if (victims.Count > 0)
            {
                var result = await _client.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = Bucket, Objects = victims, Quiet = true },
                    cancellationToken);
                if (result.DeleteErrors is { Count: > 0 } errors)
                {
                    throw new IOException($"{Name}: could not delete {errors.Count} objects below {path}, first {errors[0].Key}: "
                        + $"{errors[0].Code} {errors[0].Message}");
                }

                deleted += victims.Count;
            }

            request.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (request.ContinuationToken is not null);

        if (deleted == 0)
        {
            throw new StoragePathNotFoundException(path, Name);
        }
    }

    /// <summary>
    /// A HEAD to learn whether the object is there, then one DeleteObject: two small requests, where
    /// <see cref="DeleteAsync"/> lists below the key and deletes in a batch.
    /// </summary>
    public async Task<bool> DeleteFileAsync(string path, CancellationToken cancellationToken)
    {
        var key = ObjectKey(path);
        if (await HeadAsync(key, cancellationToken) is null)
        {
            return false;
        }

        await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = key }, cancellationToken);
        return true;
    }

    /// <summary>One flat listing (no delimiter), a request per page of <see cref="ListPageSize"/> keys, sizes and times included.</summary>
    public async Task<IReadOnlyList<StorageFileInfo>> ListFilesAsync(string path, CancellationToken cancellationToken)
    {
        var prefix = ObjectKey(path) + "/";
        var files = new List<StorageFileInfo>();
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix, MaxKeys = ListPageSize };
        do
        {
            var page = await _client.ListObjectsV2Async(request, cancellationToken);
            foreach (var item in page.S3Objects ?? [])
            {
                // Directory markers (keys ending in '/') and empty segments name no file Berth could address.
                if (item.Key.Length > prefix.Length && !item.Key.EndsWith('/') && !item.Key.Contains("//", StringComparison.Ordinal))
                {
                    files.Add(new StorageFileInfo(ToPath(item.Key), item.Size ?? 0, ToTimestamp(item.LastModified), false));
                }
            }

            request.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (request.ContinuationToken is not null);

        return files;
    }

    /// <summary>
    /// A presigned GET (or HEAD) URL for the object, valid for the configured expiry; null for other
    /// methods. The object is not looked up: the caller has already found it.
    /// </summary>
    public async Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken)
    {
        HttpVerb verb;
        if (string.Equals(method, "GET", StringComparison.OrdinalIgnoreCase))
        {
            verb = HttpVerb.GET;
        }
        else if (string.Equals(method, "HEAD", StringComparison.OrdinalIgnoreCase))
        {
            verb = HttpVerb.HEAD;
        }
        else
        {
            return null;
        }

        var url = await (_redirectSigner ?? _client).GetPreSignedURLAsync(new GetPreSignedUrlRequest
        {
            BucketName = Bucket,
            Key = ObjectKey(path),
            Verb = verb,
            Protocol = _redirectProtocol,
            Expires = DateTime.UtcNow + Options.RedirectExpiry,
        });
        return new Uri(url);
    }

    /// <summary>Releases the SDK clients.</summary>
    public void Dispose()
    {
        _client.Dispose();
        _redirectSigner?.Dispose();
    }

    /// <summary>The endpoint as an absolute http(s) URI; a bare host gets the scheme <paramref name="secure"/> implies.</summary>
    internal static Uri? EndpointUri(string endpoint, bool secure)
    {
        var text = endpoint.Contains("://", StringComparison.Ordinal) ? endpoint : (secure ? "https://" : "http://") + endpoint;
        return Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri
            : null;
    }

    /// <summary>A missing object, as opposed to a missing bucket or upload.</summary>
    internal static bool IsMissingKey(AmazonS3Exception ex) =>
        ex.ErrorCode == "NoSuchKey"
        || (ex.StatusCode == HttpStatusCode.NotFound && (string.IsNullOrEmpty(ex.ErrorCode) || ex.ErrorCode == "NotFound"));

    /// <summary>
    /// A multipart upload that no longer exists. Amazon S3 says NoSuchUpload; Ceph RGW says NoSuchKey.
    /// </summary>
    internal static bool IsMissingUpload(AmazonS3Exception ex) => ex.ErrorCode is "NoSuchUpload" or "NoSuchKey";

    /// <summary>The size, ETag and time of an object, or null when there is none at <paramref name="key"/>.</summary>
    internal async Task<ObjectHead?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var head = await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = Bucket, Key = key }, cancellationToken);
            return new ObjectHead(head.ContentLength, head.ETag, ToTimestamp(head.LastModified));
        }
        catch (AmazonS3Exception ex) when (IsMissingKey(ex))
        {
            return null;
        }
    }

    /// <summary>Stores <paramref name="body"/>, an in-memory stream of at most one part, as one object.</summary>
    internal async Task PutObjectAsync(string key, Stream body, CancellationToken cancellationToken)
    {
        await _client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = Bucket,
            Key = key,
            InputStream = body,
            AutoCloseStream = false,
            // The body is in memory, so the SDK can hash it once for the signature; its default over plain HTTP wraps it
            // in aws-chunked encoding with a signature per chunk, which for the small objects that most writes are (links,
            // manifests) costs more CPU on both sides than the body itself.
            UseChunkEncoding = false,
            ContentType = ContentType,
            StorageClass = StorageClass,
            ServerSideEncryptionMethod = Encryption,
            ServerSideEncryptionKeyManagementServiceKeyId = KmsKeyId,
            CannedACL = Acl,
        }, cancellationToken);
    }

    internal async Task<string> CreateMultipartUploadAsync(string key, CancellationToken cancellationToken)
    {
        var response = await _client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest
        {
            BucketName = Bucket,
            Key = key,
            ContentType = ContentType,
            StorageClass = StorageClass,
            ServerSideEncryptionMethod = Encryption,
            ServerSideEncryptionKeyManagementServiceKeyId = KmsKeyId,
            CannedACL = Acl,
        }, cancellationToken);
        return response.UploadId;
    }

    internal async Task<PartETag> UploadPartAsync(string key, string uploadId, int partNumber, ReadOnlyMemory<byte> content,
        CancellationToken cancellationToken)
    {
        using var body = AsStream(content);
        var response = await _client.UploadPartAsync(new UploadPartRequest
        {
            BucketName = Bucket,
            Key = key,
            UploadId = uploadId,
            PartNumber = partNumber,
            InputStream = body,
            PartSize = content.Length,
        }, cancellationToken);
        return new PartETag(partNumber, response.ETag);
    }

    internal async Task CompleteMultipartUploadAsync(string key, string uploadId, List<PartETag> parts, CancellationToken cancellationToken)
    {
        await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = Bucket,
            Key = key,
            UploadId = uploadId,
            PartETags = parts,
        }, cancellationToken);
    }

    /// <summary>Aborts a multipart upload, logging rather than throwing: this runs on paths that already failed.</summary>
    internal async Task TryAbortMultipartUploadAsync(string key, string uploadId)
    {
        try
        {
            // Not the caller's token: an upload abandoned because the client went away must still be aborted.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = Bucket, Key = key, UploadId = uploadId },
                timeout.Token);
        }
        catch (AmazonS3Exception ex) when (IsMissingUpload(ex))
        {
            // Already gone.
        }
        catch (Exception ex) when (ex is AmazonServiceException or AmazonClientException or IOException or OperationCanceledException)
        {
            LogAbortFailed(Logger, key, uploadId, ex);
        }
    }

    internal async Task DeleteObjectAsync(string key, CancellationToken cancellationToken) =>
        await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = key }, cancellationToken);

    /// <summary>
    /// Copies <paramref name="source"/> into the multipart upload as parts numbered from
    /// <paramref name="firstPartNumber"/>, <c>multipartcopychunksize</c> bytes each and up to
    /// <c>multipartcopymaxconcurrency</c> at once. A remainder under S3's 5 MiB part minimum is merged
    /// into the part before it, so every part may be followed by more.
    /// </summary>
    internal async Task<List<PartETag>> CopyPartsAsync(string sourceKey, ObjectHead source, string destinationKey, string uploadId,
        int firstPartNumber, CancellationToken cancellationToken)
    {
        var ranges = CopyRanges(source.Size, Options.MultipartCopyChunkSize);
        if (firstPartNumber - 1 + ranges.Count > MaximumParts)
        {
            throw new IOException($"{Name}: {source.Size} bytes need more than {MaximumParts} parts of {Options.MultipartCopyChunkSize} bytes");
        }

        using var limiter = new SemaphoreSlim((int)Math.Min(Options.MultipartCopyMaxConcurrency, 1024));
        var tasks = ranges.Select(async (range, index) =>
        {
            await limiter.WaitAsync(cancellationToken);
            try
            {
                var partNumber = firstPartNumber + index;
                var response = await _client.CopyPartAsync(new CopyPartRequest
                {
                    SourceBucket = Bucket,
                    SourceKey = sourceKey,
                    ETagToMatch = [source.ETag],
                    DestinationBucket = Bucket,
                    DestinationKey = destinationKey,
                    UploadId = uploadId,
                    PartNumber = partNumber,
                    FirstByte = range.First,
                    LastByte = range.Last,
                }, cancellationToken);
                return new PartETag(partNumber, response.ETag);
            }
            finally
            {
                limiter.Release();
            }
        }).ToList();
        return [.. await Task.WhenAll(tasks)];
    }

    /// <summary>The inclusive byte ranges of a multipart copy of <paramref name="size"/> bytes.</summary>
    internal static List<(long First, long Last)> CopyRanges(long size, long chunkSize)
    {
        // Leave room to absorb a short remainder without passing S3's 5 GiB part maximum.
        chunkSize = Math.Min(chunkSize, S3DriverOptions.MaximumChunkSize - S3DriverOptions.MinimumChunkSize);
        var ranges = new List<(long First, long Last)>();
        for (var first = 0L; first < size; first += chunkSize)
        {
            ranges.Add((first, Math.Min(first + chunkSize, size) - 1));
        }

        if (ranges.Count > 1 && ranges[^1].Last - ranges[^1].First + 1 < S3DriverOptions.MinimumChunkSize)
        {
            ranges[^2] = (ranges[^2].First, size - 1);
            ranges.RemoveAt(ranges.Count - 1);
        }

        return ranges;
    }

    private static AmazonS3Client NewClient(S3DriverOptions options, Uri? endpoint, bool pathStyle, AWSCredentials? credentials)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = pathStyle,
            UseAccelerateEndpoint = options.Accelerate,
            UseDualstackEndpoint = options.UseDualStack,
            UseFIPSEndpoint = options.UseFipsEndpoint,
            RequestChecksumCalculation = options.Checksums == S3ChecksumMode.WhenSupported
                ? RequestChecksumCalculation.WHEN_SUPPORTED
                : RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = options.Checksums == S3ChecksumMode.WhenSupported
                ? ResponseChecksumValidation.WHEN_SUPPORTED
                : ResponseChecksumValidation.WHEN_REQUIRED,
            // The SDK copies a request body to the socket through a buffer of this size (8 KiB by default): a 64 MiB
            // push made about 9,000 sends of 7 KiB, 1,700 with 64 KiB. Below the large-object heap's threshold.
            BufferSize = 64 * 1024,
        };

        config.EndpointProvider = new CachedEndpointProvider(config.EndpointProvider ?? new AmazonS3EndpointProvider());
        if (endpoint is not null)
        {
            config.ServiceURL = endpoint.ToString();
            config.AuthenticationRegion = string.IsNullOrWhiteSpace(options.Region) ? "us-east-1" : options.Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
            config.UseHttp = !options.Secure;
        }

        if (options.SkipVerify)
        {
            config.HttpClientFactory = new InsecureHttpClientFactory();
        }

        if (!string.IsNullOrEmpty(options.UserAgent))
        {
            config.ClientAppId = options.UserAgent;
        }

        return credentials is null ? new AmazonS3Client(config) : new AmazonS3Client(credentials, config);
    }

    private static Protocol ProtocolOf(Uri uri) => uri.Scheme == Uri.UriSchemeHttp ? Protocol.HTTP : Protocol.HTTPS;

    private static DateTimeOffset ToTimestamp(DateTime? time) => time switch
    {
        null => DateTimeOffset.UnixEpoch,
        { Kind: DateTimeKind.Unspecified } value => new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc)),
        { } value => new DateTimeOffset(value.ToUniversalTime()),
    };

    private static MemoryStream AsStream(ReadOnlyMemory<byte> content) =>
        MemoryMarshal.TryGetArray(content, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(content.ToArray(), writable: false);

    private string ToPath(string key) => "/" + key[_rootPrefix.Length..];

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning,
        Message = "storage.s3.v4auth is false; Berth signs every request with AWS Signature Version 4")]
    private static partial void LogV4AuthIgnored(ILogger logger);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "storage.s3.keyid is set but encrypt is false; objects are not encrypted")]
    private static partial void LogKeyIdIgnored(ILogger logger);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning,
        Message = "Could not abort multipart upload {UploadId} of {Key}; its parts stay until a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes them")]
    private static partial void LogAbortFailed(ILogger logger, string key, string uploadId, Exception exception);

    /// <summary>What a HEAD request tells about an object.</summary>
    internal sealed record ObjectHead(long Size, string ETag, DateTimeOffset ModifiedAt);

    /// <summary>The body of a GET; disposing it releases the response and its connection.</summary>
    private sealed class ResponseStream(GetObjectResponse response) : Stream
    {
        private readonly Stream _inner = response.ResponseStream;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => response.ContentLength;

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => _inner.Read(buffer);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            _inner.ReadAsync(buffer, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                response.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>An HTTP client factory that accepts any server certificate (<c>skipverify</c>).</summary>
    private sealed class InsecureHttpClientFactory : HttpClientFactory
    {
        public override HttpClient CreateHttpClient(IClientConfig clientConfig)
        {
#pragma warning disable CA5359, CA5400 // skipverify asks for exactly this.
            var handler = new SocketsHttpHandler
            {
                SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
            };
#pragma warning restore CA5359, CA5400
            return new HttpClient(handler);
        }
    }
}
