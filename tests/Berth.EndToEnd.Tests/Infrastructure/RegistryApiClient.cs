using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>A manifest as the registry served it: the exact bytes and the headers that describe them.</summary>
public sealed record FetchedManifest(byte[] Content, string? ContentType, string? DigestHeader)
{
    public string ComputedDigest => Digests.Sha256(Content);

    public ManifestDocument Document => ManifestDocument.Parse(Content);
}

/// <summary>The descriptors a manifest or index refers to.</summary>
public sealed record ManifestDocument(string? MediaType, OciDescriptor? Config, IReadOnlyList<OciDescriptor> Layers, IReadOnlyList<OciDescriptor> Manifests)
{
    public static ManifestDocument Parse(byte[] content)
    {
        var root = JsonNode.Parse(content)?.AsObject() ?? throw new FormatException("The manifest is not a JSON object.");
        return new ManifestDocument(
            (string?)root["mediaType"],
            root["config"] is JsonObject config ? Descriptor(config) : null,
            Descriptors(root["layers"]),
            Descriptors(root["manifests"]));
    }

    /// <summary>Every blob the manifest points at (config first, then layers); empty for an index.</summary>
    public IEnumerable<OciDescriptor> Blobs => Config is null ? Layers : Layers.Prepend(Config);

    private static List<OciDescriptor> Descriptors(JsonNode? array) =>
        array is JsonArray items ? [.. items.Select(item => Descriptor(item!.AsObject()))] : [];

    private static OciDescriptor Descriptor(JsonObject json) =>
        new((string?)json["mediaType"] ?? "", (string?)json["digest"] ?? "", (long?)json["size"] ?? -1);
}

/// <summary>
/// Reads a registry through the distribution HTTP API, to check what the clients under test stored
/// independently of those clients. Every unexpected answer fails the test with the request, status and body.
/// </summary>
public sealed class RegistryApiClient : IDisposable
{
    /// <summary>Every manifest type a registry:2 serves; without them Distribution would convert to schema 1.</summary>
    private static readonly string[] ManifestAcceptTypes =
        [MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList];

    private readonly HttpClient _http;

