using System.Net;
using System.Text.Json;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>A Berth with two quotas: 10,000 bytes per <c>small/**</c> repository, 1 MiB per <c>big/**</c> one.</summary>
public sealed class QuotaRegistryFixture : IAsyncLifetime
{
    public const long SmallLimit = 10_000;

    private readonly AuthSandbox _sandbox = new();

    public AuthTestServer Server { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Server = await _sandbox.StartAsync($"""
            quotas:
              - repositories: ["small/**"]
                limit: {SmallLimit}
              - repositories: ["big/**"]
                limit: 1MiB
            usage:
              maxage: 1s
            """);

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        _sandbox.Dispose();
    }
}

public sealed class QuotaTests(QuotaRegistryFixture fixture) : IClassFixture<QuotaRegistryFixture>
{
    private readonly HttpClient _client = fixture.Server.Client();

    [Fact]
    public async Task ChunkedBlobCommit_OverQuota_IsDeniedNamingTheQuota_AndNothingIsLinked()
    {
        var repository = Oci.UniqueRepository("small");
        var blob = Oci.RandomBytes(12_000);
        var digest = Oci.DigestOf(blob);
        var location = await _client.StartUploadAsync(repository);
        using var patch = await _client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(blob));
        await OciAssert.StatusAsync(patch, HttpStatusCode.Accepted);
        var next = _client.LocationOf(patch);

        using var commit = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(next, digest), null);

        var error = Assert.Single(await OciAssert.ErrorAsync(commit, HttpStatusCode.Forbidden, "DENIED"));
        AssertQuotaDetail(error, repository, "quotas.0", used: 0, adding: 12_000);
        using var head = await _client.SendAsync(HttpMethod.Head, $"/v2/{repository}/blobs/{digest}", null);
        await OciAssert.StatusAsync(head, HttpStatusCode.NotFound);
        using var status = await _client.SendAsync(HttpMethod.Get, next, null);
        await OciAssert.ErrorAsync(status, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task MonolithicBlobPush_OverQuota_IsDenied_AndNothingIsLinked()
    {
        var repository = Oci.UniqueRepository("small");
        var blob = Oci.RandomBytes(10_001);
        var digest = Oci.DigestOf(blob);

        using var push = await _client.SendAsync(HttpMethod.Post, $"/v2/{repository}/blobs/uploads/?digest={digest}", RegistryClient.Bytes(blob));

        var error = Assert.Single(await OciAssert.ErrorAsync(push, HttpStatusCode.Forbidden, "DENIED"));
        AssertQuotaDetail(error, repository, "quotas.0", used: 0, adding: 10_001);
        using var head = await _client.SendAsync(HttpMethod.Head, $"/v2/{repository}/blobs/{digest}", null);
        await OciAssert.StatusAsync(head, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ManifestPut_OverQuota_IsDenied_NothingPartialRemains_AndTheSamePushFitsALargerQuota()
    {
        var repository = Oci.UniqueRepository("small");
        // Each layer fits on its own (blobs no manifest names do not count); together they do not.
        var (config, configBytes, layers, manifestBytes) = await UploadImageAsync(repository, 4_800, 4_800);
        var adding = configBytes.Length + 9_600 + manifestBytes.Length;

        using var refused = await _client.PutManifestAsync(repository, "v1", Oci.ImageManifest, manifestBytes);

        var error = Assert.Single(await OciAssert.ErrorAsync(refused, HttpStatusCode.Forbidden, "DENIED"));
        AssertQuotaDetail(error, repository, "quotas.0", used: 0, adding: adding);
        var manifestDigest = Oci.DigestOf(manifestBytes);
        using var byTag = await _client.SendAsync(HttpMethod.Get, $"/v2/{repository}/manifests/v1", null);
        await OciAssert.StatusAsync(byTag, HttpStatusCode.NotFound);
        using var byDigest = await _client.SendAsync(HttpMethod.Get, $"/v2/{repository}/manifests/{manifestDigest}", null);
        await OciAssert.StatusAsync(byDigest, HttpStatusCode.NotFound);
        Assert.Empty(await TagsAsync(repository));
        Assert.Equal(0, await QuotaUsedAsync(repository));

        // The same image (the same blobs, linked already) fits when one layer goes: the repository was left as it was.
        var smaller = Oci.Manifest(config, [layers[0].Descriptor]);
        using var accepted = await _client.PutManifestAsync(repository, "v1", Oci.ImageManifest, smaller);
        await OciAssert.StatusAsync(accepted, HttpStatusCode.Created);
        Assert.Equal(configBytes.Length + 4_800 + smaller.Length, await QuotaUsedAsync(repository));

        // And the refused one fits a repository with a larger quota.
        var bigRepository = Oci.UniqueRepository("big");
        var (_, _, _, bigManifest) = await UploadImageAsync(bigRepository, 4_800, 4_800, configBytes, [.. layers.Select(l => l.Bytes)]);
        Assert.Equal(manifestBytes, bigManifest);
        using var big = await _client.PutManifestAsync(bigRepository, "v1", Oci.ImageManifest, bigManifest);
        await OciAssert.StatusAsync(big, HttpStatusCode.Created);
        Assert.Equal(adding, await QuotaUsedAsync(bigRepository));
    }

    [Fact]
    public async Task DeletingAManifest_FreesItsQuota()
    {
        var repository = Oci.UniqueRepository("small");
        var first = await _client.PushImageAsync(repository, "first", layerSize: 6_000);
        var secondLayer = Oci.RandomBytes(6_000);
        var location = await _client.StartUploadAsync(repository);
        using (var refused = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, Oci.DigestOf(secondLayer)),
            RegistryClient.Bytes(secondLayer)))
        {
            var error = Assert.Single(await OciAssert.ErrorAsync(refused, HttpStatusCode.Forbidden, "DENIED"));
            AssertQuotaDetail(error, repository, "quotas.0", used: first.ConfigBytes.Length + 6_000 + first.ManifestBytes.Length, adding: 6_000);
        }

        using (var delete = await _client.SendAsync(HttpMethod.Delete, $"/v2/{repository}/manifests/{first.Manifest.Digest}", null))
        {
            await OciAssert.StatusAsync(delete, HttpStatusCode.Accepted);
        }

        Assert.Equal(0, await QuotaUsedAsync(repository));
        var (_, _, _, secondManifest) = await UploadImageAsync(repository, 6_000, layerBytes: [secondLayer]);
        using var accepted = await _client.PutManifestAsync(repository, "second", Oci.ImageManifest, secondManifest);
        await OciAssert.StatusAsync(accepted, HttpStatusCode.Created);
        Assert.Equal(["second"], await TagsAsync(repository));
    }

    [Fact]
    public async Task SharedLayers_CountOncePerRepository_AndRetaggingAddsNothing()
    {
        var repository = Oci.UniqueRepository("small");
        var image = await _client.PushImageAsync(repository, "v1", layerSize: 4_000);
        var used = await QuotaUsedAsync(repository);
        Assert.Equal(image.ConfigBytes.Length + 4_000 + image.ManifestBytes.Length, used);

        // A second image sharing the 4,000-byte layer adds only its own config and manifest.
        var config = await _client.PushBlobAsync(repository, Oci.ConfigJson(), Oci.ImageConfig);
        var sharing = Oci.Manifest(config, [image.Layer]);
        using (var second = await _client.PutManifestAsync(repository, "v2", Oci.ImageManifest, sharing))
        {
            await OciAssert.StatusAsync(second, HttpStatusCode.Created);
        }

        var afterSharing = await QuotaUsedAsync(repository);
        Assert.Equal(used + config.Size + sharing.Length, afterSharing);

        using (var retag = await _client.PutManifestAsync(repository, "latest", Oci.ImageManifest, image.ManifestBytes))
        {
            await OciAssert.StatusAsync(retag, HttpStatusCode.Created);
        }

        Assert.Equal(afterSharing, await QuotaUsedAsync(repository));
    }

    [Fact]
    public async Task ConcurrentManifestPuts_ThatFitOnlyOneAtATime_AcceptExactlyOne()
    {
        var repository = Oci.UniqueRepository("small");
        var (_, _, _, first) = await UploadImageAsync(repository, 5_000);
        var (_, _, _, second) = await UploadImageAsync(repository, 5_000);

        var responses = await Task.WhenAll(
            _client.PutManifestAsync(repository, "first", Oci.ImageManifest, first),
            _client.PutManifestAsync(repository, "second", Oci.ImageManifest, second));

        try
        {
            Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Forbidden], responses.Select(response => response.StatusCode).Order());
            Assert.Single(await TagsAsync(repository));
            Assert.InRange(await QuotaUsedAsync(repository), 5_000, QuotaRegistryFixture.SmallLimit);
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    [Fact]
    public async Task RepositoryWithoutAQuota_AcceptsAnything()
    {
        var repository = Oci.UniqueRepository("free");

        var image = await _client.PushImageAsync(repository, "v1", layerSize: 50_000);

        Assert.Equal(50_000, image.Layer.Size);
        var row = await UsageRowAsync(repository);
        Assert.Equal(image.ConfigBytes.Length + 50_000 + image.ManifestBytes.Length, row.GetProperty("bytes").GetInt64());
        Assert.False(row.TryGetProperty("quota", out _));
    }

    private static void AssertQuotaDetail(JsonElement error, string repository, string rule, long used, long adding)
    {
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains("quota", message, StringComparison.Ordinal);
        Assert.Contains(repository, message, StringComparison.Ordinal);
        var detail = error.GetProperty("detail");
        Assert.Equal(repository, detail.GetProperty("repository").GetString());
        Assert.Equal(rule, detail.GetProperty("quota").GetProperty("rule").GetString());
        Assert.Equal(QuotaRegistryFixture.SmallLimit, detail.GetProperty("quota").GetProperty("limitBytes").GetInt64());
        Assert.Equal("small/**", Assert.Single(detail.GetProperty("quota").GetProperty("repositories").EnumerateArray()).GetString());
        Assert.Equal(used, detail.GetProperty("usedBytes").GetInt64());
        Assert.Equal(adding, detail.GetProperty("addingBytes").GetInt64());
    }

    /// <summary>Uploads a config and layers of the given sizes (or the given bytes) and returns the manifest that would name them.</summary>
    private async Task<(OciDescriptor Config, byte[] ConfigBytes, IReadOnlyList<(OciDescriptor Descriptor, byte[] Bytes)> Layers, byte[] Manifest)>
        UploadImageAsync(string repository, int firstLayer, int? secondLayer = null, byte[]? configBytes = null, IReadOnlyList<byte[]>? layerBytes = null)
    {
        configBytes ??= Oci.ConfigJson();
        var config = await _client.PushBlobAsync(repository, configBytes, Oci.ImageConfig);
        layerBytes ??= secondLayer is { } second ? [Oci.RandomBytes(firstLayer), Oci.RandomBytes(second)] : [Oci.RandomBytes(firstLayer)];
        var layers = new List<(OciDescriptor, byte[])>();
        foreach (var bytes in layerBytes)
        {
            layers.Add((await _client.PushBlobAsync(repository, bytes, Oci.ImageLayer), bytes));
        }

        return (config, configBytes, layers, Oci.Manifest(config, layers.Select(layer => layer.Item1)));
    }

    private async Task<IReadOnlyList<string>> TagsAsync(string repository)
    {
        using var response = await _client.SendAsync(HttpMethod.Get, $"/v2/{repository}/tags/list", null);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN");
            return [];
        }

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("tags").ValueKind == JsonValueKind.Null
            ? []
            : [.. body.RootElement.GetProperty("tags").EnumerateArray().Select(tag => tag.GetString()!)];
    }

    private async Task<JsonElement> UsageAsync()
    {
        using var response = await _client.SendAsync(HttpMethod.Get, "/api/v1/usage", null);
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.Clone();
    }

    /// <summary>What the usage endpoint says the repository's quota counts (the quota figure is read from storage at each request).</summary>
    private async Task<long> QuotaUsedAsync(string repository) =>
        (await UsageRowAsync(repository)).GetProperty("quota").GetProperty("usedBytes").GetInt64();

    /// <summary>The repository's row once a walk has seen it (walks are at most 1 s old here: usage.maxage).</summary>
    private async Task<JsonElement> UsageRowAsync(string repository)
    {
        JsonElement? row = null;
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            var usage = await UsageAsync();
            row = usage.GetProperty("repositories").EnumerateArray().Cast<JsonElement?>()
                .FirstOrDefault(r => r!.Value.GetProperty("name").GetString() == repository);
            return row is not null;
        }), $"{repository} never appeared in /api/v1/usage");
        return row!.Value;
    }
}
