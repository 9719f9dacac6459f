using Berth.Api.Endpoints;
using Berth.Auth;
using Berth.Core;
using Berth.Core.Errors;
using Berth.Proxy;
using Berth.Storage.Drivers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Berth.Api;

/// <summary>
/// The one handler behind <c>/v2</c>: parses the path, dispatches by resource and method, and is
/// the single place where failures become OCI error bodies. A client that went away is not an
/// error of ours, and nothing internal (paths, stack traces) reaches a response.
/// </summary>
/// <remarks>
/// <para>
/// Every request is authorized before anything else happens, with the access its route needs
/// (<see cref="RequiredAccess"/>); the grant is attached to the request as an <see cref="IAccessGrant"/>
/// feature for checks the route alone cannot name (the source of a mount).
/// </para>
/// <para>
/// A repository an upstream is mirrored under is resolved first (<see cref="ProxyRouter"/>): the request is then
/// about the repository the cache keeps it in (containerd's <c>?ns=docker.io</c> for <c>library/alpine</c> is
/// <c>dockerhub/library/alpine</c> when Docker Hub is mirrored under <c>dockerhub</c>), so access rules and storage see
/// one name however a client asks. The <see cref="ProxiedRepository"/> travels as a request feature; writes to it are
/// refused with 405 UNSUPPORTED, as registry:2 refuses them in proxy mode.
/// </para>
/// </remarks>
public sealed partial class RegistryDispatcher(
    BlobEndpoints blobEndpoints,
    UploadEndpoints uploadEndpoints,
    ManifestEndpoints manifestEndpoints,
    ListingEndpoints listingEndpoints,
    ILogger<RegistryDispatcher> logger,
    IAccessController? accessController = null,
    PullThroughCache? proxy = null)
{
    private readonly IAccessController _access = accessController ?? AllowAllAccessController.Instance;

    public async Task HandleAsync(HttpContext context)
    {
        context.Response.Headers[RegistryHeaders.ApiVersion] = RegistryHeaders.ApiVersionValue;
        var route = RegistryRoute.Parse(context.Request.Path.Value ?? "");
        try
        {
            if (await ResolveMirrorAsync(context, route) is { } proxied)
            {
                context.Features.Set(proxied);
                route = route with { Name = proxied.LocalName.Value };
            }

            var required = RequiredAccess(route, context.Request.Method);
            var decision = await _access.AuthorizeTracedAsync(context, required, context.RequestAborted);
            if (decision.Outcome != AccessOutcome.Granted || decision.Grant is null)
            {
                throw AccessError(decision, required);
            }

            context.Features.Set(decision.Grant);
            if (context.Features.Get<ProxiedRepository>() is { } mirrored && IsWrite(route.Kind, context.Request.Method))
            {
                throw ErrorCode.Unsupported.With(new { name = route.Name, upstream = mirrored.Upstream.Options.Name },
                    $"{route.Name} is a mirror of upstream {mirrored.Upstream.Options.Name}; it cannot be pushed to or deleted from");
            }

            await DispatchAsync(context, route);
        }
        catch (RegistryException ex)
        {
            await ErrorResponses.WriteAsync(context, ex.Code, ex.Message, ex.Detail, ex.Headers);
        }
        catch (UpstreamException ex)
        {
            await WriteUpstreamErrorAsync(context, ex);
        }
        catch (Exception ex) when (IsClientGone(context, ex))
        {
            // Nobody is listening for an answer; drop the connection instead of draining it.
            LogClientGone(logger, context.Request.Method, context.Request.Path);
            context.Abort();
        }
        catch (BadHttpRequestException ex)
        {
            // Kestrel's verdict on the body: truncated, too large, or malformed framing.
            var code = ex.StatusCode == StatusCodes.Status413PayloadTooLarge ? ErrorCode.ManifestTooLarge : ErrorCode.BlobUploadInvalid;
            await ErrorResponses.WriteAsync(context, code with { Status = ex.StatusCode }, ex.Message, null);
        }
        catch (InvalidStoragePathException)
        {
            await ErrorResponses.WriteAsync(context, ErrorCode.NameInvalid, ErrorCode.NameInvalid.Message, null);
        }
        catch (Exception ex)
        {
            LogUnhandled(logger, ex, context.Request.Method, context.Request.Path);
            await ErrorResponses.WriteAsync(context, ErrorCode.Unknown, ErrorCode.Unknown.Message, null);
        }
    }

    private Task DispatchAsync(HttpContext context, RegistryRoute route)
    {
        var method = context.Request.Method;
        var isRead = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        return route.Kind switch
        {
            RouteKind.Base when isRead => WriteEmptyJsonAsync(context),
            RouteKind.Catalog when isRead => listingEndpoints.CatalogAsync(context),
            RouteKind.Tags when isRead => listingEndpoints.TagsAsync(context, route),
            RouteKind.Referrers when isRead => listingEndpoints.ReferrersAsync(context, route),
            RouteKind.Manifest when isRead => manifestEndpoints.GetAsync(context, route),
            RouteKind.Manifest when HttpMethods.IsPut(method) => manifestEndpoints.PutAsync(context, route),
            RouteKind.Manifest when HttpMethods.IsDelete(method) => manifestEndpoints.DeleteAsync(context, route),
            RouteKind.Blob when isRead => blobEndpoints.GetAsync(context, route),
            RouteKind.Blob when HttpMethods.IsDelete(method) => blobEndpoints.DeleteAsync(context, route),
            RouteKind.UploadStart when HttpMethods.IsPost(method) => uploadEndpoints.StartAsync(context, route),
            RouteKind.Upload when HttpMethods.IsPatch(method) => uploadEndpoints.PatchAsync(context, route),
            RouteKind.Upload when HttpMethods.IsPut(method) => uploadEndpoints.PutAsync(context, route),
            RouteKind.Upload when isRead => uploadEndpoints.GetStatusAsync(context, route),
            RouteKind.Upload when HttpMethods.IsDelete(method) => uploadEndpoints.CancelAsync(context, route),
            RouteKind.NotFound => throw ErrorCode.NotFound.With(),
            _ => throw MethodNotAllowed(context, route.Kind),
        };
    }

    /// <summary>The mirrored repository a request addresses, or null for a local one (or a route without a repository).</summary>
    private async Task<ProxiedRepository?> ResolveMirrorAsync(HttpContext context, RegistryRoute route)
    {
        if (proxy is null || route.Name.Length == 0 || !RepositoryName.TryParse(route.Name, out var name))
        {
            return null;
        }

        var isRead = HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method);
        return await proxy.ResolveAsync(name, context.Request.Query["ns"].ToString(), isRead && route.Kind != RouteKind.Upload, context.RequestAborted);
    }

    private static bool IsWrite(RouteKind kind, string method) => kind switch
    {
        RouteKind.UploadStart or RouteKind.Upload => true,
        RouteKind.Manifest or RouteKind.Blob => !HttpMethods.IsGet(method) && !HttpMethods.IsHead(method),
        _ => false,
    };

    /// <summary>
    /// An upstream that failed, for content the cache cannot answer: 429 TOOMANYREQUESTS with the upstream's
    /// Retry-After when it is rate limiting, else 502 (the upstream answered wrongly, with an error status or a bad
    /// body, or refused Berth's credentials) or
    /// 503 (it could not be reached) UNAVAILABLE, each naming the upstream. Never a 401: that would ask the client to
    /// sign in, when it is Berth's credentials for the upstream that failed.
    /// </summary>
    private static Task WriteUpstreamErrorAsync(HttpContext context, UpstreamException ex)
    {
        var detail = new { upstream = ex.Upstream, status = ex.Status };
        if (ex.Failure == UpstreamFailure.RateLimited)
        {
            var seconds = (long)Math.Ceiling(Math.Max(1, ex.RetryAfter?.TotalSeconds ?? 1));
            return ErrorResponses.WriteAsync(context, ErrorCode.TooManyRequests, ex.Message, detail,
                new Dictionary<string, string> { ["Retry-After"] = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }

        var answeredWrongly = ex.Failure is UpstreamFailure.Unauthorized or UpstreamFailure.BadAnswer || ex.Status is not null;
        var code = answeredWrongly ? ErrorCode.Unavailable with { Status = 502 } : ErrorCode.Unavailable;
        return ErrorResponses.WriteAsync(context, code, ex.Message, detail);
    }

    /// <summary>
    /// The access a request needs, in the token specification's terms (Distribution's mapping, except that every
    /// upload route, cancel included, needs pull and push: cancelling one's own upload is part of pushing).
    /// The version check, unknown routes and methods a route does not serve need only an authenticated client.
    /// </summary>
    internal static IReadOnlyList<AccessRequest> RequiredAccess(RegistryRoute route, string method)
    {
        var isRead = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        var name = route.Name;
        return route.Kind switch
        {
            RouteKind.Catalog when isRead => [AccessRequest.Catalog()],
            RouteKind.Tags or RouteKind.Referrers or RouteKind.Manifest or RouteKind.Blob when isRead =>
                [AccessRequest.Repository(name, AccessRequest.Pull)],
            RouteKind.Manifest when HttpMethods.IsPut(method) => [AccessRequest.Repository(name, AccessRequest.Pull, AccessRequest.Push)],
            RouteKind.Manifest or RouteKind.Blob when HttpMethods.IsDelete(method) => [AccessRequest.Repository(name, AccessRequest.Delete)],
            RouteKind.UploadStart when HttpMethods.IsPost(method) => [AccessRequest.Repository(name, AccessRequest.Pull, AccessRequest.Push)],
            RouteKind.Upload when HttpMethods.IsPatch(method) || HttpMethods.IsPut(method) || HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsDelete(method) =>
                [AccessRequest.Repository(name, AccessRequest.Pull, AccessRequest.Push)],
            _ => [],
        };
    }

    /// <summary>401 UNAUTHORIZED with the challenge, 403 DENIED or 429 TOOMANYREQUESTS with Retry-After.</summary>
    internal static RegistryException AccessError(AccessDecision decision, IReadOnlyList<AccessRequest> required)
    {
        // Distribution's detail: the access records the request needed.
        object? detail = required.Count == 0
            ? null
            : required.SelectMany(r => r.Actions.Select(action => new { r.Type, Class = "", r.Name, Action = action })).ToArray();
        switch (decision.Outcome)
        {
            case AccessOutcome.Denied:
                return new RegistryException(ErrorCode.Denied, decision.Reason ?? ErrorCode.Denied.Message, detail);
            case AccessOutcome.Throttled:
                var seconds = (long)Math.Ceiling(Math.Max(1, decision.RetryAfter?.TotalSeconds ?? 1));
                return new RegistryException(ErrorCode.TooManyRequests, decision.Reason ?? ErrorCode.TooManyRequests.Message)
                {
                    Headers = new Dictionary<string, string> { ["Retry-After"] = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                };
            default:
                return new RegistryException(ErrorCode.Unauthorized, decision.Reason ?? ErrorCode.Unauthorized.Message, detail)
                {
                    Headers = decision.Challenge is null ? null : new Dictionary<string, string> { ["WWW-Authenticate"] = decision.Challenge },
                };
        }
    }

    /// <summary>
    /// True when a failure means the client disconnected: the request was aborted, or reading its
    /// body failed because the connection was reset. The abort flag is often not yet set when the
    /// body read fails, so the exception type has to be consulted too.
    /// </summary>
    private static bool IsClientGone(HttpContext context, Exception ex) =>
        context.RequestAborted.IsCancellationRequested
        || ex is Microsoft.AspNetCore.Connections.ConnectionResetException
        || ex.InnerException is Microsoft.AspNetCore.Connections.ConnectionResetException;

    private static RegistryException MethodNotAllowed(HttpContext context, RouteKind kind)
    {
        context.Response.Headers.Allow = kind switch
        {
            RouteKind.Manifest => "GET, HEAD, PUT, DELETE",
            RouteKind.Blob => "GET, HEAD, DELETE",
            RouteKind.UploadStart => "POST",
            RouteKind.Upload => "GET, PATCH, PUT, DELETE",
            _ => "GET, HEAD",
        };
        return new RegistryException(ErrorCode.Unsupported, $"method {context.Request.Method} is not allowed here")
        {
            Headers = new Dictionary<string, string> { ["Allow"] = context.Response.Headers.Allow.ToString() },
        };
    }

    private static async Task WriteEmptyJsonAsync(HttpContext context)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = 2;
        if (HttpMethods.IsGet(context.Request.Method))
        {
            await context.Response.Body.WriteAsync("{}"u8.ToArray(), context.RequestAborted);
        }
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug, Message = "Client went away during {Method} {Path}")]
    private static partial void LogClientGone(ILogger logger, string method, PathString path);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Unhandled error in {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, PathString path);
}
