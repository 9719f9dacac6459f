using System.Diagnostics;

namespace Berth.Storage;

/// <summary>
/// The storage layer's spans (activity source <c>Berth.Storage</c>): one per driver call, named
/// <c>storage.&lt;operation&gt;</c>, started by <see cref="Drivers.ValidatingDriver"/>. The attribute names are
/// Distribution 3's, so queries written for its traces find Berth's.
/// </summary>
public static class StorageTracing
{
    public const string ActivitySourceName = "Berth.Storage";

    /// <summary>The driver's name (filesystem, s3, azure, inmemory).</summary>
    public const string DriverAttribute = "io.cncf.distribution.storage.driver.name";

    /// <summary>The storage path the call is about (for a move, the source).</summary>
    public const string PathAttribute = "io.cncf.distribution.storage.path";

    /// <summary>True when the call answered "not found", which is an answer, not a failure.</summary>
    public const string NotFoundAttribute = "berth.storage.not_found";

    private static readonly ActivitySource Source = new(ActivitySourceName);

    /// <summary>Starts the span of one call, or returns null when nobody listens or the trace is not sampled.</summary>
    internal static Activity? Start(string operation, string driver, string path)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var span = Source.StartActivity(SpanName(operation), ActivityKind.Internal);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag(DriverAttribute, driver);
            span.SetTag(PathAttribute, path);
        }

        return span;
    }

    /// <summary>Ends the span of a completed call: an error status for a failure, a tag for "not found".</summary>
    internal static void Stop(Activity? span, Task completed, bool failed)
    {
        if (span is null)
        {
            return;
        }

        if (failed)
        {
            var error = completed.Exception?.InnerException;
            span.SetStatus(ActivityStatusCode.Error, completed.IsCanceled ? "canceled" : error?.GetType().Name);
            span.SetTag("error.type", completed.IsCanceled ? "canceled" : error?.GetType().FullName);
        }
        else if (completed.Exception?.InnerException is Drivers.StoragePathNotFoundException)
        {
            span.SetTag(NotFoundAttribute, true);
        }

        span.Stop();
    }

    // Constant names: building "storage." + operation per call would allocate even for unsampled requests.
    private static string SpanName(string operation) => operation switch
    {
        "get_content" => "storage.get_content",
        "put_content" => "storage.put_content",
        "open_read" => "storage.open_read",
        "open_write" => "storage.open_write",
        "create" => "storage.create",
        "stat" => "storage.stat",
        "list" => "storage.list",
        "move" => "storage.move",
        "delete" => "storage.delete",
        "delete_file" => "storage.delete_file",
        "list_files" => "storage.list_files",
        "redirect_url" => "storage.redirect_url",
        _ => "storage." + operation,
    };
}
