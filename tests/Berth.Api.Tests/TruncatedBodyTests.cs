using System.Net;
using System.Text;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// A client that declares <c>Content-Length: 1000</c>, sends 10 bytes and closes the socket. The
/// server must stay healthy, commit nothing and leave no half-finished state behind that breaks a retry.
/// </summary>
public sealed class TruncatedBodyTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private const int DeclaredLength = 1000;
    private const int SentLength = 10;

    private readonly BerthServer _server = registry.Server;
    private readonly HttpClient _client = registry.Client;
    private readonly string _repository = Oci.UniqueRepository("truncated");

    private string UploadsDirectory => Path.Combine(_server.StorageRoot, "docker", "registry", "v2", "repositories",
        _repository.Replace('/', Path.DirectorySeparatorChar), "_uploads");

    private static List<string> Leftovers(string directory) =>
        Directory.Exists(directory) ? Directory.EnumerateFileSystemEntries(directory).ToList() : [];

    private async Task AssertHealthyAsync()
    {
        using var version = await _client.GetAsync("/v2/");
        await OciAssert.StatusAsync(version, HttpStatusCode.OK);
        var content = Oci.RandomBytes(100);
        await _client.PushBlobAsync(Oci.UniqueRepository("truncated"), content);
    }

    private async Task<bool> BlobExistsAsync(string digest)
    {
        using var response = await _client.SendAsync(HttpMethod.Head, $"/v2/{_repository}/blobs/{digest}");
        return response.StatusCode == HttpStatusCode.OK;
    }

    private static string BlobDataPath(string storageRoot, string digest) =>
        Path.Combine(storageRoot, "docker", "registry", "v2", "blobs", "sha256", digest[7..9], digest[7..], "data");

    [Fact]
    public async Task TruncatedSinglePostUpload_CommitsNothingAndServerStaysHealthy()
    {
        var full = Oci.RandomBytes(DeclaredLength);
        var digest = Oci.DigestOf(full);
        await _client.PushBlobAsync(_repository, Oci.RandomBytes(1)); // the repository exists before the attempt

        await RawHttp.SendTruncatedAsync(_server.BaseAddress, "POST", $"/v2/{_repository}/blobs/uploads/?digest={digest}", DeclaredLength,
            full[..SentLength], ("Content-Type", Oci.OctetStream));

        await AssertHealthyAsync();
        Assert.False(await BlobExistsAsync(digest));
        Assert.False(File.Exists(BlobDataPath(_server.StorageRoot, digest)));
    }

    [Fact]
    public async Task TruncatedSinglePostUpload_LeavesNoUploadBehind()
    {
        var full = Oci.RandomBytes(DeclaredLength);
        await _client.PushBlobAsync(_repository, Oci.RandomBytes(1));

        await RawHttp.SendTruncatedAsync(_server.BaseAddress, "POST", $"/v2/{_repository}/blobs/uploads/?digest={Oci.DigestOf(full)}", DeclaredLength,
            full[..SentLength], ("Content-Type", Oci.OctetStream));

        // The body streams into a staging file that is published only once whole and verified.
        var staging = Path.Combine(_server.StorageRoot, ".berth-staging");
        var cleaned = await Eventually.TrueAsync(() => Leftovers(UploadsDirectory).Count == 0 && Leftovers(staging).Count == 0);
        Assert.True(cleaned, $"left behind: {string.Join(", ", Leftovers(UploadsDirectory).Concat(Leftovers(staging)))}");
        Assert.False(await BlobExistsAsync(Oci.DigestOf(full)));
    }

    [Fact]
    public async Task TruncatedPutCompletingUpload_CommitsNothingAndUploadCanBeRetried()
    {
        var full = Oci.RandomBytes(DeclaredLength);
        var digest = Oci.DigestOf(full);
        var location = await _client.StartUploadAsync(_repository);
        var target = RegistryClient.WithDigest(location, digest).PathAndQuery;

        await RawHttp.SendTruncatedAsync(_server.BaseAddress, "PUT", target, DeclaredLength, full[..SentLength], ("Content-Type", Oci.OctetStream));

        await AssertHealthyAsync();
        Assert.False(await BlobExistsAsync(digest));

        // The client restarts from the offset the registry reports.
        using var status = await _client.GetAsync(location);
        await OciAssert.StatusAsync(status, HttpStatusCode.NoContent);
        var offset = UploadOffset(status.Header("Range"));
        Assert.InRange(offset, 0, SentLength);
        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(_client.LocationOf(status), digest),
            RegistryClient.Bytes(full[(int)offset..]), ("Content-Range", $"{offset}-{DeclaredLength - 1}"));
        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        Assert.True(await BlobExistsAsync(digest));
    }

    [Fact]
    public async Task TruncatedChunkedPatch_CommitsNothingAndUploadResumesFromReportedOffset()
    {
        var full = Oci.RandomBytes(DeclaredLength);
        var digest = Oci.DigestOf(full);
        var location = await _client.StartUploadAsync(_repository);

        await RawHttp.SendTruncatedAsync(_server.BaseAddress, "PATCH", location.PathAndQuery, DeclaredLength, full[..SentLength],
            ("Content-Type", Oci.OctetStream), ("Content-Range", $"0-{DeclaredLength - 1}"));

        await AssertHealthyAsync();
        Assert.False(await BlobExistsAsync(digest));
        using var status = await _client.GetAsync(location);
        await OciAssert.StatusAsync(status, HttpStatusCode.NoContent);
        var offset = UploadOffset(status.Header("Range"));
        Assert.InRange(offset, 0, SentLength);

        using var patch = await _client.SendAsync(HttpMethod.Patch, _client.LocationOf(status), RegistryClient.Bytes(full[(int)offset..]),
            ("Content-Range", $"{offset}-{DeclaredLength - 1}"));
        await OciAssert.StatusAsync(patch, HttpStatusCode.Accepted);
        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(_client.LocationOf(patch), digest), RegistryClient.Bytes([]));
        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        using var get = await _client.GetAsync($"/v2/{_repository}/blobs/{digest}");
        Assert.Equal(full, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task TruncatedStreamedPatch_DoesNotCorruptTheUpload()
    {
        // Without Content-Range the bytes that did arrive may be kept; the reported offset must match them.
        var full = Oci.RandomBytes(DeclaredLength);
        var location = await _client.StartUploadAsync(_repository);

        await RawHttp.SendTruncatedAsync(_server.BaseAddress, "PATCH", location.PathAndQuery, DeclaredLength, full[..SentLength],
            ("Content-Type", Oci.OctetStream));

        await AssertHealthyAsync();
        using var status = await _client.GetAsync(location);
        await OciAssert.StatusAsync(status, HttpStatusCode.NoContent);
        var offset = UploadOffset(status.Header("Range"));
        Assert.InRange(offset, 0, SentLength);
        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(_client.LocationOf(status), Oci.DigestOf(full)),
            RegistryClient.Bytes(full[(int)offset..]), ("Content-Range", $"{offset}-{DeclaredLength - 1}"));
        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
    }

    [Fact]
    public async Task TruncatedManifestPut_StoresNothingAndServerStaysHealthy()
    {
        var image = await _client.PushImageAsync(_repository, "existing");
        var padded = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(image.ManifestBytes).PadRight(DeclaredLength));

        await RawHttp.SendTruncatedAsync(_server.BaseAddress, "PUT", $"/v2/{_repository}/manifests/truncated", DeclaredLength,
            padded[..SentLength], ("Content-Type", Oci.ImageManifest));

        await AssertHealthyAsync();
        using var byTag = await _client.GetAsync($"/v2/{_repository}/manifests/truncated");
        await OciAssert.ErrorAsync(byTag, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using var byDigest = await _client.GetAsync($"/v2/{_repository}/manifests/{Oci.DigestOf(padded)}");
        await OciAssert.ErrorAsync(byDigest, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task ManyTruncatedRequestsInParallel_LeaveServerHealthy()
    {
        var location = await _client.StartUploadAsync(_repository);
        var attempts = Enumerable.Range(0, 20).Select(i =>
        {
            var full = Oci.RandomBytes(DeclaredLength);
            return i % 2 == 0
                ? RawHttp.SendTruncatedAsync(_server.BaseAddress, "POST", $"/v2/{_repository}/blobs/uploads/?digest={Oci.DigestOf(full)}", DeclaredLength, full[..SentLength])
                : RawHttp.SendTruncatedAsync(_server.BaseAddress, "PUT", $"/v2/{_repository}/manifests/t{i}", DeclaredLength, full[..SentLength],
                    ("Content-Type", Oci.ImageManifest));
        });

        await Task.WhenAll(attempts);

        await AssertHealthyAsync();
        using var status = await _client.GetAsync(location);
        await OciAssert.StatusAsync(status, HttpStatusCode.NoContent);
    }

    private static long UploadOffset(string? range)
    {
        Assert.NotNull(range);
        Assert.Matches("^0-[0-9]+$", range);
        var end = long.Parse(range[2..], System.Globalization.CultureInfo.InvariantCulture);
        return end == 0 ? 0 : end + 1;
    }
}
