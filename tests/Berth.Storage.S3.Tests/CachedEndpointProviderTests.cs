using Amazon.Runtime.Endpoints;
using Amazon.S3.Endpoints;
using Amazon.S3.Internal;

namespace Berth.Storage.S3.Tests;

/// <summary>The driver's memory of the SDK's endpoint resolution; no server needed.</summary>
public sealed class CachedEndpointProviderTests
{
    /// <summary>Configurations as the driver makes them: a custom endpoint (path style or not) and AWS regions with their options.</summary>
    public static TheoryData<string> Configurations => ["custom-path", "custom-virtual", "aws", "aws-fips", "aws-dualstack", "aws-accelerate"];

    private static S3EndpointParameters Parameters(string configuration, string? key = null, string? prefix = null, string? copySource = null)
    {
        var parameters = new S3EndpointParameters
        {
            Bucket = "registry",
            Region = configuration == "aws-fips" ? "us-west-2" : "eu-central-1",
            UseFIPS = configuration == "aws-fips",
            UseDualStack = configuration == "aws-dualstack",
            ForcePathStyle = configuration == "custom-path",
            Accelerate = configuration == "aws-accelerate",
            UseGlobalEndpoint = false,
            DisableMultiRegionAccessPoints = false,
            Key = key,
            Prefix = prefix,
            CopySource = copySource,
        };
        if (configuration.StartsWith("custom", StringComparison.Ordinal))
        {
            parameters.Endpoint = "http://127.0.0.1:9000";
        }

        return parameters;
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Every_key_prefix_and_copy_source_gets_what_the_sdk_itself_answers(string configuration)
    {
        var sdk = new AmazonS3EndpointProvider();
        var cached = new CachedEndpointProvider(new AmazonS3EndpointProvider());
        (string? Key, string? Prefix, string? CopySource)[] requests =
        [
            ("docker/registry/v2/blobs/sha256/ab/abcd/data", null, null),
            (null, "docker/registry/v2/repositories/", null),
            ("docker/registry/v2/blobs/sha256/cd/cdef/data", null, "registry/docker/registry/v2/_uploads/x/data"),
            ("a key/with spaces+and%signs", null, null),
            (null, null, null),
        ];

        foreach (var (key, prefix, copySource) in requests)
        {
            var expected = sdk.ResolveEndpoint(Parameters(configuration, key, prefix, copySource));
            var actual = cached.ResolveEndpoint(Parameters(configuration, key, prefix, copySource));

            Assert.Equal(expected.URL, actual.URL);
            Assert.Equal(AuthSchemes(expected), AuthSchemes(actual));
            Assert.Equal(expected.Headers?.Count ?? 0, actual.Headers?.Count ?? 0);
        }
    }

    [Fact]
    public void The_rules_run_once_per_configuration_and_bucket()
    {
        var counting = new CountingProvider(new AmazonS3EndpointProvider());
        var cached = new CachedEndpointProvider(counting);

        for (var i = 0; i < 10; i++)
        {
            cached.ResolveEndpoint(Parameters("custom-path", key: $"docker/registry/v2/blobs/{i}/data"));
            cached.ResolveEndpoint(Parameters("aws", key: $"docker/registry/v2/blobs/{i}/data"));
        }

        var otherBucket = Parameters("aws", key: "x");
        otherBucket.Bucket = "another-registry";
        cached.ResolveEndpoint(otherBucket);

        Assert.Equal(3, counting.Calls);
    }

    [Fact]
    public void A_change_the_sdk_makes_to_one_answer_does_not_reach_the_next()
    {
        var cached = new CachedEndpointProvider(new AmazonS3EndpointProvider());

        var first = cached.ResolveEndpoint(Parameters("custom-path"));
        var url = first.URL;
        first.URL += "/"; // as the SDK does for a request without a resource path

        Assert.Equal(url, cached.ResolveEndpoint(Parameters("custom-path")).URL);
    }

    [Fact]
    public void Every_parameter_the_sdk_passes_is_either_remembered_by_or_known_to_be_unread()
    {
        // An SDK update that adds an endpoint parameter fails here: decide whether the rules decide by it (then it joins
        // the cache's key) before trusting the cache again.
        var passed = typeof(S3EndpointParameters).GetProperties()
            .Where(p => p.GetIndexParameters().Length == 0)
            .Select(p => p.Name)
            .Order(StringComparer.Ordinal);

        Assert.Equal(CachedEndpointProvider.ResolvedOnlyBy.Concat(CachedEndpointProvider.NotResolvedBy).Order(StringComparer.Ordinal), passed);
    }

    [Fact]
    public void A_change_to_any_remembered_parameter_runs_the_rules_again()
    {
        foreach (var name in CachedEndpointProvider.ResolvedOnlyBy)
        {
            var counting = new CountingProvider(new AmazonS3EndpointProvider());
            var cached = new CachedEndpointProvider(counting);
            var changed = Parameters("aws");
            var property = typeof(S3EndpointParameters).GetProperty(name)!;
            property.SetValue(changed, property.PropertyType == typeof(string) ? "changed-" + property.GetValue(changed) : !((bool?)property.GetValue(changed) ?? false));

            cached.ResolveEndpoint(Parameters("aws"));
            try
            {
                cached.ResolveEndpoint(changed);
            }
            catch (Amazon.Runtime.AmazonClientException)
            {
                // Some combinations are invalid; the rules ran, which is what is counted.
            }

            Assert.True(counting.Calls == 2, $"{name}: a changed value was answered from memory");
        }
    }

    /// <summary>What the SDK signs with, read from an endpoint's attributes the way its resolver reads them.</summary>
    private static List<string> AuthSchemes(Endpoint endpoint) =>
        endpoint.Attributes?["authSchemes"] is System.Collections.IList schemes
            ? schemes.Cast<PropertyBag>().Select(s => $"{s["name"]} {s["signingName"]} {s["signingRegion"]} {s["disableDoubleEncoding"]}").ToList()
            : [];

    private sealed class CountingProvider(IEndpointProvider inner) : IEndpointProvider
    {
        public int Calls { get; private set; }

        public Endpoint ResolveEndpoint(EndpointParameters parameters)
        {
            Calls++;
            return inner.ResolveEndpoint(parameters);
        }
    }
}
