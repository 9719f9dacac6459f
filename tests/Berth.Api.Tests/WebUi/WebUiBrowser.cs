using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests.WebUi;

/// <summary>A page as the browser received it.</summary>
public sealed record UiPage(HttpStatusCode Status, string Html, HttpResponseMessage Response)
{
    public string? Header(string name) => Response.Header(name);

    /// <summary>The CSRF token of the page's first form.</summary>
    public string CsrfToken => UiHtml.CsrfToken(Html) ?? throw new Xunit.Sdk.XunitException("the page has no form token:\n" + Html);

    public string? Location => Response.Headers.Location?.OriginalString;
}

/// <summary>
/// A browser without scripts: keeps the cookies the server sets (as a browser would, per host), sends them back,
/// and posts forms as <c>application/x-www-form-urlencoded</c> with the browser's Origin and Sec-Fetch-Site.
/// </summary>
public sealed class UiBrowser(HttpClient client, Uri baseAddress) : IDisposable
{
    private readonly Dictionary<string, string> _cookies = new(StringComparer.Ordinal);

    public HttpClient Client { get; } = client;

    /// <summary>Every Set-Cookie header seen, in order.</summary>
    public List<string> SetCookies { get; } = [];

    public IReadOnlyDictionary<string, string> Cookies => _cookies;

    public string Origin => baseAddress.GetLeftPart(UriPartial.Authority);

    public async Task<UiPage> GetAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        AddCookies(request);
        request.Headers.TryAddWithoutValidation("Sec-Fetch-Site", "none");
        return await SendAsync(request);
    }

    /// <summary>Posts a form; <paramref name="origin"/> null sends the page's own origin, "" none.</summary>
    public async Task<UiPage> PostFormAsync(string path, IEnumerable<KeyValuePair<string, string>> fields, string? origin = null,
        string? fetchSite = "same-origin")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
        {
            Content = new FormUrlEncodedContent(fields),
        };
        AddCookies(request);
        origin ??= Origin;
        if (origin.Length > 0)
        {
            request.Headers.TryAddWithoutValidation("Origin", origin);
        }

        if (fetchSite is not null)
        {
            request.Headers.TryAddWithoutValidation("Sec-Fetch-Site", fetchSite);
        }

        return await SendAsync(request);
    }

    /// <summary>Signs in through the form: reads the form (for its token), posts user and password.</summary>
    public async Task<UiPage> SignInAsync(string user, string password, string returnTo = "/")
    {
        var form = await GetAsync("/sign-in?return=" + Uri.EscapeDataString(returnTo));
        Assert.Equal(HttpStatusCode.OK, form.Status);
        return await PostFormAsync("/sign-in", Fields(("csrf", form.CsrfToken), ("return", returnTo), ("user", user), ("password", password)));
    }

    public static IEnumerable<KeyValuePair<string, string>> Fields(params (string Name, string Value)[] fields) =>
        fields.Select(field => KeyValuePair.Create(field.Name, field.Value));

    public void Dispose() => Client.Dispose();

    private void AddCookies(HttpRequestMessage request)
    {
        if (_cookies.Count > 0)
        {
            request.Headers.TryAddWithoutValidation("Cookie", string.Join("; ", _cookies.Select(cookie => cookie.Key + "=" + cookie.Value)));
        }
    }

    private async Task<UiPage> SendAsync(HttpRequestMessage request)
    {
        var response = await Client.SendAsync(request);
        var html = await response.Content.ReadAsStringAsync();
        if (response.Headers.TryGetValues("Set-Cookie", out var values))
        {
            foreach (var header in values)
            {
                SetCookies.Add(header);
                var pair = header.Split(';', 2)[0];
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                var (name, value) = (pair[..equals], pair[(equals + 1)..]);
                var expired = value.Length == 0 || header.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase)
                    || header.Contains("max-age=0", StringComparison.OrdinalIgnoreCase);
                if (expired)
                {
                    _cookies.Remove(name);
                }
                else
                {
                    _cookies[name] = value;
                }
            }
        }

        return new UiPage(response.StatusCode, html, response);
    }
}

/// <summary>What the tests read out of the pages' HTML.</summary>
public static partial class UiHtml
{
    public static string? CsrfToken(string html) => CsrfField().Match(html) is { Success: true } match ? match.Groups[1].Value : null;

    /// <summary>The repositories linked from the rows of the repository list (or the storage-use table).</summary>
    public static List<string> RepositoryRows(string html) =>
        [.. RepositoryRow().Matches(html).Select(match => WebUtility.HtmlDecode(match.Groups[1].Value))];

    /// <summary>The tags of a repository page's rows, in order.</summary>
    public static List<string> TagRows(string html, string repository) =>
        [.. TagRow().Matches(html).Select(match => WebUtility.HtmlDecode(match.Groups[1].Value))
            .Where(link => link.StartsWith("/r/" + repository + ":", StringComparison.Ordinal))
            .Select(link => link[("/r/" + repository + ":").Length..])];

    public static string Text(string html) => WebUtility.HtmlDecode(html);

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]*)\"")]
    private static partial Regex CsrfField();

    [GeneratedRegex("""<td><a href="/r/([^"@:]+)">""")]
    private static partial Regex RepositoryRow();

    [GeneratedRegex("""<td><a href="(/r/[^"]+)">""")]
    private static partial Regex TagRow();
}

/// <summary>Images the UI tests push through the registry API.</summary>
public static class UiImages
{
    /// <summary>An OCI image whose config carries <paramref name="labels"/>.</summary>
    public static async Task<PushedImage> PushLabelledAsync(HttpClient client, string repository, string tag, IReadOnlyDictionary<string, string> labels)
    {
        var labelNode = new JsonObject();
        foreach (var (key, value) in labels)
        {
            labelNode[key] = value;
        }

        var configBytes = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["created"] = "2026-01-02T03:04:05Z",
            ["config"] = new JsonObject
            {
                ["Labels"] = labelNode,
                ["Env"] = new JsonArray("PATH=/usr/bin"),
                ["Entrypoint"] = new JsonArray("/bin/app"),
            },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray() },
            ["history"] = new JsonArray(new JsonObject { ["created_by"] = labels.Values.FirstOrDefault() ?? "step" }),
        }.ToJsonString());
        var layerBytes = Oci.RandomBytes(512);
        var config = await client.PushBlobAsync(repository, configBytes, Oci.ImageConfig);
        var layer = await client.PushBlobAsync(repository, layerBytes, Oci.ImageLayer);
        var manifestBytes = Oci.Manifest(config, [layer], annotations: labels);
        var manifest = await client.PushManifestAsync(repository, tag, Oci.ImageManifest, manifestBytes);
        return new PushedImage(repository, tag, manifest, manifestBytes, config, configBytes, layer, layerBytes);
    }

    /// <summary>A signature-like artifact whose subject is <paramref name="subject"/>, pushed by digest.</summary>
    public static async Task<OciDescriptor> PushReferrerAsync(HttpClient client, string repository, OciDescriptor subject, string artifactType)
    {
        await client.PushBlobAsync(repository, Oci.EmptyJson, Oci.Empty);
        var payload = await client.PushBlobAsync(repository, Oci.RandomBytes(120), "application/vnd.example.payload");
        var bytes = Oci.Manifest(Oci.EmptyDescriptor, [payload], artifactType: artifactType, subject: subject);
        return await client.PushManifestAsync(repository, Oci.DigestOf(bytes), Oci.ImageManifest, bytes);
    }
}
