using System.Collections.Concurrent;
using Amazon.Runtime.Endpoints;
using Amazon.S3.Endpoints;

namespace Berth.Storage.S3;

/// <summary>
/// The AWS SDK's S3 endpoint resolution, remembered per configuration and bucket.
/// </summary>
/// <remarks>
/// The SDK runs its endpoint rules for every request: a tree of string and URL checks over a dictionary of parameters,
/// about a tenth of the CPU a small request costs the registry (a manifest push is about a dozen of them). The answer
/// depends on the client's configuration and the bucket, never on the object key, the listing prefix or a copy's
/// source: the rules copy those three into their working set and never test them. <see cref="ResolvedOnlyBy"/> lists what the answer is
/// remembered by, and a test fails when an SDK update adds a parameter, so a new one cannot be left out of the key
/// unnoticed. The SDK appends a slash to the URL it is given for requests without a resource path, so each request
/// gets its own <see cref="Endpoint"/> (sharing the read-only attributes and headers).
/// </remarks>
internal sealed class CachedEndpointProvider(IEndpointProvider inner) : IEndpointProvider
{
    /// <summary>Every parameter the SDK passes, except those the rules never decide by (the key, the prefix, the copy source).</summary>
    internal static readonly string[] ResolvedOnlyBy =
    [
        nameof(S3EndpointParameters.Bucket), nameof(S3EndpointParameters.Region), nameof(S3EndpointParameters.UseFIPS),
        nameof(S3EndpointParameters.UseDualStack), nameof(S3EndpointParameters.Endpoint), nameof(S3EndpointParameters.ForcePathStyle),
        nameof(S3EndpointParameters.Accelerate), nameof(S3EndpointParameters.UseGlobalEndpoint),
        nameof(S3EndpointParameters.UseObjectLambdaEndpoint), nameof(S3EndpointParameters.DisableAccessPoints),
        nameof(S3EndpointParameters.DisableMultiRegionAccessPoints), nameof(S3EndpointParameters.UseArnRegion),
        nameof(S3EndpointParameters.UseS3ExpressControlEndpoint), nameof(S3EndpointParameters.DisableS3ExpressSessionAuth),
    ];

    /// <summary>The parameters passed through unread.</summary>
    internal static readonly string[] NotResolvedBy =
        [nameof(S3EndpointParameters.Key), nameof(S3EndpointParameters.Prefix), nameof(S3EndpointParameters.CopySource)];

    // One driver talks to one bucket with one configuration; the bound only guards against a caller with many buckets.
    private const int MaxEntries = 64;

    private readonly ConcurrentDictionary<ParameterKey, Endpoint> _resolved = new();

    public Endpoint ResolveEndpoint(EndpointParameters parameters)
    {
        if (parameters is not S3EndpointParameters s3)
        {
            return inner.ResolveEndpoint(parameters);
        }

        var key = ParameterKey.Of(s3);
        if (!_resolved.TryGetValue(key, out var resolved))
        {
            resolved = inner.ResolveEndpoint(parameters);
            if (_resolved.Count < MaxEntries)
            {
                _resolved.TryAdd(key, resolved);
            }
        }

        return new Endpoint(resolved.URL) { Attributes = resolved.Attributes, Headers = resolved.Headers };
    }

    private readonly record struct ParameterKey(
        string? Bucket, string? Region, bool? UseFips, bool? UseDualStack, string? Endpoint, bool? ForcePathStyle, bool? Accelerate,
        bool? UseGlobalEndpoint, bool? UseObjectLambdaEndpoint, bool? DisableAccessPoints, bool? DisableMultiRegionAccessPoints,
        bool? UseArnRegion, bool? UseS3ExpressControlEndpoint, bool? DisableS3ExpressSessionAuth)
    {
        public static ParameterKey Of(S3EndpointParameters p) => new(
            p.Bucket, p.Region, p.UseFIPS, p.UseDualStack, p.Endpoint, p.ForcePathStyle, p.Accelerate, p.UseGlobalEndpoint,
            p.UseObjectLambdaEndpoint, p.DisableAccessPoints, p.DisableMultiRegionAccessPoints, p.UseArnRegion,
            p.UseS3ExpressControlEndpoint, p.DisableS3ExpressSessionAuth);
    }
}
