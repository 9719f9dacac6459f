using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>Spec "Layer Upload De-duplication" and races between clients of one registry.</summary>
public sealed class ConcurrencyTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly BerthServer _server = registry.Server;
    private readonly HttpClient _client = registry.Client;

    [Fact]
    public async Task SameBlobPushedConcurrently_AllSucceedAndOneCopyIsServed()
    {
        var repository = Oci.UniqueRepository("race");
        var content = Oci.RandomBytes(256 * 1024);
        var digest = Oci.DigestOf(content);

        var pushes = Enumerable.Range(0, 12).Select(async _ =>
        {
            using var client = _server.CreateClient();
            var location = await client.StartUploadAsync(repository);
            using var response = await client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, digest), RegistryClient.Bytes(content));
            return response.StatusCode;
        });
        var statuses = await Task.WhenAll(pushes);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Created, s));
        using var get = await _client.GetAsync($"/v2/{repository}/blobs/{digest}");
        Assert.Equal(content, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task SameBlobPushedConcurrentlyToDifferentRepositories_AllSucceed()
    {
        var content = Oci.RandomBytes(64 * 1024);
        var digest = Oci.DigestOf(content);
        var repositories = Enumerable.Range(0, 8).Select(_ => Oci.UniqueRepository("race")).ToList();

        var statuses = await Task.WhenAll(repositories.Select(async repository =>
        {
            using var client = _server.CreateClient();
            using var response = await client.SendAsync(HttpMethod.Post, $"/v2/{repository}/blobs/uploads/?digest={digest}", RegistryClient.Bytes(content));
            return response.StatusCode;
        }));

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Created, s));
        foreach (var repository in repositories)
        {
            using var get = await _client.GetAsync($"/v2/{repository}/blobs/{digest}");
            Assert.Equal(content, await get.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task BlobReadWhileSameContentIsPushedAgain_AlwaysReturnsCompleteContent()
    {
        var repository = Oci.UniqueRepository("race");
        var content = Oci.RandomBytes(512 * 1024);
        var blob = await _client.PushBlobAsync(repository, content);

        var writers = Enumerable.Range(0, 6).Select(async _ =>
        {
            using var client = _server.CreateClient();
            await client.PushBlobAsync(repository, content);
        });
        var readers = Enumerable.Range(0, 12).Select(async _ =>
        {
            using var client = _server.CreateClient();
            using var response = await client.GetAsync($"/v2/{repository}/blobs/{blob.Digest}");
            await OciAssert.StatusAsync(response, HttpStatusCode.OK);
            return Oci.DigestOf(await response.Content.ReadAsByteArrayAsync());
        });

        await Task.WhenAll(writers);
        var digests = await Task.WhenAll(readers);
        Assert.All(digests, d => Assert.Equal(blob.Digest, d));
    }

    [Fact]
    public async Task ConcurrentPatchesOfTheSameChunk_OneWinsOneGets416()
    {
        var repository = Oci.UniqueRepository("race");
        var location = await _client.StartUploadAsync(repository);
        var chunk = Oci.RandomBytes(100_000);

        var statuses = await Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
        {
            using var client = _server.CreateClient();
            using var response = await client.SendAsync(HttpMethod.Patch, location, RegistryClient.Bytes(chunk), ("Content-Range", "0-99999"));
            return response.StatusCode;
        }));

        Assert.Single(statuses, HttpStatusCode.Accepted);
        Assert.Single(statuses, HttpStatusCode.RequestedRangeNotSatisfiable);
        using var status = await _client.GetAsync(location);
        Assert.Equal("0-99999", status.Header("Range"));
        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(location, Oci.DigestOf(chunk)), RegistryClient.Bytes([]));
        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
    }

    [Fact]
    public async Task ConcurrentManifestPushesToOneTag_TagResolvesToOneOfThem()
    {
        var repository = Oci.UniqueRepository("race");
        var manifests = new List<byte[]>();
        for (var i = 0; i < 8; i++)
        {
            var config = await _client.PushBlobAsync(repository, Oci.ConfigJson(), Oci.ImageConfig);
            manifests.Add(Oci.Manifest(config, []));
        }

        var statuses = await Task.WhenAll(manifests.Select(async manifest =>
        {
            using var client = _server.CreateClient();
            using var response = await client.PutManifestAsync(repository, "contended", Oci.ImageManifest, manifest);
            return response.StatusCode;
        }));

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Created, s));
        using var get = await _client.GetAsync($"/v2/{repository}/manifests/contended");
        await OciAssert.StatusAsync(get, HttpStatusCode.OK);
        var body = await get.Content.ReadAsByteArrayAsync();
        Assert.Contains(manifests, m => m.SequenceEqual(body));
        Assert.Equal(Oci.DigestOf(body), get.Header("Docker-Content-Digest"));
    }

    [Fact]
    public async Task ManyReferrersOfOneSubject_AreAllListed()
    {
        var repository = Oci.UniqueRepository("race");
        var subject = await _client.PushImageAsync(repository, "v1");
        await _client.PushBlobAsync(repository, Oci.EmptyJson, Oci.Empty);
        var artifacts = Enumerable.Range(0, 60).Select(i => Oci.Manifest(Oci.EmptyDescriptor, [], artifactType: "application/vnd.example.n" + i, subject: subject.Manifest)).ToList();

        await Task.WhenAll(artifacts.Select(async artifact =>
        {
            using var client = _server.CreateClient();
            using var response = await client.PutManifestAsync(repository, Oci.DigestOf(artifact), Oci.ImageManifest, artifact);
            await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        }));

        using var list = await _client.GetAsync($"/v2/{repository}/referrers/{subject.Manifest.Digest}");
        await OciAssert.StatusAsync(list, HttpStatusCode.OK);
        using var document = System.Text.Json.JsonDocument.Parse(await list.Content.ReadAsStringAsync());
        var listed = document.RootElement.GetProperty("manifests").EnumerateArray().Select(m => m.GetProperty("digest").GetString()).ToHashSet();
        Assert.True(list.Header("Link") is not null || listed.Count == artifacts.Count, $"{listed.Count} of {artifacts.Count} referrers listed and no Link to the rest");
        Assert.Subset(artifacts.Select(a => (string?)Oci.DigestOf(a)).ToHashSet(), listed);
    }
}