    /// <param name="registry">The registry to talk to.</param>
    /// <param name="credentials">Sent as HTTP Basic on every request (a registry with htpasswd auth), or none.</param>
    public RegistryApiClient(RegistryProcess registry, NetworkCredential? credentials = null)
    {
        Registry = registry;
        _http = new HttpClient { BaseAddress = registry.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        if (credentials is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
                "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.UserName}:{credentials.Password}")));
        }
    }

    public RegistryProcess Registry { get; }

    public async Task<FetchedManifest> GetManifestAsync(string repository, string reference)
    {
        using var response = await SendManifestRequestAsync(HttpMethod.Get, repository, reference);
        await EnsureStatusAsync(response, HttpStatusCode.OK);
        var content = await response.Content.ReadAsByteArrayAsync();
        return new FetchedManifest(content, response.Content.Headers.ContentType?.MediaType, DigestHeader(response));
    }

    /// <summary>The status of GET /v2/REPO/manifests/REF, for checks that something is gone.</summary>
    public async Task<HttpStatusCode> GetManifestStatusAsync(string repository, string reference)
    {
        using var response = await SendManifestRequestAsync(HttpMethod.Get, repository, reference);
        return response.StatusCode;
    }

    /// <summary>The blob's bytes; fails unless they hash to <paramref name="digest"/> and match Content-Length.</summary>
    public async Task<byte[]> GetBlobAsync(string repository, string digest)
    {
        using var response = await _http.GetAsync(new Uri($"v2/{repository}/blobs/{digest}", UriKind.Relative));
        await EnsureStatusAsync(response, HttpStatusCode.OK);
        var content = await response.Content.ReadAsByteArrayAsync();
        var actual = Digests.Sha256(content);
        Assert.True(actual == digest, $"{Registry.Kind}: GET /v2/{repository}/blobs/{digest} returned {content.Length} bytes hashing to {actual}.");
        var declaredLength = response.Content.Headers.ContentLength;
        Assert.True(declaredLength is null || declaredLength == content.Length,
            $"{Registry.Kind}: GET /v2/{repository}/blobs/{digest} declared Content-Length {declaredLength} but sent {content.Length} bytes.");
        return content;
    }

    public async Task<IReadOnlyList<string>> ListTagsAsync(string repository)
    {
        var json = await GetJsonAsync($"v2/{repository}/tags/list");
        return Strings(json["tags"]);
    }

    /// <summary>Repository names from /v2/_catalog, with a page size large enough for any test.</summary>
    public async Task<IReadOnlyList<string>> ListRepositoriesAsync()
    {
        var json = await GetJsonAsync("v2/_catalog?n=1000");
        return Strings(json["repositories"]);
    }

    /// <summary>Every repository name, following the catalog's Link header page by page (<paramref name="pageSize"/> per request).</summary>
    public async Task<IReadOnlyList<string>> ListAllRepositoriesAsync(int pageSize = 1000)
    {
        var names = new List<string>();
        string? next = $"v2/_catalog?n={pageSize}";
        while (next is not null)
        {
            using var response = await _http.GetAsync(new Uri(next, UriKind.Relative));
            await EnsureStatusAsync(response, HttpStatusCode.OK);
            var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())?.AsObject();
            names.AddRange(Strings(json?["repositories"]));
            next = response.Headers.TryGetValues("Link", out var links) ? NextLink(links.First()) : null;
        }

        return names;
    }

    /// <summary>
    /// Uploads a blob in one request (POST /blobs/uploads/ then PUT ?digest=, as registry:2 clients do for small blobs)
    /// unless the repository already has it (HEAD answers 200); returns its descriptor.
    /// </summary>
    public async Task<OciDescriptor> PushBlobAsync(string repository, byte[] content, string mediaType, CancellationToken cancellationToken = default)
    {
        var digest = Digests.Sha256(content);
        using (var head = new HttpRequestMessage(HttpMethod.Head, new Uri($"v2/{repository}/blobs/{digest}", UriKind.Relative)))
        using (var existing = await _http.SendAsync(head, cancellationToken))
        {
            if (existing.StatusCode == HttpStatusCode.OK)
            {
                return new OciDescriptor(mediaType, digest, content.LongLength);
            }
        }

        using var start = await _http.PostAsync(new Uri($"v2/{repository}/blobs/uploads/", UriKind.Relative), null, cancellationToken);
        await EnsureStatusAsync(start, HttpStatusCode.Accepted);
        var location = start.Headers.Location ?? throw new InvalidOperationException($"POST /v2/{repository}/blobs/uploads/ gave no Location.");
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var put = await _http.PutAsync(WithQuery(location, $"digest={Uri.EscapeDataString(digest)}"), body, cancellationToken);
        await EnsureStatusAsync(put, HttpStatusCode.Created);
        return new OciDescriptor(mediaType, digest, content.LongLength);
    }

    /// <summary>Mounts a blob another repository of this registry holds (POST ?mount=&amp;from=); fails unless the registry answers 201.</summary>
    public async Task MountBlobAsync(string repository, string fromRepository, string digest, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsync(
            new Uri($"v2/{repository}/blobs/uploads/?mount={Uri.EscapeDataString(digest)}&from={Uri.EscapeDataString(fromRepository)}", UriKind.Relative),
            null, cancellationToken);
        await EnsureStatusAsync(response, HttpStatusCode.Created);
    }

    /// <summary>PUTs a manifest or index under a tag or its digest; fails unless 201; returns the digest the registry answered.</summary>
    public async Task<string> PutManifestAsync(string repository, string reference, byte[] content, string mediaType,
        CancellationToken cancellationToken = default)
    {
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var response = await _http.PutAsync(new Uri($"v2/{repository}/manifests/{reference}", UriKind.Relative), body, cancellationToken);
        await EnsureStatusAsync(response, HttpStatusCode.Created);
        return DigestHeader(response) ?? Digests.Sha256(content);
    }

    /// <summary>Pushes an image a layout holds (its layers and config, then its manifest under <paramref name="reference"/>) over the HTTP API.</summary>
    public async Task PushLayoutImageAsync(string repository, string reference, OciLayoutWriter layout, OciImage image,
        CancellationToken cancellationToken = default)
    {
        foreach (var blob in image.Layers.Append(image.Config))
        {
            await PushBlobAsync(repository, layout.ReadBlob(blob.Digest), blob.MediaType, cancellationToken);
        }

        await PutManifestAsync(repository, reference, layout.ReadBlob(image.Manifest.Digest), image.Manifest.MediaType, cancellationToken);
    }

    /// <summary>GET /v2/REPO/referrers/DIGEST (optionally filtered by artifactType): the entries of the index it answers.</summary>
    public async Task<IReadOnlyList<JsonObject>> GetReferrersAsync(string repository, string digest, string? artifactType = null)
    {
        var query = artifactType is null ? "" : $"?artifactType={Uri.EscapeDataString(artifactType)}";
        var index = await GetJsonAsync($"v2/{repository}/referrers/{digest}{query}");
        return [.. (index["manifests"] as JsonArray ?? []).Select(entry => entry!.AsObject())];
    }

    /// <summary>Any other request, for protocol details the clients do not expose (e.g. a cross-repository mount).</summary>
    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request) => _http.SendAsync(request);

    public void Dispose() => _http.Dispose();

    public static string? DigestHeader(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.FirstOrDefault() : null;

    public async Task EnsureStatusAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        if (response.StatusCode != expected)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.Fail($"{Registry.Kind}: {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered " +
                $"{(int)response.StatusCode} {response.ReasonPhrase}, expected {(int)expected}. Body: {ExternalCommand.Tail(body)}\n{Registry.Log}");
        }
    }

    private async Task<HttpResponseMessage> SendManifestRequestAsync(HttpMethod method, string repository, string reference)
    {
        using var request = new HttpRequestMessage(method, new Uri($"v2/{repository}/manifests/{reference}", UriKind.Relative));
        foreach (var mediaType in ManifestAcceptTypes)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(mediaType));
        }

        return await _http.SendAsync(request);
    }

    private async Task<JsonObject> GetJsonAsync(string relativeUri)
    {
        using var response = await _http.GetAsync(new Uri(relativeUri, UriKind.Relative));
        await EnsureStatusAsync(response, HttpStatusCode.OK);
        var body = await response.Content.ReadAsStringAsync();
        return JsonNode.Parse(body)?.AsObject() ?? throw new FormatException($"GET {relativeUri}: not a JSON object: {body}");
    }

    /// <summary>The relative URI of a <c>Link: &lt;/v2/...&gt;; rel="next"</c> header.</summary>
    private static string? NextLink(string link)
    {
        var start = link.IndexOf('<', StringComparison.Ordinal);
        var end = link.IndexOf('>', StringComparison.Ordinal);
        return start < 0 || end <= start ? null : link[(start + 1)..end].TrimStart('/');
    }

    /// <summary>An upload Location (absolute or relative) with a query parameter added.</summary>
    private static Uri WithQuery(Uri location, string parameter)
    {
        var text = location.ToString();
        return new Uri(text + (text.Contains('?', StringComparison.Ordinal) ? "&" : "?") + parameter, UriKind.RelativeOrAbsolute);
    }

    private static List<string> Strings(JsonNode? array) =>
        array is JsonArray items ? [.. items.Select(item => (string?)item ?? "")] : [];
}
