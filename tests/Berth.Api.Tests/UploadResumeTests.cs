using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// Spec "Resumable Push" and the architecture's stateless uploads: an upload started on one Berth
/// continues on another process sharing the storage and <c>http.secret</c> (a restart, a replica),
/// where the in-process hash state is missing or stale and commit must re-hash what storage holds.
/// </summary>
public sealed class UploadResumeTests : IDisposable
{
    private readonly string _storageRoot = Path.Combine(Path.GetTempPath(), "berth-api-tests-shared-" + Guid.NewGuid().ToString("N"));
    private readonly string _repository = Oci.UniqueRepository("resume");

    public UploadResumeTests() => Directory.CreateDirectory(_storageRoot);

    public void Dispose()
    {
        if (Directory.Exists(_storageRoot))
        {
            Directory.Delete(_storageRoot, recursive: true);
        }
    }

    private Task<BerthServer> StartAsync() => BerthServer.StartAsync(new BerthServerOptions { StorageRoot = _storageRoot });

    /// <summary>The same upload URL on another server: clients follow Location, replicas share one address.</summary>
    private static Uri On(BerthServer server, Uri location) => new(server.BaseAddress, location.PathAndQuery);

    [Fact]
    public async Task Upload_ContinuesAfterRestart()
    {
        var content = Oci.RandomBytes(3000);
        var digest = Oci.DigestOf(content);
        Uri location;
        await using (var first = await StartAsync())
        {
            var start = await first.Client.StartUploadAsync(_repository);
            using var patch = await first.Client.SendAsync(HttpMethod.Patch, start, RegistryClient.Bytes(content[..1000]), ("Content-Range", "0-999"));
            await OciAssert.StatusAsync(patch, HttpStatusCode.Accepted);
            location = first.Client.LocationOf(patch);
        }

        await using var second = await StartAsync();
        using var status = await second.Client.GetAsync(On(second, location));
        await OciAssert.StatusAsync(status, HttpStatusCode.NoContent);
        Assert.Equal("0-999", status.Header("Range"));
        using var resumed = await second.Client.SendAsync(HttpMethod.Patch, On(second, location), RegistryClient.Bytes(content[1000..2000]), ("Content-Range", "1000-1999"));
        await OciAssert.StatusAsync(resumed, HttpStatusCode.Accepted);
        using var put = await second.Client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(On(second, second.Client.LocationOf(resumed)), digest),
            RegistryClient.Bytes(content[2000..]), ("Content-Range", "2000-2999"));

        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        using var get = await second.Client.GetAsync($"/v2/{_repository}/blobs/{digest}");
        Assert.Equal(content, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Upload_CompletedOnRestartedServerWithWrongDigest_Returns400DigestInvalid()
    {
        var content = Oci.RandomBytes(500);
        Uri location;
        await using (var first = await StartAsync())
        {
            var start = await first.Client.StartUploadAsync(_repository);
            using var patch = await first.Client.SendAsync(HttpMethod.Patch, start, RegistryClient.Bytes(content), ("Content-Range", "0-499"));
            await OciAssert.StatusAsync(patch, HttpStatusCode.Accepted);
            location = first.Client.LocationOf(patch);
        }

        await using var second = await StartAsync();
        using var put = await second.Client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(On(second, location), Oci.AbsentDigest()), RegistryClient.Bytes([]));

        await OciAssert.ErrorAsync(put, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        using var head = await second.Client.SendAsync(HttpMethod.Head, $"/v2/{_repository}/blobs/{Oci.DigestOf(content)}");
        await OciAssert.StatusAsync(head, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Upload_AlternatingBetweenTwoReplicas_CommitsTheRightBytes()
    {
        await using var a = await StartAsync();
        await using var b = await StartAsync();
        var content = Oci.RandomBytes(4000);
        var digest = Oci.DigestOf(content);

        var location = await a.Client.StartUploadAsync(_repository);
        using var first = await b.Client.SendAsync(HttpMethod.Patch, On(b, location), RegistryClient.Bytes(content[..1000]), ("Content-Range", "0-999"));
        await OciAssert.StatusAsync(first, HttpStatusCode.Accepted);
        using var second = await a.Client.SendAsync(HttpMethod.Patch, On(a, b.Client.LocationOf(first)), RegistryClient.Bytes(content[1000..2500]), ("Content-Range", "1000-2499"));
        await OciAssert.StatusAsync(second, HttpStatusCode.Accepted);
        using var third = await b.Client.SendAsync(HttpMethod.Patch, On(b, a.Client.LocationOf(second)), RegistryClient.Bytes(content[2500..]), ("Content-Range", "2500-3999"));
        await OciAssert.StatusAsync(third, HttpStatusCode.Accepted);
        using var put = await a.Client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(On(a, b.Client.LocationOf(third)), digest), RegistryClient.Bytes([]));

        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        using var get = await b.Client.GetAsync($"/v2/{_repository}/blobs/{digest}");
        Assert.Equal(content, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Upload_StaleHashOnFirstReplica_IsNotTrustedAtCommit()
    {
        // Replica A hashes chunk 1; replica B appends chunk 2; A commits. A's hash covers only chunk 1.
        await using var a = await StartAsync();
        await using var b = await StartAsync();
        var content = Oci.RandomBytes(2000);

        var location = await a.Client.StartUploadAsync(_repository);
        using var onA = await a.Client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(content[..1000]), ("Content-Range", "0-999"));
        await OciAssert.StatusAsync(onA, HttpStatusCode.Accepted);
        using var onB = await b.Client.SendAsync(HttpMethod.Patch, On(b, a.Client.LocationOf(onA)), RegistryClient.Bytes(content[1000..]), ("Content-Range", "1000-1999"));
        await OciAssert.StatusAsync(onB, HttpStatusCode.Accepted);

        using var wrong = await a.Client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(On(a, b.Client.LocationOf(onB)), Oci.DigestOf(content[..1000])), RegistryClient.Bytes([]));

        await OciAssert.ErrorAsync(wrong, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task Upload_StaleHashOnFirstReplica_CommitsWithTheWholeDigest()
    {
        await using var a = await StartAsync();
        await using var b = await StartAsync();
        var content = Oci.RandomBytes(2000);
        var digest = Oci.DigestOf(content);

        var location = await a.Client.StartUploadAsync(_repository);
        using var onA = await a.Client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(content[..1000]), ("Content-Range", "0-999"));
        await OciAssert.StatusAsync(onA, HttpStatusCode.Accepted);
        using var onB = await b.Client.SendAsync(HttpMethod.Patch, On(b, a.Client.LocationOf(onA)), RegistryClient.Bytes(content[1000..]), ("Content-Range", "1000-1999"));
        await OciAssert.StatusAsync(onB, HttpStatusCode.Accepted);

        using var put = await a.Client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(On(a, b.Client.LocationOf(onB)), digest), RegistryClient.Bytes([]));

        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
        using var get = await a.Client.GetAsync($"/v2/{_repository}/blobs/{digest}");
        Assert.Equal(content, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Upload_OutOfOrderChunkOnSecondReplica_Returns416WithRangeFromStorage()
    {
        await using var a = await StartAsync();
        await using var b = await StartAsync();
        var location = await a.Client.StartUploadAsync(_repository);
        using var onA = await a.Client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(Oci.RandomBytes(300)), ("Content-Range", "0-299"));
        await OciAssert.StatusAsync(onA, HttpStatusCode.Accepted);

        using var onB = await b.Client.SendAsync(HttpMethod.Patch, On(b, location), RegistryClient.Bytes(Oci.RandomBytes(100)), ("Content-Range", "0-99"));

        await OciAssert.ErrorAsync(onB, HttpStatusCode.RequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID");
        Assert.Equal("0-299", onB.Header("Range"));
    }

    [Fact]
    public async Task Manifest_PushedOnOneReplica_IsServedByTheOther()
    {
        await using var a = await StartAsync();
        await using var b = await StartAsync();
        var image = await a.Client.PushImageAsync(_repository, "v1");

        using var response = await b.Client.GetAsync($"/v2/{_repository}/manifests/v1");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(image.ManifestBytes, await response.Content.ReadAsByteArrayAsync());
    }
}
