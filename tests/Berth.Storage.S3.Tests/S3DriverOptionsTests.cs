using Amazon.Runtime;
using Amazon.S3;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Storage.S3.Tests;

/// <summary>Options and client set-up; no server needed (creating a driver makes no request).</summary>
public sealed class S3DriverOptionsTests
{
    private static readonly S3DriverOptions Minimal = new() { Bucket = "registry", Region = "us-east-1" };

    [Fact]
    public void Defaults_AreRegistry2s()
    {
        var options = new S3DriverOptions();

        Assert.Equal(10L * 1024 * 1024, options.ChunkSize);
        Assert.Equal(32L * 1024 * 1024, options.MultipartCopyChunkSize);
        Assert.Equal(32L * 1024 * 1024, options.MultipartCopyThresholdSize);
        Assert.Equal(100, options.MultipartCopyMaxConcurrency);
        Assert.True(options.Secure);
        Assert.True(options.V4Auth);
        Assert.Equal("STANDARD", options.StorageClass);
        Assert.Equal(TimeSpan.FromMinutes(20), options.RedirectExpiry);
        Assert.Equal(S3ChecksumMode.WhenRequired, options.Checksums);
    }

    [Theory]
    [InlineData(null, "/docker/registry/v2/blobs/sha256/ab/abcd/data", "docker/registry/v2/blobs/sha256/ab/abcd/data")]
    [InlineData("", "/docker/x", "docker/x")]
    [InlineData("/", "/docker/x", "docker/x")]
    [InlineData("/registry", "/docker/x", "registry/docker/x")]
    [InlineData("/registry/", "/docker/x", "registry/docker/x")]
    [InlineData("registry//", "/docker/x", "registry/docker/x")]
    [InlineData("/a/b/", "/docker/x", "a/b/docker/x")]
    public void ObjectKey_IsRootDirectoryWithoutTrailingSlashesThenPathWithoutLeadingSlashes(string? root, string path, string key)
    {
        using var driver = S3Driver.Create(Minimal with { RootDirectory = root }, NullLogger.Instance);

        Assert.Equal(key, driver.ObjectKey(path));
    }

    [Theory]
    [InlineData(5L * 1024 * 1024 - 1, "chunksize")]
    [InlineData(5L * 1024 * 1024 * 1024 + 1, "chunksize")]
    public void Create_ChunkSizeOutOfRange_NamesTheKey(long chunkSize, string key)
    {
        var exception = Assert.Throws<ArgumentException>(() => S3Driver.Create(Minimal with { ChunkSize = chunkSize }, NullLogger.Instance));

        Assert.Contains(key + ":", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ReportsEveryProblemWithItsKey()
    {
        var errors = new S3DriverOptions
        {
            Bucket = "",
            MultipartCopyChunkSize = 1,
            MultipartCopyMaxConcurrency = 0,
            MultipartCopyThresholdSize = -1,
            StorageClass = "GLACIER",
            ObjectAcl = "everyone",
            RedirectExpiry = TimeSpan.FromDays(8),
            RedirectEndpoint = new Uri("https://cdn.example.com/path"),
            RegionEndpoint = "ftp://host",
        }.Validate();

        Assert.Equal(
            ["bucket", "regionendpoint", "multipartcopychunksize", "multipartcopymaxconcurrency", "multipartcopythresholdsize", "storageclass",
                "objectacl", "redirectendpoint", "redirect expiry"],
            errors.Select(e => e[..e.IndexOf(':', StringComparison.Ordinal)]));
    }

    [Fact]
    public void Validate_RegionOrEndpointIsRequired()
    {
        Assert.Contains("region: required unless regionendpoint is set", new S3DriverOptions { Bucket = "b" }.Validate());
        Assert.Empty(new S3DriverOptions { Bucket = "b", RegionEndpoint = "minio:9000" }.Validate());
        Assert.Empty(Minimal.Validate());
    }

    [Fact]
    public void StorageClass_IsCaseInsensitive()
    {
        Assert.Empty((Minimal with { StorageClass = "standard_ia" }).Validate());
    }

    [Theory]
    [InlineData(S3ChecksumMode.WhenRequired)]
    [InlineData(S3ChecksumMode.WhenSupported)]
    public void Checksums_MapToTheSdksRequestAndResponseSettings(S3ChecksumMode mode)
    {
        using var driver = S3Driver.Create(Minimal with { Checksums = mode }, NullLogger.Instance);
        var config = (AmazonS3Config)driver.Client.Config;

        Assert.Equal(mode == S3ChecksumMode.WhenRequired ? RequestChecksumCalculation.WHEN_REQUIRED : RequestChecksumCalculation.WHEN_SUPPORTED,
            config.RequestChecksumCalculation);
        Assert.Equal(mode == S3ChecksumMode.WhenRequired ? ResponseChecksumValidation.WHEN_REQUIRED : ResponseChecksumValidation.WHEN_SUPPORTED,
            config.ResponseChecksumValidation);
    }

    [Theory]
    [InlineData("http://ceph:7480", null, true, "http://ceph:7480/")]
    [InlineData("ceph:7480", null, false, "http://ceph:7480/")]
    [InlineData("ceph:7480", null, true, "https://ceph:7480/")]
    [InlineData("https://minio.example.com", false, true, "https://minio.example.com/")]
    public void RegionEndpoint_SetsTheServiceUrlAndRegistry2sPathStyleDefault(string endpoint, bool? forcePathStyle, bool secure, string serviceUrl)
    {
        using var driver = S3Driver.Create(Minimal with { RegionEndpoint = endpoint, ForcePathStyle = forcePathStyle, Secure = secure },
            NullLogger.Instance);
        var config = (AmazonS3Config)driver.Client.Config;

        Assert.Equal(serviceUrl, config.ServiceURL);
        Assert.Equal(forcePathStyle ?? true, config.ForcePathStyle);
        Assert.Equal("us-east-1", config.AuthenticationRegion);
    }

    [Fact]
    public void Region_WithoutEndpoint_UsesAmazonS3InThatRegionWithVirtualHostedBuckets()
    {
        using var driver = S3Driver.Create(Minimal with { Region = "eu-west-1" }, NullLogger.Instance);
        var config = (AmazonS3Config)driver.Client.Config;

        Assert.Equal("eu-west-1", config.RegionEndpoint?.SystemName);
        Assert.False(config.ForcePathStyle);
    }

    [Fact]
    public void ChunkSize_AboveTheLargestPooledBuffer_IsCutThere()
    {
        using var driver = S3Driver.Create(Minimal with { ChunkSize = 4L * 1024 * 1024 * 1024 }, NullLogger.Instance);

        Assert.Equal(S3DriverOptions.MaximumBufferSize, driver.ChunkSize);
    }
}
