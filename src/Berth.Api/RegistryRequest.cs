using System.Globalization;
using Berth.Core;
using Berth.Core.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Berth.Api;

/// <summary>Per-request helpers shared by the endpoint handlers.</summary>
internal static class RegistryRequest
{
    public static RepositoryName Name(in RegistryRoute route) => RepositoryName.Parse(route.Name);

    public static void EnsureWritable(RegistryApiOptions options)
    {
        if (options.ReadOnly)
        {
            throw ErrorCode.Unsupported.With(message: "the registry is in read-only mode");
        }
    }

    /// <summary>Blob bodies may be any size; the global Kestrel limit protects every other route.</summary>
    public static void AllowUnlimitedBody(HttpContext context)
    {
        var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false })
        {
            feature.MaxRequestBodySize = null;
        }
    }

    /// <summary>
    /// The base of absolute URLs in <c>Location</c>: <c>http.host</c> when configured, else the
    /// request's scheme and host, honouring <c>X-Forwarded-Proto</c>/<c>-Host</c> as registry:2 does.
    /// </summary>
    public static string UrlBase(HttpContext context, RegistryApiOptions options)
    {
        // PathBase is "<http.prefix>/v2" inside the registry branch; URLs below add "/v2" themselves.
        var prefix = context.Request.PathBase.Value ?? "";
        if (prefix.EndsWith("/v2", StringComparison.Ordinal))
        {
            prefix = prefix[..^3];
        }

        if (options.RelativeUrls)
        {
            return prefix;
        }

        if (options.ExternalBaseUri is { } external)
        {
            return external.GetLeftPart(UriPartial.Authority) + prefix;
        }

        var request = context.Request;
        var scheme = FirstValue(request.Headers["X-Forwarded-Proto"]) ?? request.Scheme;
        var host = FirstValue(request.Headers["X-Forwarded-Host"]) ?? request.Host.Value;
        return $"{scheme}://{host}{prefix}";
    }

    public static string BlobUrl(HttpContext context, RegistryApiOptions options, RepositoryName name, Digest digest) =>
        $"{UrlBase(context, options)}/v2/{name}/blobs/{digest}";

    public static string ManifestUrl(HttpContext context, RegistryApiOptions options, RepositoryName name, Digest digest) =>
        $"{UrlBase(context, options)}/v2/{name}/manifests/{digest}";

    /// <summary>A non-negative query integer, or null when absent; anything else is PAGINATION_NUMBER_INVALID.</summary>
    public static int? PageSize(HttpContext context)
    {
        var text = context.Request.Query["n"].ToString();
        if (text.Length == 0)
        {
            return null;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw ErrorCode.PaginationNumberInvalid.With(new { n = text.Length > 32 ? text[..32] : text }, "n must be a non-negative integer");
    }

    private static string? FirstValue(string? header)
    {
        if (string.IsNullOrEmpty(header))
        {
            return null;
        }

        var comma = header.IndexOf(',', StringComparison.Ordinal);
        return (comma >= 0 ? header[..comma] : header).Trim();
    }
}
