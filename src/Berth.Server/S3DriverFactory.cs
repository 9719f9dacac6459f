using Berth.Server.Configuration;
using Berth.Storage.S3;

namespace Berth.Server;

/// <summary>Builds the S3 driver from <c>storage.s3</c>, key for key.</summary>
internal static class S3DriverFactory
{
    public static S3Driver Create(S3StorageOptions s3, ILogger<S3Driver> logger)
    {
        var options = Validate(s3);
        try
        {
            return S3Driver.Create(options, logger);
        }
        catch (ArgumentException ex)
        {
            // Validate has checked what S3Driver.Create checks; this is only a net for a check added there later.
            throw ConfigurationException.ForKey("storage.s3", ex.Message, innerException: ex);
        }
    }

    /// <summary>
    /// The driver's options with the driver's own checks applied (an endpoint that is not a URL, sizes out of range),
    /// the first failure naming its key. Builds no client and sends no request.
    /// </summary>
    public static S3DriverOptions Validate(S3StorageOptions s3)
    {
        var options = Options(s3);
        if (options.Validate() is [var first, ..])
        {
            // The driver's errors read "key: problem" ("redirect expiry" is redirectexpiry).
            var colon = first.IndexOf(": ", StringComparison.Ordinal);
            throw colon > 0
                ? ConfigurationException.ForKey("storage.s3." + first[..colon].Replace(" ", "", StringComparison.Ordinal), first[(colon + 2)..])
                : ConfigurationException.ForKey("storage.s3", first);
        }

        return options;
    }

    private static S3DriverOptions Options(S3StorageOptions s3)
    {
        var options = new S3DriverOptions
        {
            AccessKey = s3.AccessKey,
            SecretKey = s3.SecretKey,
            Region = s3.Region,
            RegionEndpoint = s3.RegionEndpoint,
            Bucket = s3.Bucket,
            RootDirectory = s3.RootDirectory,
            ForcePathStyle = s3.ForcePathStyle,
            Secure = s3.Secure,
            SkipVerify = s3.SkipVerify,
            V4Auth = s3.V4Auth,
            ChunkSize = s3.ChunkSize,
            MultipartCopyChunkSize = s3.MultipartCopyChunkSize,
            MultipartCopyMaxConcurrency = s3.MultipartCopyMaxConcurrency,
            MultipartCopyThresholdSize = s3.MultipartCopyThresholdSize,
            StorageClass = s3.StorageClass,
            Encrypt = s3.Encrypt,
            KeyId = s3.KeyId,
            ObjectAcl = s3.ObjectAcl,
            UserAgent = s3.UserAgent,
            Accelerate = s3.Accelerate,
            UseDualStack = s3.UseDualStack,
            UseFipsEndpoint = s3.UseFipsEndpoint,
            RedirectEndpoint = s3.RedirectEndpoint,
            Checksums = s3.Checksums == "whensupported" ? S3ChecksumMode.WhenSupported : S3ChecksumMode.WhenRequired,
            RedirectExpiry = s3.RedirectExpiry,
        };
        return options;
    }
}
