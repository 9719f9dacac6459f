using Berth.Api.Notifications;
using Berth.Core;
using Berth.Core.Errors;
using Berth.Proxy;
using Berth.Storage;
using Berth.Storage.Lifecycle;
using Berth.Storage.Maintenance;
using Microsoft.AspNetCore.Http;

namespace Berth.Api.Endpoints;

/// <summary><c>GET/HEAD/PUT/DELETE /v2/&lt;name&gt;/manifests/&lt;reference&gt;</c>.</summary>
/// <remarks>
/// Manifests of a mirrored repository come through the pull-through cache, which checks tags with the upstream.
/// Tags an <c>immutabletags</c> rule covers never move to another digest and are never deleted, by tag or by digest.
/// Every GET is noted in <see cref="PullTimes"/> (memory only) for retention's <c>pulledwithin</c>.
/// </remarks>
public sealed class ManifestEndpoints(ManifestStore manifests, TagStore tags, RegistryApiOptions options, RegistryEvents events,
    PullThroughCache? proxy = null, RepositoryQuotas? quotas = null, ImmutableTagPolicy? immutableTags = null, PullTimes? pullTimes = null)
{
    public async Task GetAsync(HttpContext context, RegistryRoute route)
    {
        var cancellationToken = context.RequestAborted;
        var name = RegistryRequest.Name(route);
        var reference = await ParseExistingReferenceAsync(name, route.Argument, cancellationToken);
        var mirrored = context.Features.Get<ProxiedRepository>();
        var stored = mirrored is not null && proxy is not null
            ? await proxy.GetManifestAsync(mirrored, reference, cancellationToken)
                ?? throw ErrorCode.ManifestUnknown.With(new { reference = reference.ToString(), upstream = mirrored.Upstream.Options.Name })
            : await manifests.GetAsync(name, reference, cancellationToken) ?? throw await UnknownAsync(name, reference, cancellationToken);

        if (!reference.IsDigest && !Accepts(context.Request.Headers.Accept, stored.MediaType))
        {
            // registry:2 behaviour: a client that cannot read this format gets "unknown" by tag.
            throw ErrorCode.ManifestUnknown.With(new { tag = reference.Tag, mediaType = stored.MediaType },
                $"the manifest is {stored.MediaType}, which the Accept header does not allow");
        }

        var response = context.Response;
        var etag = $"\"{stored.Digest}\"";
        response.Headers[RegistryHeaders.ContentDigest] = stored.Digest.ToString();
        response.Headers.ETag = etag;
        response.ContentType = stored.MediaType;
        if (context.Request.Headers.IfNoneMatch.ToString() == etag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        response.ContentLength = stored.Content.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(stored.Content, cancellationToken);
            pullTimes?.Record(name, stored.Digest);
            events.Publish(context, RegistryEvent.Pull, name, stored.Digest, stored.MediaType, stored.Content.Length, reference.Tag);
        }
    }

    public async Task PutAsync(HttpContext context, RegistryRoute route)
    {
        RegistryRequest.EnsureWritable(options);
        var cancellationToken = context.RequestAborted;
        var name = RegistryRequest.Name(route);
        var reference = Reference.Parse(route.Argument);

        var content = await ReadBodyAsync(context.Request, ManifestStore.MaxManifestBytes, cancellationToken);
        if (reference.Tag is { } pushedTag && immutableTags?.RuleFor(name, pushedTag) is { } rule
            && await tags.ResolveAsync(name, pushedTag, cancellationToken) is { } current && current != Digest.Compute(content, Digest.Sha256))
        {
            // Re-pushing the digest the tag already names is allowed: clients push tags again as a matter of course.
            throw Immutable(rule, name, pushedTag, $"cannot move it from {current} to another manifest");
        }

        var contentType = context.Request.ContentType;
        var (digest, manifest) = quotas is null
            ? await manifests.PutAsync(name, reference, content, contentType, cancellationToken)
            : await quotas.PutManifestAsync(name, reference, content, contentType,
                () => manifests.PutAsync(name, reference, content, contentType, cancellationToken), cancellationToken);

        var response = context.Response;
        response.StatusCode = StatusCodes.Status201Created;
        response.Headers.Location = RegistryRequest.ManifestUrl(context, options, name, digest);
        response.Headers[RegistryHeaders.ContentDigest] = digest.ToString();
        if (manifest.Subject is { } subject)
        {
            response.Headers[RegistryHeaders.OciSubject] = subject.Digest.ToString();
        }

        response.ContentLength = 0;
        events.Publish(context, RegistryEvent.Push, name, digest, manifest.MediaType, content.Length, reference.Tag);
    }

    public async Task DeleteAsync(HttpContext context, RegistryRoute route)
    {
        RegistryRequest.EnsureWritable(options);
        var cancellationToken = context.RequestAborted;
        var name = RegistryRequest.Name(route);
        if (!options.DeleteEnabled)
        {
            throw ErrorCode.Unsupported.With(message: "deletion is disabled (storage.delete.enabled)");
        }

        var reference = await ParseExistingReferenceAsync(name, route.Argument, cancellationToken);
        await EnsureNotImmutableAsync(name, reference, cancellationToken);
        var deleted = reference.Digest is { } digest
            ? await manifests.DeleteAsync(name, digest, cancellationToken)
            : await tags.DeleteAsync(name, reference.Tag!, cancellationToken);
        if (!deleted)
        {
            throw await UnknownAsync(name, reference, cancellationToken);
        }

        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.ContentLength = 0;
        events.Publish(context, RegistryEvent.Delete, name, reference.Digest, null, 0, reference.Tag);
    }

    /// <summary>Refuses the delete of an immutable tag, or of a manifest an immutable tag names.</summary>
    private async Task EnsureNotImmutableAsync(RepositoryName name, Reference reference, CancellationToken cancellationToken)
    {
        if (immutableTags is null || immutableTags.IsEmpty)
        {
            return;
        }

        if (reference.Tag is { } tag)
        {
            if (immutableTags.RuleFor(name, tag) is { } rule && await tags.ResolveAsync(name, tag, cancellationToken) is not null)
            {
                throw Immutable(rule, name, tag, "cannot delete it");
            }

            return;
        }

        foreach (var tagOfDigest in await tags.TagsOfAsync(name, reference.Digest!.Value, cancellationToken))
        {
            if (immutableTags.RuleFor(name, tagOfDigest) is { } rule)
            {
                throw Immutable(rule, name, tagOfDigest, $"cannot delete {reference.Digest}, which it names");
            }
        }
    }

    private static RegistryException Immutable(ImmutableTagRule rule, RepositoryName name, string tag, string refusal) =>
        ErrorCode.Denied.With(
            new
            {
                repository = name.Value,
                tag,
                rule = rule.Index,
                repositories = rule.Repositories.Patterns,
                tags = rule.Tags.Select(t => t.Text).ToArray(),
            },
            $"tag {name}:{tag} is immutable ({rule.Describe()}): {refusal}");

    /// <summary>
    /// True when the Accept header admits <paramref name="mediaType"/>. No header, a wildcard, or
    /// only non-manifest types mean "anything"; registry:2 treats old clients the same way.
    /// </summary>
    internal static bool Accepts(Microsoft.Extensions.Primitives.StringValues accept, string mediaType)
    {
        var anyManifestType = false;
        foreach (var header in accept)
        {
            foreach (var part in (header ?? "").Split(','))
            {
                var semicolon = part.IndexOf(';', StringComparison.Ordinal);
                var type = (semicolon >= 0 ? part[..semicolon] : part).Trim();
                if (type == mediaType || type is "*/*" or "application/*")
                {
                    return true;
                }

                anyManifestType |= type.StartsWith("application/vnd.", StringComparison.Ordinal) && type.Contains("manifest", StringComparison.Ordinal)
                    || type.Contains("image.index", StringComparison.Ordinal);
            }
        }

        return !anyManifestType;
    }

    /// <summary>
    /// Parses the reference of a read or delete. A string that is not a valid tag cannot name an
    /// existing manifest, so it is "unknown" (404), as the spec requires for pulls; only a push
    /// of an invalid tag is TAG_INVALID.
    /// </summary>
    private async Task<Reference> ParseExistingReferenceAsync(RepositoryName name, string text, CancellationToken cancellationToken)
    {
        try
        {
            return Reference.Parse(text);
        }
        catch (RegistryException ex) when (ex.Code == ErrorCode.TagInvalid)
        {
            throw await tags.RepositoryExistsAsync(name, cancellationToken)
                ? ErrorCode.ManifestUnknown.With(new { reference = text.Length > 200 ? text[..200] : text })
                : ErrorCode.NameUnknown.With(new { name = name.Value });
        }
    }

    private async Task<RegistryException> UnknownAsync(RepositoryName name, Reference reference, CancellationToken cancellationToken) =>
        await tags.RepositoryExistsAsync(name, cancellationToken)
            ? ErrorCode.ManifestUnknown.With(new { reference = reference.ToString() })
            : ErrorCode.NameUnknown.With(new { name = name.Value });

    /// <summary>Reads a request body of at most <paramref name="limit"/> bytes; larger ones get 413.</summary>
    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            throw TooLarge(limit);
        }

        var buffer = new byte[request.ContentLength is { } declared ? (int)declared : 16 * 1024];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (length >= limit + 1)
                {
                    throw TooLarge(limit);
                }

                if (request.ContentLength is not null)
                {
                    // Declared length reached; one more read must find the end.
                    var probe = new byte[1];
                    if (await request.Body.ReadAsync(probe, cancellationToken) == 0)
                    {
                        break;
                    }

                    throw ErrorCode.SizeInvalid.With(message: "body is longer than Content-Length");
                }

                Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, limit + 1L));
            }

            var read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken);
            if (read == 0)
            {
                break;
            }

            length += read;
        }

        if (length > limit)
        {
            throw TooLarge(limit);
        }

        return length == buffer.Length ? buffer : buffer[..length];
    }

    private static RegistryException TooLarge(int limit) =>
        ErrorCode.ManifestTooLarge.With(new { limit }, $"manifests are limited to {limit} bytes");
}
