using System.Text.Json;
using Berth.Core;
using Berth.Core.Errors;
using Berth.Proxy;
using Berth.Storage;
using Microsoft.AspNetCore.Http;

namespace Berth.Api.Endpoints;

/// <summary>Tags list, catalog and referrers: the read-only listings of the API.</summary>
/// <remarks>
/// The tags of a mirrored repository are the upstream's, page by page; when the upstream fails, the cached tags
/// answer instead. The catalog lists what is stored here, cached mirrors included, as registry:2's does.
/// </remarks>
public sealed class ListingEndpoints(TagStore tags, CatalogStore catalog, ReferrerStore referrers, ManifestStore manifests,
    RegistryApiOptions options, PullThroughCache? proxy = null)
{
    /// <summary>registry:2 returns this many catalog entries when the client names no <c>n</c>.</summary>
    private const int DefaultCatalogPage = 100;

    public async Task TagsAsync(HttpContext context, RegistryRoute route)
    {
        var name = RegistryRequest.Name(route);
        var n = RegistryRequest.PageSize(context);
        var last = context.Request.Query["last"].ToString();
        if (context.Features.Get<ProxiedRepository>() is { } mirrored && proxy is not null)
        {
            var upstreamPage = await proxy.ListTagsAsync(mirrored, n, last, context.RequestAborted)
                ?? throw ErrorCode.NameUnknown.With(new { name = name.Value, upstream = mirrored.Upstream.Options.Name });
            if (upstreamPage.HasMore)
            {
                SetNextLink(context, $"/v2/{name}/tags/list?n={n ?? upstreamPage.Tags.Count}&last={Uri.EscapeDataString(upstreamPage.Tags[^1])}");
            }

            await WriteTagsAsync(context, name, upstreamPage.Tags);
            return;
        }

        var all = await tags.ListAsync(name, context.RequestAborted, continuation: last.Length > 0)
            ?? throw ErrorCode.NameUnknown.With(new { name = name.Value });

        var start = 0;
        if (last.Length > 0)
        {
            var index = Array.BinarySearch(all as string[] ?? [.. all], last, StringComparer.Ordinal);
            start = index >= 0 ? index + 1 : ~index;
        }

        var count = Math.Max(0, Math.Min(n ?? int.MaxValue, all.Count - start));
        var page = all.Skip(start).Take(count).ToList();
        if (n is not null && start + count < all.Count && page.Count > 0)
        {
            SetNextLink(context, $"/v2/{name}/tags/list?n={n}&last={Uri.EscapeDataString(page[^1])}");
        }

        await WriteTagsAsync(context, name, page);
    }

    private static Task WriteTagsAsync(HttpContext context, RepositoryName name, IReadOnlyList<string> page) =>
        WriteJsonAsync(context, "application/json", writer =>
        {
            writer.WriteString("name", name.Value);
            writer.WriteStartArray("tags");
            foreach (var tag in page)
            {
                writer.WriteStringValue(tag);
            }

            writer.WriteEndArray();
        });

    public async Task CatalogAsync(HttpContext context)
    {
        var n = RegistryRequest.PageSize(context) ?? DefaultCatalogPage;
        if (n > options.CatalogMaxEntries)
        {
            throw ErrorCode.PaginationNumberInvalid.With(new { n, max = options.CatalogMaxEntries },
                $"n may be at most {options.CatalogMaxEntries} (catalog.maxentries)");
        }

        var last = context.Request.Query["last"].ToString();
        var (names, more) = await catalog.ListAsync(n, last.Length > 0 ? last : null, context.RequestAborted);
        if (more && names.Count > 0)
        {
            SetNextLink(context, $"/v2/_catalog?n={n}&last={Uri.EscapeDataString(names[^1])}");
        }

        await WriteJsonAsync(context, "application/json", writer =>
        {
            writer.WriteStartArray("repositories");
            foreach (var repository in names)
            {
                writer.WriteStringValue(repository);
            }

            writer.WriteEndArray();
        });
    }

    public async Task ReferrersAsync(HttpContext context, RegistryRoute route)
    {
        var cancellationToken = context.RequestAborted;
        var name = RegistryRequest.Name(route);
        var subject = Digest.Parse(route.Argument);
        var artifactType = context.Request.Query["artifactType"].ToString();

        var descriptors = new List<Descriptor>();
        foreach (var digest in await referrers.ListAsync(name, subject, cancellationToken))
        {
            if (await manifests.GetAsync(name, digest, cancellationToken) is not { } stored
                || ManifestStore.TryParse(stored) is not { } manifest)
            {
                continue;
            }

            var effectiveType = manifest.EffectiveArtifactType;
            if (artifactType.Length > 0 && effectiveType != artifactType)
            {
                continue;
            }

            descriptors.Add(new Descriptor(manifest.MediaType, digest, stored.Content.Length)
            {
                ArtifactType = effectiveType,
                Annotations = manifest.Annotations,
            });
        }

        descriptors.Sort((a, b) => a.Digest.CompareTo(b.Digest));
        if (artifactType.Length > 0)
        {
            context.Response.Headers[RegistryHeaders.OciFiltersApplied] = "artifactType";
        }

        await WriteJsonAsync(context, MediaTypes.OciIndex, writer =>
        {
            writer.WriteNumber("schemaVersion", 2);
            writer.WriteString("mediaType", MediaTypes.OciIndex);
            writer.WriteStartArray("manifests");
            foreach (var descriptor in descriptors)
            {
                writer.WriteStartObject();
                writer.WriteString("mediaType", descriptor.MediaType);
                writer.WriteString("digest", descriptor.Digest.ToString());
                writer.WriteNumber("size", descriptor.Size);
                if (descriptor.ArtifactType is { } type)
                {
                    writer.WriteString("artifactType", type);
                }

                if (descriptor.Annotations is { Count: > 0 } annotations)
                {
                    writer.WriteStartObject("annotations");
                    foreach (var (key, value) in annotations)
                    {
                        writer.WriteString(key, value);
                    }

                    writer.WriteEndObject();
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        });
    }

    /// <summary>A relative next-page link, as registry:2 sends it.</summary>
    private static void SetNextLink(HttpContext context, string pathAndQuery) =>
        context.Response.Headers.Link = $"<{pathAndQuery}>; rel=\"next\"";

    private static async Task WriteJsonAsync(HttpContext context, string contentType, Action<Utf8JsonWriter> writeProperties)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, JsonBodies.WriterOptions))
        {
            writer.WriteStartObject();
            writeProperties(writer);
            writer.WriteEndObject();
        }

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.ContentLength = buffer.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted);
        }
    }
}
