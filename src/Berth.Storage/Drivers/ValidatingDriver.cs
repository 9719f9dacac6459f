using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Berth.Storage.Drivers;

/// <summary>
/// Wraps every driver: rejects any path that is not absolute, <c>/</c>-separated and made of
/// <c>[A-Za-z0-9._-]</c> components (no <c>.</c> or <c>..</c> components), so no implementation
/// ever sees a path that could leave its root; and records each call's latency and failures
/// (<see cref="StorageMetrics"/>) and, when traced, one span per call (<see cref="StorageTracing"/>): one wrapper,
/// as Distribution's base driver, so that every driver is validated, measured and traced the same way.
/// </summary>
public sealed partial class ValidatingDriver(IStorageDriver inner) : IStorageDriver
{
    public IStorageDriver Inner { get; } = inner;

    public string Name => Inner.Name;

    public static void ValidatePath(string path)
    {
        if (path.Length > 4096 || !PathGrammar().IsMatch(path) || path.Contains("/./", StringComparison.Ordinal)
            || path.Contains("/../", StringComparison.Ordinal) || path.EndsWith("/..", StringComparison.Ordinal)
            || path.EndsWith("/.", StringComparison.Ordinal))
        {
            throw new InvalidStoragePathException(path);
        }
    }

    public Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasuredAsync("get_content", path, () => Inner.GetContentAsync(path, maxBytes, cancellationToken));
    }

    public Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasuredAsync("put_content", path, () => Inner.PutContentAsync(path, content, cancellationToken));
    }

    public Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return MeasuredAsync("open_read", path, () => Inner.OpenReadAsync(path, offset, cancellationToken));
    }

    public Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasuredAsync("open_write", path, () => Inner.OpenWriteAsync(path, append, cancellationToken));
    }

    public Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasuredAsync("create", path, () => Inner.CreateAsync(path, cancellationToken));
    }

    public Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasuredAsync("stat", path, () => Inner.StatAsync(path, cancellationToken));
    }

    public Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken)
    {
        if (path != "/")
        {
            ValidatePath(path);
        }

        return MeasuredAsync("list", path, () => Inner.ListAsync(path, cancellationToken));
    }

    public Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        ValidatePath(sourcePath);
        ValidatePath(destinationPath);
        return MeasuredAsync("move", sourcePath, () => Inner.MoveAsync(sourcePath, destinationPath, cancellationToken));
    }

    public Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasuredAsync("delete", path, () => Inner.DeleteAsync(path, cancellationToken));
    }

    public Task<bool> DeleteFileAsync(string path, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasuredAsync("delete_file", path, () => Inner.DeleteFileAsync(path, cancellationToken));
    }

    public Task<IReadOnlyList<StorageFileInfo>> ListFilesAsync(string path, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasuredAsync("list_files", path, () => Inner.ListFilesAsync(path, cancellationToken));
    }

    public Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasuredAsync("redirect_url", path, () => Inner.RedirectUriAsync(path, method, cancellationToken));
    }

    // Most filesystem calls complete synchronously (a stat, a small read); those are recorded without an async state
    // machine, which the catalog's thousands of stats per listing would otherwise pay for.
    // One span per call (storage.<operation>) when a tracer listens to Berth.Storage; without one, StartActivity is a
    // check of a field and returns null, so an untraced registry pays nothing more than before.
    private Task<T> MeasuredAsync<T>(string operation, string path, Func<Task<T>> call)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var parent = Activity.Current;
        var span = StorageTracing.Start(operation, Name, path);
        Task<T> task;
        try
        {
            task = call();
        }
        catch (Exception ex)
        {
            task = Task.FromException<T>(ex);
        }

        if (!task.IsCompleted)
        {
            if (span is not null)
            {
                // The call goes on without this caller: the caller's next storage call is a sibling, not a child.
                Activity.Current = parent;
            }

            return MeasureAsync(operation, task, started, span);
        }

        var failed = IsFailure(task);
        StorageMetrics.Record(Name, operation, started, failed);
        StorageTracing.Stop(span, task, failed);
        return task;
    }

    private Task MeasuredAsync(string operation, string path, Func<Task> call)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var parent = Activity.Current;
        var span = StorageTracing.Start(operation, Name, path);
        Task task;
        try
        {
            task = call();
        }
        catch (Exception ex)
        {
            task = Task.FromException(ex);
        }

        if (!task.IsCompleted)
        {
            if (span is not null)
            {
                Activity.Current = parent;
            }

            return MeasureAsync(operation, task, started, span);
        }

        var failed = IsFailure(task);
        StorageMetrics.Record(Name, operation, started, failed);
        StorageTracing.Stop(span, task, failed);
        return task;
    }

    private static bool IsFailure(Task completed) =>
        completed.IsCanceled || completed.Exception is { InnerException: not StoragePathNotFoundException };

    // The task was started by MeasuredAsync a moment ago, on this request's flow; there is no context to deadlock on.
#pragma warning disable VSTHRD003
    private async Task<T> MeasureAsync<T>(string operation, Task<T> call, long started, Activity? span)
    {
        var failed = false;
        try
        {
            return await call;
        }
        catch (Exception ex) when (ex is not StoragePathNotFoundException)
        {
            failed = true;
            throw;
        }
        finally
        {
            StorageMetrics.Record(Name, operation, started, failed);
            StorageTracing.Stop(span, call, failed);
        }
    }

    private async Task MeasureAsync(string operation, Task call, long started, Activity? span)
    {
        var failed = false;
        try
        {
            await call;
        }
        catch (Exception ex) when (ex is not StoragePathNotFoundException)
        {
            failed = true;
            throw;
        }
        finally
        {
            StorageMetrics.Record(Name, operation, started, failed);
            StorageTracing.Stop(span, call, failed);
        }
    }

#pragma warning restore VSTHRD003

    [GeneratedRegex(@"^(/[A-Za-z0-9._-]+)+\z", RegexOptions.CultureInvariant)]
    private static partial Regex PathGrammar();
}
