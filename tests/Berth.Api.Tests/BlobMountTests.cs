using System.Net;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>Spec "Mounting a blob from another repository" (end-11).</summary>
public sealed class BlobMountTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;

    [Fact]
    public async Task Mount_BlobPresentInFrom_Returns201WithBlobLocationAndDigest()
    {
        var source = Oci.UniqueRepository("mount");
        var target = Oci.UniqueRepository("mount");
        var blob = await _client.PushBlobAsync(source, Oci.RandomBytes(100));

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{target}/blobs/uploads/?mount={blob.Digest}&from={source}");

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal($"/v2/{target}/blobs/{blob.Digest}", _client.LocationOf(response).AbsolutePath);
        Assert.Equal(blob.Digest, response.Header("Docker-Content-Digest"));
    }

    [Fact]
    public async Task Mount_BlobPresentInFrom_IsPullableFromTarget()
    {
        var source = Oci.UniqueRepository("mount");
        var target = Oci.UniqueRepository("mount");
        var content = Oci.RandomBytes(100);
        var blob = await _client.PushBlobAsync(source, content);
        using (var mount = await _client.SendAsync(HttpMethod.Post, $"/v2/{target}/blobs/uploads/?mount={blob.Digest}&from={source}"))
        {
            await OciAssert.StatusAsync(mount, HttpStatusCode.Created);
        }

        using var response = await _client.GetAsync($"/v2/{target}/blobs/{blob.Digest}");

        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
        Assert.Equal(content, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Mount_BlobAbsentFromFrom_Returns202UploadSession()
    {
        var source = Oci.UniqueRepository("mount");
        var target = Oci.UniqueRepository("mount");
        await _client.PushBlobAsync(source, Oci.RandomBytes(10));

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{target}/blobs/uploads/?mount={Oci.AbsentDigest()}&from={source}");

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
        Assert.StartsWith($"/v2/{target}/blobs/uploads/", _client.LocationOf(response).AbsolutePath, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(response.Header("Docker-Upload-UUID")));
    }

    [Fact]
    public async Task Mount_BlobAbsent_SessionItReturnsAcceptsTheUpload()
    {
        var target = Oci.UniqueRepository("mount");
        var content = Oci.RandomBytes(64);
        using var mount = await _client.SendAsync(HttpMethod.Post, $"/v2/{target}/blobs/uploads/?mount={Oci.DigestOf(content)}&from={Oci.UniqueRepository("mount")}");
        await OciAssert.StatusAsync(mount, HttpStatusCode.Accepted);

        using var put = await _client.SendAsync(HttpMethod.Put, RegistryClient.WithDigest(_client.LocationOf(mount), Oci.DigestOf(content)), RegistryClient.Bytes(content));

        await OciAssert.StatusAsync(put, HttpStatusCode.Created);
    }

    [Fact]
    public async Task Mount_FromRepositoryThatDoesNotExist_Returns202()
    {
        var target = Oci.UniqueRepository("mount");

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{target}/blobs/uploads/?mount={Oci.AbsentDigest()}&from={Oci.UniqueRepository("mount")}");

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Mount_BlobStoredOnlyInAnotherRepositoryThanFrom_Returns202()
    {
        // The blob exists in the registry, but not in the repository named by "from".
        var holder = Oci.UniqueRepository("mount");
        var from = Oci.UniqueRepository("mount");
        var target = Oci.UniqueRepository("mount");
        var blob = await _client.PushBlobAsync(holder, Oci.RandomBytes(40));
        await _client.PushBlobAsync(from, Oci.RandomBytes(40));

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{target}/blobs/uploads/?mount={blob.Digest}&from={from}");

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
        using var head = await _client.SendAsync(HttpMethod.Head, $"/v2/{target}/blobs/{blob.Digest}");
        await OciAssert.ErrorAsync(head, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Mount_WithoutFrom_BlobKnownToRegistry_Returns201AutomaticMount()
    {
        var source = Oci.UniqueRepository("mount");
        var target = Oci.UniqueRepository("mount");
        var content = Oci.RandomBytes(100);
        var blob = await _client.PushBlobAsync(source, content);

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{target}/blobs/uploads/?mount={blob.Digest}");

        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        Assert.Equal($"/v2/{target}/blobs/{blob.Digest}", _client.LocationOf(response).AbsolutePath);
        using var pull = await _client.GetAsync($"/v2/{target}/blobs/{blob.Digest}");
        await OciAssert.StatusAsync(pull, HttpStatusCode.OK);
        Assert.Equal(content, await pull.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Mount_WithoutFrom_BlobUnknownToRegistry_Returns202Session()
    {
        var target = Oci.UniqueRepository("mount");

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{target}/blobs/uploads/?mount={Oci.AbsentDigest()}");

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
        Assert.StartsWith($"/v2/{target}/blobs/uploads/", _client.LocationOf(response).AbsolutePath, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mount_FromInvalidRepositoryName_Returns202()
    {
        var target = Oci.UniqueRepository("mount");

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/{target}/blobs/uploads/?mount={Oci.AbsentDigest()}&from=..%2F..%2Fetc");

        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Mount_IntoInvalidRepositoryName_Returns400NameInvalid()
    {
        var source = Oci.UniqueRepository("mount");
        var blob = await _client.PushBlobAsync(source, Oci.RandomBytes(10));

        using var response = await _client.SendAsync(HttpMethod.Post, $"/v2/Bad-Name/blobs/uploads/?mount={blob.Digest}&from={source}");

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "NAME_INVALID");
    }
}
