using System.Diagnostics;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Berth.LoadClient;

/// <summary>
/// Object-store housekeeping for bench/s3.sh: deletes every object below a key prefix, so a run leaves
/// nothing behind in a shared bucket (and frees a RAM-backed store between rounds). Path-style
/// addressing and checksums only where required, as Berth's own driver talks to Ceph RGW and MinIO.
/// Keys come from S3_ACCESS_KEY / S3_SECRET_KEY (not from the command line, which <c>ps</c> shows).
/// </summary>
internal static class S3Commands
{
    public static async Task<int> DeletePrefixAsync(CommandOptions options)
    {
        var endpoint = options.Get("endpoint");
        var bucket = options.Get("bucket");
        var prefix = options.Get("prefix").Trim('/');
        if (prefix.Length == 0)
        {
            throw new ArgumentException("--prefix must not be empty (refusing to empty the whole bucket)");
        }

        prefix += "/";
        var access = Environment.GetEnvironmentVariable("S3_ACCESS_KEY") ?? throw new ArgumentException("S3_ACCESS_KEY is not set");
        var secret = Environment.GetEnvironmentVariable("S3_SECRET_KEY") ?? throw new ArgumentException("S3_SECRET_KEY is not set");
        var config = new AmazonS3Config
        {
            ServiceURL = endpoint,
            AuthenticationRegion = options.Get("region", "us-east-1"),
            ForcePathStyle = true,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            Timeout = TimeSpan.FromSeconds(60),
        };

        using var client = new AmazonS3Client(new BasicAWSCredentials(access, secret), config);
        using var cts = new CancellationTokenSource(options.GetSeconds("timeout", 300));
        var start = Stopwatch.GetTimestamp();
        var deleted = 0L;
        var bytes = 0L;
        var request = new ListObjectsV2Request { BucketName = bucket, Prefix = prefix, MaxKeys = 1000 };
        do
        {
            // Deleting while listing is fine for S3: each page is deleted before the next is asked for.
            var page = await client.ListObjectsV2Async(request, cts.Token);
            var victims = (page.S3Objects ?? []).Select(o => new KeyVersion { Key = o.Key }).ToList();
            if (victims.Count > 0)
            {
                var result = await client.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = bucket, Objects = victims, Quiet = true }, cts.Token);
                if (result.DeleteErrors is { Count: > 0 } errors)
                {
                    throw new BenchmarkException($"could not delete {errors.Count} objects below {prefix}, first {errors[0].Key}: {errors[0].Code}");
                }

                deleted += victims.Count;
                bytes += (page.S3Objects ?? []).Sum(o => o.Size ?? 0);
            }

            request.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (request.ContinuationToken is not null);

        Output.Line(("objects", deleted), ("bytes", bytes), ("seconds", Output.F(Stopwatch.GetElapsedTime(start).TotalSeconds, 3)));
        return 0;
    }
}
