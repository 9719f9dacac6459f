using System.Net;
using System.Net.Http.Headers;

namespace Berth.Api.Tests.Infrastructure;

/// <summary>The client side of the distribution API, as a compliant client drives it.</summary>
public static class RegistryClient
{
    public static async Task<HttpResponseMessage> SendAsync(this HttpClient client, HttpMethod method, string pathAndQuery,
        HttpContent? content = null, params (string Name, string Value)[] headers) =>
        await client.SendAsync(Request(method, pathAndQuery, content, headers));

    public static async Task<HttpResponseMessage> SendAsync(this HttpClient client, HttpMethod method, Uri uri,
        HttpContent? content = null, params (string Name, string Value)[] headers) =>
        await client.SendAsync(Request(method, uri.ToString(), content, headers));

    public static HttpRequestMessage Request(HttpMethod method, string uri, HttpContent? content = null,
        params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(method, new Uri(uri, UriKind.RelativeOrAbsolute)) { Content = content };
        foreach (var (name, value) in headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return request;
    }

    /// <summary>A body with <c>Content-Type: application/octet-stream</c> and a Content-Length.</summary>
    public static ByteArrayContent Bytes(byte[] content, string mediaType = Oci.OctetStream)
    {
        var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return body;
    }

    /// <summary>A body with no Content-Length, sent with <c>Transfer-Encoding: chunked</c>.</summary>
    public static HttpContent Streamed(byte[] content)
    {
        var body = new StreamContent(new UnknownLengthStream(content));
        body.Headers.ContentType = new MediaTypeHeaderValue(Oci.OctetStream);
        return body;
    }

    /// <summary><c>POST /v2/&lt;name&gt;/blobs/uploads/</c>; asserts 202 and returns the absolute Location.</summary>
    public static async Task<Uri> StartUploadAsync(this HttpClient client, string repository)
    {
        using var response = await client.SendAsync(HttpMethod.Post, $"/v2/{repository}/blobs/uploads/", Bytes([]));
        await OciAssert.StatusAsync(response, HttpStatusCode.Accepted);
        return client.LocationOf(response);
    }

    /// <summary>The Location header resolved against the client's base address.</summary>
    public static Uri LocationOf(this HttpClient client, HttpResponseMessage response)
    {
        var location = response.Headers.Location ?? throw new Xunit.Sdk.XunitException($"{(int)response.StatusCode} response has no Location header");
        return location.IsAbsoluteUri ? location : new Uri(client.BaseAddress!, location);
    }

    /// <summary>Adds <c>digest=</c> to an upload location, keeping its own query (the signed <c>_state</c>).</summary>
    public static Uri WithDigest(Uri location, string digest) => WithQuery(location, "digest", digest);

    public static Uri WithQuery(Uri location, string name, string value)
    {
        var builder = new UriBuilder(location);
        var query = builder.Query.TrimStart('?');
        builder.Query = (query.Length > 0 ? query + "&" : "") + name + "=" + Uri.EscapeDataString(value);
        return builder.Uri;
    }

    /// <summary>Pushes a blob with POST then PUT (the flow every registry supports); asserts 201.</summary>
    public static async Task<OciDescriptor> PushBlobAsync(this HttpClient client, string repository, byte[] content, string mediaType = Oci.ImageLayer)
    {
        var location = await client.StartUploadAsync(repository);
        var digest = Oci.DigestOf(content);
        using var response = await client.SendAsync(HttpMethod.Put, WithDigest(location, digest), Bytes(content));
        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        return new OciDescriptor(mediaType, digest, content.Length);
    }

    public static async Task<HttpResponseMessage> PutManifestAsync(this HttpClient client, string repository, string reference,
        string? contentType, byte[] manifest)
    {
        var body = new ByteArrayContent(manifest);
        if (contentType is not null)
        {
            body.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        return await client.SendAsync(HttpMethod.Put, $"/v2/{repository}/manifests/{reference}", body);
    }

    /// <summary>Pushes a manifest; asserts 201 and that Docker-Content-Digest is the digest of the bytes sent.</summary>
    public static async Task<OciDescriptor> PushManifestAsync(this HttpClient client, string repository, string reference,
        string mediaType, byte[] manifest)
    {
        using var response = await client.PutManifestAsync(repository, reference, mediaType, manifest);
        await OciAssert.StatusAsync(response, HttpStatusCode.Created);
        var descriptor = OciDescriptor.Of(mediaType, manifest);
        Assert.Equal(descriptor.Digest, response.Header("Docker-Content-Digest"));
        return descriptor;
    }

    /// <summary>Pushes a config blob, one random layer and an OCI manifest referencing them (tagged when <paramref name="tag"/> is set).</summary>
    public static async Task<PushedImage> PushImageAsync(this HttpClient client, string repository, string? tag = null, int layerSize = 1024)
    {
        var configBytes = Oci.ConfigJson();
        var layerBytes = Oci.RandomBytes(layerSize);
        var config = await client.PushBlobAsync(repository, configBytes, Oci.ImageConfig);
        var layer = await client.PushBlobAsync(repository, layerBytes, Oci.ImageLayer);
        var manifestBytes = Oci.Manifest(config, [layer]);
        var manifest = await client.PushManifestAsync(repository, tag ?? Oci.DigestOf(manifestBytes), Oci.ImageManifest, manifestBytes);
        return new PushedImage(repository, tag, manifest, manifestBytes, config, configBytes, layer, layerBytes);
    }

    /// <summary>A response header from either the response or its content headers, or null.</summary>
    public static string? Header(this HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values))
        {
            return string.Join(", ", values);
        }

        return null;
    }

    /// <summary>Hides a buffer's length so that HttpClient must send it chunked.</summary>
    private sealed class UnknownLengthStream(byte[] content) : MemoryStream(content, writable: false)
    {
        public override bool CanSeek => false;
    }
}
