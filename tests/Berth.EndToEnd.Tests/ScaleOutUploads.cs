using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>Which endpoint answered one request of an upload, for the test log.</summary>
public sealed record UploadStep(string Method, string Endpoint, int Status, string? Range);

/// <summary>
/// The distribution upload protocol spoken by hand, so each request of one upload can be sent to a chosen replica:
/// the <c>Location</c> a replica answers (with its signed <c>_state</c>) is reduced to path and query and sent to
/// whichever replica comes next. Every unexpected answer throws with the request, status and body.
/// </summary>
public sealed class ScaleOutHttp : IDisposable
{
    private readonly Dictionary<string, HttpClient> _clients = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>A client for a base address (one per endpoint, kept for the test's lifetime).</summary>
    public HttpClient For(Uri baseAddress)
    {
        lock (_gate)
        {
            if (!_clients.TryGetValue(baseAddress.ToString(), out var client))
            {
                client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromSeconds(30) })
                {
                    BaseAddress = baseAddress,
                    Timeout = TimeSpan.FromMinutes(2),
                };
                _clients[baseAddress.ToString()] = client;
            }

            return client;
        }
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }

    public static string Sha256(ReadOnlySpan<byte> content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>POST an upload session on <paramref name="endpoint"/>; returns the path and query of its Location.</summary>
    public async Task<string> StartUploadAsync(Uri endpoint, string repository, List<UploadStep>? steps = null)
    {
        using var response = await For(endpoint).PostAsync(new Uri($"v2/{repository}/blobs/uploads/", UriKind.Relative), null);
        await ExpectAsync(response, HttpStatusCode.Accepted);
        steps?.Add(new UploadStep("POST", endpoint.Authority, (int)response.StatusCode, Header(response, "Range")));
        return PathAndQuery(response);
    }

    /// <summary>PATCH one chunk with Content-Range at <paramref name="offset"/>; returns the next Location (path and query).</summary>
    public async Task<string> PatchAsync(Uri endpoint, string location, byte[] content, int offset, int length, List<UploadStep>? steps = null)
    {
        using var response = await SendPatchAsync(endpoint, location, content, offset, length);
        await ExpectAsync(response, HttpStatusCode.Accepted);
        var range = Header(response, "Range");
        steps?.Add(new UploadStep("PATCH", endpoint.Authority, (int)response.StatusCode, range));
        Assert.True(range == $"0-{(offset + length - 1).ToString(CultureInfo.InvariantCulture)}",
            $"PATCH {offset}+{length} on {endpoint.Authority} answered Range {range}, expected 0-{offset + length - 1}.");
        return PathAndQuery(response);
    }

    /// <summary>PATCH without checking the answer (for the stale-offset check).</summary>
    public async Task<HttpResponseMessage> SendPatchAsync(Uri endpoint, string location, byte[] content, int offset, int length)
    {
        using var request = new HttpRequestMessage(HttpMethod.Patch, new Uri(location, UriKind.Relative))
        {
            Content = new ByteArrayContent(content, offset, length),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        request.Content.Headers.TryAddWithoutValidation("Content-Range",
            $"{offset.ToString(CultureInfo.InvariantCulture)}-{(offset + length - 1).ToString(CultureInfo.InvariantCulture)}");
        return await For(endpoint).SendAsync(request);
    }

    /// <summary>GET the upload's status on <paramref name="endpoint"/>: 204 with the Range stored so far.</summary>
    public async Task<string?> StatusAsync(Uri endpoint, string location)
    {
        using var response = await For(endpoint).GetAsync(new Uri(location, UriKind.Relative));
        await ExpectAsync(response, HttpStatusCode.NoContent);
        return Header(response, "Range");
    }

    /// <summary>PUT ?digest= (with the rest of the content, if any) on <paramref name="endpoint"/>; expects 201 and the digest echoed.</summary>
    public async Task FinishAsync(Uri endpoint, string location, string repository, string digest, byte[]? tail = null, List<UploadStep>? steps = null)
    {
        var separator = location.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri($"{location}{separator}digest={digest}", UriKind.Relative))
        {
            Content = new ByteArrayContent(tail ?? []),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await For(endpoint).SendAsync(request);
        await ExpectAsync(response, HttpStatusCode.Created);
        steps?.Add(new UploadStep("PUT", endpoint.Authority, (int)response.StatusCode, null));
        Assert.Equal(digest, Header(response, "Docker-Content-Digest"));
        var blobLocation = response.Headers.Location?.ToString() ?? "";
        Assert.True(blobLocation.EndsWith($"/v2/{repository}/blobs/{digest}", StringComparison.Ordinal),
            $"PUT answered Location {blobLocation}, expected the blob's URL.");
    }

    /// <summary>POST + PUT with the whole body (what most clients call a monolithic upload).</summary>
    public async Task UploadPostPutAsync(Uri start, Uri finish, string repository, byte[] content)
    {
        var location = await StartUploadAsync(start, repository);
        await FinishAsync(finish, location, repository, Sha256(content), content);
    }

    /// <summary>A single <c>POST ?digest=</c> with the whole body.</summary>
    public async Task UploadSinglePostAsync(Uri endpoint, string repository, byte[] content)
    {
        var digest = Sha256(content);
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await For(endpoint).PostAsync(new Uri($"v2/{repository}/blobs/uploads/?digest={digest}", UriKind.Relative), body);
        await ExpectAsync(response, HttpStatusCode.Created);
        Assert.Equal(digest, Header(response, "Docker-Content-Digest"));
    }

    /// <summary>GET the blob from <paramref name="endpoint"/>: 200, the expected bytes, its digest and length headers. Returns the byte count.</summary>
    public async Task<long> VerifyBlobAsync(Uri endpoint, string repository, byte[] expected)
    {
        var digest = Sha256(expected);
        using var response = await For(endpoint).GetAsync(new Uri($"v2/{repository}/blobs/{digest}", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        await ExpectAsync(response, HttpStatusCode.OK);
        var content = await response.Content.ReadAsByteArrayAsync();
        Assert.True(Sha256(content) == digest && content.AsSpan().SequenceEqual(expected),
            $"GET {endpoint.Authority}/v2/{repository}/blobs/{digest}: {content.Length} bytes hashing to {Sha256(content)}, expected {expected.Length} bytes.");
        Assert.Equal(expected.LongLength, response.Content.Headers.ContentLength);
        Assert.Equal(digest, Header(response, "Docker-Content-Digest"));

        using var head = await For(endpoint).SendAsync(new HttpRequestMessage(HttpMethod.Head, new Uri($"v2/{repository}/blobs/{digest}", UriKind.Relative)));
        await ExpectAsync(head, HttpStatusCode.OK);
        Assert.Equal(expected.LongLength, head.Content.Headers.ContentLength);
        return content.LongLength;
    }

    /// <summary>PUT a manifest (OCI media type) under <paramref name="reference"/>; expects 201 and the digest echoed.</summary>
    public async Task PutManifestAsync(Uri endpoint, string repository, string reference, byte[] manifest)
    {
        using var content = new ByteArrayContent(manifest);
        content.Headers.ContentType = new MediaTypeHeaderValue(MediaTypes.OciManifest);
        using var response = await For(endpoint).PutAsync(new Uri($"v2/{repository}/manifests/{reference}", UriKind.Relative), content);
        await ExpectAsync(response, HttpStatusCode.Created);
        Assert.Equal(Sha256(manifest), Header(response, "Docker-Content-Digest"));
    }

    /// <summary>GET a manifest; checks that Docker-Content-Digest and Content-Length describe the bytes served.</summary>
    public async Task<byte[]> GetManifestAsync(Uri endpoint, string repository, string reference)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"v2/{repository}/manifests/{reference}", UriKind.Relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(MediaTypes.OciManifest));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(MediaTypes.OciIndex));
        using var response = await For(endpoint).SendAsync(request);
        await ExpectAsync(response, HttpStatusCode.OK);
        var content = await response.Content.ReadAsByteArrayAsync();
        Assert.True(Header(response, "Docker-Content-Digest") == Sha256(content),
            $"GET {endpoint.Authority}/v2/{repository}/manifests/{reference}: Docker-Content-Digest {Header(response, "Docker-Content-Digest")} but the body hashes to {Sha256(content)}.");
        Assert.Equal(content.LongLength, response.Content.Headers.ContentLength);
        return content;
    }

    public async Task<IReadOnlyList<string>> ListTagsAsync(Uri endpoint, string repository)
    {
        using var response = await For(endpoint).GetAsync(new Uri($"v2/{repository}/tags/list", UriKind.Relative));
        await ExpectAsync(response, HttpStatusCode.OK);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        return [.. (json["tags"] as JsonArray ?? []).Select(t => (string?)t ?? "")];
    }

    public async Task<IReadOnlyList<string>> CatalogAsync(Uri endpoint)
    {
        using var response = await For(endpoint).GetAsync(new Uri("v2/_catalog?n=1000", UriKind.Relative));
        await ExpectAsync(response, HttpStatusCode.OK);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        return [.. (json["repositories"] as JsonArray ?? []).Select(t => (string?)t ?? "")];
    }

    /// <summary>A minimal OCI image manifest over a config and layers, with an annotation that makes it unique.</summary>
    public static byte[] ManifestJson(OciDescriptor config, IEnumerable<OciDescriptor> layers, string annotation)
    {
        static JsonObject Descriptor(OciDescriptor d) => new() { ["mediaType"] = d.MediaType, ["digest"] = d.Digest, ["size"] = d.Size };
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = MediaTypes.OciManifest,
            ["config"] = Descriptor(config),
            ["layers"] = new JsonArray([.. layers.Select(l => (JsonNode)Descriptor(l))]),
            ["annotations"] = new JsonObject { ["org.example.berth.scaleout"] = annotation },
        };
        return Encoding.UTF8.GetBytes(manifest.ToJsonString());
    }

    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault()
        : response.Content.Headers.TryGetValues(name, out var contentValues) ? contentValues.FirstOrDefault()
        : null;

    public static async Task ExpectAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        if (response.StatusCode != expected)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.Fail($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode} {response.ReasonPhrase}, " +
                $"expected {(int)expected}. Body: {ExternalCommand.Tail(body)}");
        }
    }

    private static string PathAndQuery(HttpResponseMessage response)
    {
        var location = response.Headers.Location ?? throw new InvalidOperationException($"{response.RequestMessage?.RequestUri} answered no Location.");
        var pathAndQuery = location.IsAbsoluteUri ? location.PathAndQuery : location.OriginalString;
        Assert.Contains("_state=", pathAndQuery, StringComparison.Ordinal);
        return pathAndQuery.TrimStart('/');
    }
}
