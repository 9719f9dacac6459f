using System.Diagnostics;
using System.Text.RegularExpressions;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Storage.S3.Tests.Infrastructure;

/// <summary>Where the S3 server the tests use lives, as <c>start-s3.sh</c>'s <c>s3.env</c> describes it.</summary>
public sealed record S3Endpoint(string Url, string Region, string Bucket, string AccessKey, string SecretKey);

/// <summary>
/// Finds the real S3-compatible server the tests run against, once per test process:
/// <list type="number">
/// <item><c>S3_ENDPOINT</c> (with <c>S3_ACCESS_KEY</c>, <c>S3_SECRET_KEY</c>, optional <c>S3_BUCKET</c>,
/// <c>S3_REGION</c>) names a running server: the variables <c>start-s3.sh</c> writes to <c>s3.env</c>.</item>
/// <item>Otherwise <c>BERTH_S3_START_SCRIPT</c> names <c>start-s3.sh</c>, which is run (idempotent; with
/// <c>S3_OBJECTSTORE=memstore</c> unless set) and its <c>s3.env</c> read. The server is left running.</item>
/// <item>Otherwise every S3 test fails with a message saying so; they never pass without a server.</item>
/// </list>
/// </summary>
public static partial class S3TestStore
{
    /// <summary>A prefix shared by this test process, so concurrent and repeated runs never see each other's keys.</summary>
    public static readonly string RunPrefix = $"berth-tests/{DateTime.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid():N}";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static S3Endpoint? _endpoint;
    private static Exception? _failure;

