using Berth.Api.Endpoints;
using Berth.Core.Errors;
using Berth.Storage.Drivers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Berth.Api;

/// <summary>
/// The one handler behind <c>/v2</c>: parses the path, dispatches by resource and method, and is
/// the single place where failures become OCI error bodies. A client that went away is not an
/// error of ours, and nothing internal (paths, stack traces) reaches a response.
/// </summary>
public sealed partial class RegistryDispatcher(
    BlobEndpoints blobEndpoints,
    UploadEndpoints uploadEndpoints,
    ManifestEndpoints manifestEndpoints,
    ListingEndpoints listingEndpoints,
    ILogger<RegistryDispatcher> logger)
{
    public async Task HandleAsync(HttpContext context)
    {
        context.Response.Headers[RegistryHeaders.ApiVersion] = RegistryHeaders.ApiVersionValue;
        var route = RegistryRoute.Parse(context.Request.Path.Value ?? "");
        try
        {
            await DispatchAsync(context, route);
        }
        catch (RegistryException ex)
        {
            await ErrorResponses.WriteAsync(context, ex.Code, ex.Message, ex.Detail, ex.Headers);
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            LogClientGone(logger, context.Request.Method, context.Request.Path);
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
            RouteKind.Upload when HttpMethods.IsGet(method) => uploadEndpoints.GetStatusAsync(context, route),
            RouteKind.Upload when HttpMethods.IsDelete(method) => uploadEndpoints.CancelAsync(context, route),
            RouteKind.NotFound => throw ErrorCode.NotFound.With(),
            _ => throw MethodNotAllowed(context, route.Kind),
        };
    }

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
