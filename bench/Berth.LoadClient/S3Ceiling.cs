using System.Diagnostics;
using System.Threading.Channels;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Win32.SafeHandles;

namespace Berth.LoadClient;

/// <summary>
/// bench/s3.sh's store ceiling: the AWS SDK moving the same bytes to and from the same bucket without a registry in
/// between, the way Berth's S3 driver does it. <c>s3-put</c> is a multipart upload of the file in parts of
/// <c>--part-bytes</c> (Berth's <c>chunksize</c>) with <c>--concurrency</c> parts in flight (Berth's writer sends one at
/// a time); <c>s3-get</c> is one streamed GET read in 128 KiB pieces, as Berth reads a blob it serves with redirects
/// disabled. Both configure the client as Berth does (path style, checksums only where required, 64 KiB copy buffer)
/// and take the keys from S3_ACCESS_KEY / S3_SECRET_KEY.
/// </summary>
internal static class S3Ceiling
{
    private const int GetBufferSize = 128 * 1024;

    /// <summary>
    /// Uploads <c>--file</c> to <c>--key</c>. The file is read one part ahead of the uploads, so the figure is the
    /// store's and the SDK's, not the local disk's.
    /// </summary>
    public static async Task<int> PutAsync(CommandOptions options)
    {
        var bucket = options.Get("bucket");
        var key = options.Get("key");
        var path = options.Get("file");
        var partBytes = options.GetInt("part-bytes", 10 * 1024 * 1024);
        var concurrency = options.GetInt("concurrency", 1);
        if (partBytes < 5 * 1024 * 1024 || concurrency < 1)
        {
            throw new ArgumentException("--part-bytes must be at least 5 MiB (S3's part minimum) and --concurrency at least 1");
        }

        using var client = NewClient(options);
        using var cts = new CancellationTokenSource(options.GetSeconds("timeout", 600));
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        var length = RandomAccess.GetLength(file);

        // One buffer per part in flight plus the one being filled from the file.
        var free = Channel.CreateBounded<byte[]>(concurrency + 1);
        for (var i = 0; i <= concurrency; i++)
        {
            free.Writer.TryWrite(new byte[partBytes]);
        }

        await WarmUpAsync(client, bucket, key, cts.Token);
        var start = Stopwatch.GetTimestamp();
        var uploadId = (await client.InitiateMultipartUploadAsync(
            new InitiateMultipartUploadRequest { BucketName = bucket, Key = key, ContentType = "application/octet-stream" }, cts.Token)).UploadId;
        try
        {
            using var inFlight = new SemaphoreSlim(concurrency);
            var uploads = new List<Task<PartETag>>();
            var partNumber = 0;
            for (var offset = 0L; offset < length; offset += partBytes)
            {
                var buffer = await free.Reader.ReadAsync(cts.Token);
                var size = (int)Math.Min(partBytes, length - offset);
                await ReadExactlyAsync(file, buffer.AsMemory(0, size), offset, cts.Token);
                await inFlight.WaitAsync(cts.Token);
                partNumber++;
                uploads.Add(UploadPartAsync(client, bucket, key, uploadId, partNumber, buffer, size, inFlight, free.Writer, cts.Token));
            }

            var parts = await Task.WhenAll(uploads);
            await client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = bucket, Key = key, UploadId = uploadId, PartETags = [.. parts],
            }, cts.Token);
        }
        catch
        {
            using var abortTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = uploadId },
                abortTimeout.Token);
            throw;
        }

        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Output.Line(("bytes", length), ("seconds", Output.F(seconds, 3)), ("mbps", Output.F(length / seconds / 1e6)));
        return 0;
    }

    /// <summary>One GET of <c>--key</c>, the body read and discarded.</summary>
    public static async Task<int> GetAsync(CommandOptions options)
    {
        using var client = NewClient(options);
        using var cts = new CancellationTokenSource(options.GetSeconds("timeout", 600));
        var buffer = new byte[GetBufferSize];
        var bucket = options.Get("bucket");
        var key = options.Get("key");
        await WarmUpAsync(client, bucket, key, cts.Token);
        var start = Stopwatch.GetTimestamp();
        using var response = await client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key }, cts.Token);
        var total = 0L;
        int read;
        while ((read = await response.ResponseStream.ReadAsync(buffer, cts.Token)) > 0)
        {
            total += read;
        }

        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (total != response.ContentLength)
        {
            throw new BenchmarkException($"GET returned {total} bytes, Content-Length said {response.ContentLength}");
        }

        Output.Line(("bytes", total), ("seconds", Output.F(seconds, 3)), ("mbps", Output.F(total / seconds / 1e6)));
        return 0;
    }

    /// <summary>
    /// One small untimed round trip of each kind the timed work uses (a multipart upload of one tiny part, aborted, and
    /// a GET of a missing key): the registry under test is warm, so the SDK's first-call set-up must not count here.
    /// </summary>
    private static async Task WarmUpAsync(AmazonS3Client client, string bucket, string key, CancellationToken cancellationToken)
    {
        var warmKey = key + ".warm-up";
        var uploadId = (await client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = bucket, Key = warmKey },
            cancellationToken)).UploadId;
        using (var body = new MemoryStream(new byte[1024], writable: false))
        {
            await client.UploadPartAsync(new UploadPartRequest
            {
                BucketName = bucket, Key = warmKey, UploadId = uploadId, PartNumber = 1, InputStream = body, PartSize = body.Length,
            }, cancellationToken);
        }

        await client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = bucket, Key = warmKey, UploadId = uploadId },
            cancellationToken);
        try
        {
            using var missing = await client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = warmKey }, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            // Expected: nothing was completed at the warm-up key.
        }
    }

    private static async Task<PartETag> UploadPartAsync(AmazonS3Client client, string bucket, string key, string uploadId, int partNumber,
        byte[] buffer, int size, SemaphoreSlim inFlight, ChannelWriter<byte[]> free, CancellationToken cancellationToken)
    {
        try
        {
            using var body = new MemoryStream(buffer, 0, size, writable: false);
            var response = await client.UploadPartAsync(new UploadPartRequest
            {
                BucketName = bucket, Key = key, UploadId = uploadId, PartNumber = partNumber, InputStream = body, PartSize = size,
            }, cancellationToken);
            return new PartETag(partNumber, response.ETag);
        }
        finally
        {
            inFlight.Release();
            free.TryWrite(buffer);
        }
    }

    private static async Task ReadExactlyAsync(SafeFileHandle file, Memory<byte> buffer, long offset, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            var read = await RandomAccess.ReadAsync(file, buffer, offset, cancellationToken);
            if (read == 0)
            {
                throw new BenchmarkException("the file ended early");
            }

            buffer = buffer[read..];
            offset += read;
        }
    }

    /// <summary>A client configured as Berth's S3 driver configures its own.</summary>
    internal static AmazonS3Client NewClient(CommandOptions options)
    {
        var access = Environment.GetEnvironmentVariable("S3_ACCESS_KEY") ?? throw new ArgumentException("S3_ACCESS_KEY is not set");
        var secret = Environment.GetEnvironmentVariable("S3_SECRET_KEY") ?? throw new ArgumentException("S3_SECRET_KEY is not set");
        var config = new AmazonS3Config
        {
            ServiceURL = options.Get("endpoint"),
            AuthenticationRegion = options.Get("region", "us-east-1"),
            ForcePathStyle = true,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            BufferSize = 64 * 1024,
        };
        return new AmazonS3Client(new BasicAWSCredentials(access, secret), config);
    }
}