    /// <summary>The server, found (or started) by the first caller; a failure is remembered and reported to every caller.</summary>
    public static async Task<S3Endpoint> GetAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_endpoint is null && _failure is null)
            {
                try
                {
                    _endpoint = await FindAsync();
                }
                catch (Exception ex)
                {
                    _failure = ex;
                }
            }

            return _endpoint ?? throw new InvalidOperationException(_failure!.Message, _failure);
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Driver options for a root directory of this run, with the given tweaks.</summary>
    public static S3DriverOptions Options(S3Endpoint endpoint, string rootDirectory) => new()
    {
        RegionEndpoint = endpoint.Url,
        Region = endpoint.Region,
        Bucket = endpoint.Bucket,
        AccessKey = endpoint.AccessKey,
        SecretKey = endpoint.SecretKey,
        RootDirectory = rootDirectory,
        ForcePathStyle = true,
        Checksums = S3ChecksumMode.WhenRequired,
    };

    /// <summary>A raw client for looking at the bucket behind the driver's back.</summary>
    public static AmazonS3Client RawClient(S3Endpoint endpoint) => new(
        new BasicAWSCredentials(endpoint.AccessKey, endpoint.SecretKey),
        new AmazonS3Config
        {
            ServiceURL = endpoint.Url,
            AuthenticationRegion = endpoint.Region,
            ForcePathStyle = true,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

    /// <summary>Removes every object and open multipart upload below <paramref name="prefix"/>.</summary>
    public static async Task DeletePrefixAsync(S3Endpoint endpoint, string prefix)
    {
        using var client = RawClient(endpoint);
        var request = new ListObjectsV2Request { BucketName = endpoint.Bucket, Prefix = prefix };
        do
        {
            var page = await client.ListObjectsV2Async(request);
            if (page.S3Objects is { Count: > 0 } objects)
            {
                await client.DeleteObjectsAsync(new DeleteObjectsRequest
                {
                    BucketName = endpoint.Bucket,
                    Objects = objects.Select(o => new KeyVersion { Key = o.Key }).ToList(),
                    Quiet = true,
                });
            }

            request.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (request.ContinuationToken is not null);

        var uploads = await client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = endpoint.Bucket, Prefix = prefix });
        foreach (var upload in uploads.MultipartUploads ?? [])
        {
            await client.AbortMultipartUploadAsync(endpoint.Bucket, upload.Key, upload.UploadId);
        }
    }

    private static async Task<S3Endpoint> FindAsync()
    {
        S3Endpoint endpoint;
        var url = Environment.GetEnvironmentVariable("S3_ENDPOINT");
        if (!string.IsNullOrEmpty(url))
        {
            endpoint = FromVariables(name => Environment.GetEnvironmentVariable(name), "the environment");
        }
        else if (Environment.GetEnvironmentVariable("BERTH_S3_START_SCRIPT") is { Length: > 0 } script)
        {
            endpoint = await StartAsync(script);
        }
        else
        {
            throw new InvalidOperationException(
                "No S3 server for the S3 driver tests: set S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY (and S3_BUCKET, S3_REGION) "
                + "for a running server, e.g. `. /tmp/s3-ceph-9000/s3.env` after ../shared/tools/s3/start-s3.sh, "
                + "or set BERTH_S3_START_SCRIPT=/path/to/start-s3.sh to have the tests start one.");
        }

        await CheckReachableAsync(endpoint);
        return endpoint;
    }

    private static S3Endpoint FromVariables(Func<string, string?> variable, string source)
    {
        string Required(string name) => variable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"S3 tests: {name} is not set in {source}");

        return new S3Endpoint(
            Required("S3_ENDPOINT"),
            variable("S3_REGION") is { Length: > 0 } region ? region : "us-east-1",
            variable("S3_BUCKET") is { Length: > 0 } bucket ? bucket : "registry",
            Required("S3_ACCESS_KEY"),
            Required("S3_SECRET_KEY"));
    }

    private static async Task<S3Endpoint> StartAsync(string script)
    {
        if (!File.Exists(script))
        {
            throw new InvalidOperationException($"BERTH_S3_START_SCRIPT names {script}, which does not exist");
        }

        var start = new ProcessStartInfo("bash", [script])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("S3_OBJECTSTORE")))
        {
            // RAM only: a fresh cluster starts in about 1.5 s, and the tests keep nothing.
            start.Environment["S3_OBJECTSTORE"] = "memstore";
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not run {script}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        var output = await stdout;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} failed with exit code {process.ExitCode}:\n{output}\n{await stderr}");
        }

        var data = DataDirectory().Match(output) is { Success: true } match
            ? match.Groups[1].Value
            : throw new InvalidOperationException($"{script} did not report its data directory:\n{output}");
        var variables = (await File.ReadAllLinesAsync(Path.Combine(data, "s3.env")))
            .Select(line => line.Split('=', 2))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0], parts => parts[1], StringComparer.Ordinal);
        return FromVariables(name => variables.GetValueOrDefault(name), Path.Combine(data, "s3.env"));
    }

    private static async Task CheckReachableAsync(S3Endpoint endpoint)
    {
        try
        {
            using var client = RawClient(endpoint);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = endpoint.Bucket, MaxKeys = 1 }, timeout.Token);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"S3 tests: the server at {endpoint.Url} (bucket {endpoint.Bucket}) does not answer: {ex.Message}", ex);
        }
    }

    [GeneratedRegex(@"\bdata=(\S+)")]
    private static partial Regex DataDirectory();
}

/// <summary>The S3 server for a test class; xunit fails every test of the class when there is none.</summary>
public sealed class S3Fixture : IAsyncLifetime
{
    private S3Endpoint? _endpoint;

    public S3Endpoint Endpoint => _endpoint ?? throw new InvalidOperationException("S3 fixture not initialised");

    public async Task InitializeAsync() => _endpoint = await S3TestStore.GetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>A driver over a fresh root directory, unwrapped (tests wrap it where the contract needs it).</summary>
    public S3Driver CreateDriver(string rootDirectory, Func<S3DriverOptions, S3DriverOptions>? configure = null)
    {
        var options = S3TestStore.Options(Endpoint, rootDirectory);
        return S3Driver.Create(configure is null ? options : configure(options), NullLogger<S3Driver>.Instance);
    }
}
