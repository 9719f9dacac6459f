using System.Globalization;
using Berth.Auth;
using Berth.Api.Notifications;
using Berth.Core;
using Berth.Core.Errors;
using Berth.Storage;
using Microsoft.AspNetCore.Http;

namespace Berth.Api.Endpoints;

/// <summary>
/// Blob uploads: <c>POST /blobs/uploads/</c> (session, monolithic, mount: only from a repository the
/// client may pull from, and without <c>from</c> only when automatic mounts are on),
/// <c>PATCH/PUT/GET/DELETE /blobs/uploads/&lt;id&gt;</c>.
/// </summary>
public sealed class UploadEndpoints(UploadStore uploads, BlobStore blobs, RegistryApiOptions options, UploadStateToken stateToken,
    RegistryEvents events)
{
    public async Task StartAsync(HttpContext context, RegistryRoute route)
    {
        RegistryRequest.EnsureWritable(options);
        var cancellationToken = context.RequestAborted;
        var name = RegistryRequest.Name(route);
        var query = context.Request.Query;

        var mount = query["mount"].ToString();
        if (mount.Length > 0 && Digest.TryParse(mount, out var mountDigest))
        {
            var from = query["from"].ToString();
            long? mounted = null;
            if (from.Length > 0)
            {
                // A source that is not a valid name simply holds nothing to mount. A source the client may not
                // read is treated the same way, so the answer (an upload session) says nothing about its content.
                if (RepositoryName.TryParse(from, out var source) && MayPull(context, source))
                {
                    mounted = await blobs.MountAsync(source, name, mountDigest, cancellationToken);
                }
            }
            else if (options.AutomaticCrossMount)
            {
                mounted = await blobs.MountAnyAsync(name, mountDigest, cancellationToken);
            }

            if (mounted is not null)
            {
                Created(context, name, mountDigest);
                events.Publish(context, RegistryEvent.Mount, name, mountDigest, MediaTypes.OctetStream, mounted.Value,
                    fromRepository: from.Length > 0 ? from : null);
                return;
            }
        }

        var digestText = query["digest"].ToString();
        if (digestText.Length > 0)
        {
            // Monolithic upload: the whole blob in this one request.
            var digest = Digest.Parse(digestText);
            RegistryRequest.AllowUnlimitedBody(context);
            var size = await uploads.StoreAsync(name, digest, context.Request.Body, context.Request.ContentLength, cancellationToken);
            Created(context, name, digest);
            events.Publish(context, RegistryEvent.Push, name, digest, MediaTypes.OctetStream, size);
            return;
        }

        Accepted(context, name, uploads.Start(), StatusCodes.Status202Accepted);
    }

    /// <summary>The grant the dispatcher attached after authorizing the request decides; no grant, no mount.</summary>
    private static bool MayPull(HttpContext context, RepositoryName source) =>
        context.Features.Get<IAccessGrant>()?.Allows(AccessRequest.Repository(source.Value, AccessRequest.Pull)) == true;

    public async Task PatchAsync(HttpContext context, RegistryRoute route)
    {
        RegistryRequest.EnsureWritable(options);
        var name = RegistryRequest.Name(route);
        var (id, voucher) = VerifiedUpload(context, route);
        RegistryRequest.AllowUnlimitedBody(context);

        var (rangeStart, declaredLength) = ParseContentRange(context);
        var status = await uploads.AppendAsync(name, id, voucher, context.Request.Body, rangeStart, declaredLength, context.RequestAborted);
        Accepted(context, name, status, StatusCodes.Status202Accepted);
    }

    public async Task PutAsync(HttpContext context, RegistryRoute route)
    {
        RegistryRequest.EnsureWritable(options);
        var name = RegistryRequest.Name(route);
        var (id, voucher) = VerifiedUpload(context, route);
        var digestText = context.Request.Query["digest"].ToString();
        if (digestText.Length == 0)
        {
            throw ErrorCode.DigestInvalid.With(message: "the digest query parameter is required to finish an upload");
        }

        var digest = Digest.Parse(digestText);
        RegistryRequest.AllowUnlimitedBody(context);
        var (rangeStart, declaredLength) = ParseContentRange(context);
        var body = HasBody(context.Request) ? context.Request.Body : null;
        var committed = await uploads.CommitAsync(name, id, voucher, digest, body, rangeStart, declaredLength, context.RequestAborted);
        Created(context, name, digest);
        events.Publish(context, RegistryEvent.Push, name, digest, MediaTypes.OctetStream, committed);
    }

    public async Task GetStatusAsync(HttpContext context, RegistryRoute route)
    {
        var name = RegistryRequest.Name(route);
        var (id, voucher) = VerifiedUpload(context, route);
        var status = await uploads.StatusAsync(name, id, voucher, context.RequestAborted);
        Accepted(context, name, status, StatusCodes.Status204NoContent);
    }

    public async Task CancelAsync(HttpContext context, RegistryRoute route)
    {
        RegistryRequest.EnsureWritable(options);
        var name = RegistryRequest.Name(route);
        var (id, voucher) = VerifiedUpload(context, route);
        await uploads.CancelAsync(name, id, voucher, context.RequestAborted);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        context.Response.ContentLength = 0;
    }

    /// <summary>
    /// The upload id and what the client's <c>_state</c> vouches for (null without one: an upload in storage can be
    /// continued by id alone, as registry:2 allows; one that has received nothing exists only in its state).
    /// </summary>
    private (string Id, UploadVoucher? Voucher) VerifiedUpload(HttpContext context, RegistryRoute route)
    {
        var id = route.Argument;
        if (!UploadStore.IsValidId(id))
        {
            throw ErrorCode.BlobUploadUnknown.With(new { uuid = id.Length > 64 ? id[..64] : id });
        }

        // Clients echo the Location we gave them; a state we did not sign, or one for another
        // upload, is refused. Storage stays the authority on the offset.
        var state = context.Request.Query["_state"].ToString();
        if (state.Length == 0)
        {
            return (id, null);
        }

        var voucher = stateToken.Verify(state, route.Name, id)
            ?? throw ErrorCode.BlobUploadInvalid.With(new { uuid = id }, "the upload state is invalid or was not issued for this upload");
        return (id, voucher);
    }

    /// <summary>
    /// Reads <c>Content-Range: &lt;start&gt;-&lt;end&gt;</c> (registry:2's form; <c>bytes </c> is tolerated)
    /// and checks it against <c>Content-Length</c>. Returns the start and the length the body must have.
    /// </summary>
    private static (long? Start, long? Length) ParseContentRange(HttpContext context)
    {
        var contentLength = context.Request.ContentLength;
        var header = context.Request.Headers.ContentRange.ToString();
        if (header.Length == 0)
        {
            return (null, contentLength);
        }

        var spec = header.StartsWith("bytes ", StringComparison.OrdinalIgnoreCase) ? header[6..] : header;
        var slash = spec.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            spec = spec[..slash];
        }

        var dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0
            || !long.TryParse(spec[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            || !long.TryParse(spec[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var end)
            || end < start)
        {
            throw ErrorCode.RangeInvalid.With(new { contentRange = header.Length > 64 ? header[..64] : header }, "malformed Content-Range");
        }

        var length = end - start + 1;
        if (contentLength is not null && contentLength != length)
        {
            throw ErrorCode.SizeInvalid.With(new { contentRange = header, contentLength },
                $"Content-Range covers {length} bytes but Content-Length is {contentLength}");
        }

        return (start, length);
    }

    private static bool HasBody(HttpRequest request) =>
        request.ContentLength > 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0);

    private void Accepted(HttpContext context, RepositoryName name, UploadStatus status, int statusCode)
    {
        var response = context.Response;
        var state = stateToken.Create(name.Value, status.Id, status.Size, status.StartedAt);
        response.StatusCode = statusCode;
        response.Headers.Location = $"{RegistryRequest.UrlBase(context, options)}/v2/{name}/blobs/uploads/{status.Id}?_state={Uri.EscapeDataString(state)}";
        response.Headers.Range = UploadStore.RangeHeader(status.Size);
        response.Headers[RegistryHeaders.UploadUuid] = status.Id;
        response.ContentLength = 0;
    }

    private void Created(HttpContext context, RepositoryName name, Digest digest)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status201Created;
        response.Headers.Location = RegistryRequest.BlobUrl(context, options, name, digest);
        response.Headers[RegistryHeaders.ContentDigest] = digest.ToString();
        response.ContentLength = 0;
    }
}
