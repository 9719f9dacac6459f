using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using Berth.Api.Notifications;
using Berth.Core;
using Berth.Core.Errors;
using Berth.Proxy;
using Berth.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Microsoft.Win32.SafeHandles;

namespace Berth.Api.Endpoints;

/// <summary><c>GET/HEAD/DELETE /v2/&lt;name&gt;/blobs/&lt;digest&gt;</c>.</summary>
/// <remarks>
/// A blob of a mirrored repository that is not cached yet comes from the pull-through cache: a HEAD asks the
/// upstream for its size, a GET streams it as it arrives (Range included) while the cache stores it.
/// </remarks>
public sealed partial class BlobEndpoints(BlobStore blobs, RegistryApiOptions options, RegistryEvents events,
    Microsoft.Extensions.Logging.ILogger<BlobEndpoints> logger, PullThroughCache? proxy = null)
{
    private const int CopyBufferSize = 128 * 1024;
    /// <summary>Bytes read from a local blob file per step, straight into the response pipe; a quarter of
    /// <see cref="ResponseBufferBytes"/>, so several steps are in flight to the socket at once.</summary>
    private const int LocalFileChunkSize = 256 * 1024;

    /// <summary>The response buffer Kestrel is given (<c>MaxResponseBufferSize</c>) by the server.</summary>
    public const int ResponseBufferBytes = 1024 * 1024;

    public async Task GetAsync(HttpContext context, RegistryRoute route)
    {
        var cancellationToken = context.RequestAborted;
        var name = RegistryRequest.Name(route);
        var digest = Digest.Parse(route.Argument);
        var isHead = HttpMethods.IsHead(context.Request.Method);
        var mirrored = context.Features.Get<ProxiedRepository>();
        ProxiedBlob? fetching = null;
        var found = await blobs.StatAsync(name, digest, cancellationToken);
        if (found is not null && mirrored is not null && await blobs.StatContentAsync(digest, cancellationToken) is null)
        {
            // Expiry deleted the bytes under a cached descriptor of another repository: forget it and fetch again.
            await blobs.ForgetAsync(name, digest, () => Task.FromResult(true), cancellationToken);
            found = null;
        }

        if (found is null && mirrored is not null && proxy is not null)
        {
            if (isHead)
            {
                found = await proxy.StatUpstreamBlobAsync(mirrored, digest, cancellationToken);
            }
            else if (await proxy.OpenBlobAsync(mirrored, digest, cancellationToken) is { } blob)
            {
                fetching = blob;
                found = blob.Size;

                // It holds the spool open until the response is over, whichever way the response ends.
                context.Response.RegisterForDisposeAsync(blob);
            }
        }
        else if (found is not null && mirrored is not null && !isHead)
        {
            PullThroughCache.RecordServedFromCache(mirrored, found.Value);
        }

        var size = found ?? throw ErrorCode.BlobUnknown.With(new { digest = digest.ToString() });

        var response = context.Response;
        var etag = $"\"{digest}\"";
        response.Headers[RegistryHeaders.ContentDigest] = digest.ToString();
        response.Headers.ETag = etag;
        response.Headers.AcceptRanges = "bytes";
        response.Headers.CacheControl = "max-age=31536000";
        response.ContentType = MediaTypes.OctetStream;

        if (context.Request.Headers.IfNoneMatch.ToString() == etag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        var (offset, length) = (0L, size);
        if (TryParseRange(context.Request.Headers.Range.ToString(), size, out var range))
        {
            if (range is null)
            {
                throw new RegistryException(ErrorCode.RangeNotSatisfiable, $"range not satisfiable for a blob of {size} bytes")
                {
                    Headers = new Dictionary<string, string> { [HeaderNames.ContentRange] = $"bytes */{size}" },
                };
            }

            (offset, length) = range.Value;
            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = $"bytes {offset}-{offset + length - 1}/{size}";
        }

        if (!options.RedirectDisabled && !isHead && fetching is null
            && await blobs.Driver.RedirectUriAsync(StoragePaths.BlobData(digest), context.Request.Method, cancellationToken) is { } redirect)
        {
            response.StatusCode = StatusCodes.Status307TemporaryRedirect;
            response.Headers.Location = redirect.ToString();
            return;
        }

        response.ContentLength = length;
        if (isHead || length == 0)
        {
            return;
        }

        if (fetching is not null)
        {
            if (!await SendFetchingAsync(context, fetching, mirrored!.Upstream.Options.Name, offset, length))
            {
                return;
            }
        }
        else if (blobs.LocalFilePath(digest) is { } file)
        {
            SafeFileHandle handle;
            try
            {
                handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                    FileOptions.Asynchronous | FileOptions.SequentialScan);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                throw await DataGoneAsync(name, digest, cancellationToken);
            }

            using (handle)
            {
                await SendLocalFileAsync(handle, offset, length, response.BodyWriter, cancellationToken);
            }
        }
        else
        {
            Stream stream;
            try
            {
                stream = await blobs.OpenReadAsync(digest, offset, cancellationToken);
            }
            catch (RegistryException ex) when (ex.Code == ErrorCode.BlobUnknown)
            {
                throw await DataGoneAsync(name, digest, cancellationToken);
            }

            await using (stream)
            {
                await CopyAsync(stream, response.Body, length, cancellationToken);
            }
        }

        events.Publish(context, RegistryEvent.Pull, name, digest, MediaTypes.OctetStream, size);
    }

    /// <summary>
    /// Streams a blob the cache is fetching. If the upstream's body turns out short or corrupt the client's
    /// connection is cut, so it never receives a whole response with wrong bytes; returns false then.
    /// </summary>
    private async Task<bool> SendFetchingAsync(HttpContext context, ProxiedBlob blob, string upstream, long offset, long length)
    {
        var cancellationToken = context.RequestAborted;
        await using var stream = await blob.OpenReadAsync(offset, cancellationToken);
        try
        {
            await CopyAsync(stream, context.Response.Body, length, cancellationToken);
            return true;
        }
        catch (IOException ex) when (!cancellationToken.IsCancellationRequested && ex.InnerException is not Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            if (!context.Response.HasStarted)
            {
                // Nothing sent yet: the client can still be told plainly that the upstream failed.
                throw new UpstreamException(upstream, UpstreamFailure.BadAnswer, ex.Message, inner: ex);
            }

            LogProxiedBlobCut(logger, blob.Digest.ToString(), ex.Message);
            context.Abort();
            return false;
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(EventId = 1101, Level = Microsoft.Extensions.Logging.LogLevel.Warning,
        Message = "Cut the connection of a client pulling {Digest} through the cache: {Reason}")]
    private static partial void LogProxiedBlobCut(Microsoft.Extensions.Logging.ILogger logger, string digest, string reason);

    public async Task DeleteAsync(HttpContext context, RegistryRoute route)
    {
        RegistryRequest.EnsureWritable(options);
        var name = RegistryRequest.Name(route);
        var digest = Digest.Parse(route.Argument);
        if (!options.DeleteEnabled)
        {
            throw ErrorCode.Unsupported.With(message: "deletion is disabled (storage.delete.enabled)");
        }

        if (!await blobs.UnlinkAsync(name, digest, context.RequestAborted))
        {
            throw ErrorCode.BlobUnknown.With(new { digest = digest.ToString() });
        }

        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.Headers[RegistryHeaders.ContentDigest] = digest.ToString();
        context.Response.ContentLength = 0;
        events.Publish(context, RegistryEvent.Delete, name, digest, null, 0);
    }

    /// <summary>
    /// Parses a single <c>bytes=</c> range. Returns false when there is no usable Range header (the
    /// whole blob is sent, as RFC 9110 asks for syntax it does not understand); true with a null
    /// range when the range cannot be satisfied (416).
    /// </summary>
    internal static bool TryParseRange(string header, long size, out (long Offset, long Length)? range)
    {
        range = null;
        if (!header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) || header.Contains(',', StringComparison.Ordinal))
        {
            return false;
        }

        var spec = header["bytes=".Length..].Trim();
        var dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return false;
        }

        var firstText = spec[..dash];
        var lastText = spec[(dash + 1)..];
        if (firstText.Length == 0)
        {
            // Suffix range: the last N bytes.
            if (!long.TryParse(lastText, NumberStyles.None, CultureInfo.InvariantCulture, out var suffix))
            {
                return false;
            }

            if (suffix == 0 || size == 0)
            {
                return true;
            }

            var take = Math.Min(suffix, size);
            range = (size - take, take);
            return true;
        }

        if (!long.TryParse(firstText, NumberStyles.None, CultureInfo.InvariantCulture, out var first))
        {
            return false;
        }

        var last = size - 1;
        if (lastText.Length > 0)
        {
            if (!long.TryParse(lastText, NumberStyles.None, CultureInfo.InvariantCulture, out last) || last < first)
            {
                return false;
            }
        }

        if (first >= size)
        {
            return true;
        }

        last = Math.Min(last, size - 1);
        range = (first, last - first + 1);
        return true;
    }

    /// <summary>
    /// Sends part of a local file with positional reads of <see cref="LocalFileChunkSize"/>:
    /// ASP.NET Core's SendFileAsync reads in 16 KiB pieces, which costs a syscall pair per 16 KiB on
    /// the path that moves the most bytes.
    /// </summary>
    /// <summary>
    /// The repository's link (or a cached descriptor, possibly from before another process moved the data away: a
    /// scrub putting a corrupt blob aside, a collection) said the blob is here, but its data is not. The descriptor is
    /// dropped so later HEADs ask storage again, and the client gets the 404 it would get had the data never existed.
    /// </summary>
    private async Task<RegistryException> DataGoneAsync(RepositoryName name, Digest digest, CancellationToken cancellationToken)
    {
        await blobs.ForgetAsync(name, digest, () => Task.FromResult(true), cancellationToken);
        return ErrorCode.BlobUnknown.With(new { digest = digest.ToString() });
    }

    /// <summary>
    /// Reads the file straight into the response pipe's own memory: one copy from the page cache into the buffer
    /// the socket sends from, where a read into a buffer of ours then written to the body took two. With Kestrel's
    /// response buffer above one chunk (<c>MaxResponseBufferSize</c>), a flush returns while the previous chunk is
    /// still going out, so the next read overlaps the send instead of waiting for it.
    /// </summary>
    private static async Task SendLocalFileAsync(SafeFileHandle handle, long offset, long length, PipeWriter destination, CancellationToken cancellationToken)
    {
        var position = offset;
        var end = offset + length;
        while (position < end)
        {
            var wanted = (int)Math.Min(LocalFileChunkSize, end - position);
            var memory = destination.GetMemory(wanted);
            var read = await RandomAccess.ReadAsync(handle, memory[..Math.Min(memory.Length, wanted)], position, cancellationToken);
            if (read == 0)
            {
                throw new IOException($"blob ended {end - position} bytes early");
            }

            destination.Advance(read);
            position += read;
            var flushed = await destination.FlushAsync(cancellationToken);
            if (flushed.IsCanceled || flushed.IsCompleted)
            {
                // The connection is gone (or the response was aborted): nobody reads the rest.
                throw new OperationCanceledException("the response ended before the blob was sent", cancellationToken);
            }
        }
    }

    private static async Task CopyAsync(Stream source, Stream destination, long length, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            var remaining = length;
            while (remaining > 0)
            {
                var read = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(CopyBufferSize, remaining)), cancellationToken);
                if (read == 0)
                {
                    throw new IOException($"blob ended {remaining} bytes early");
                }

                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                remaining -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
