using System.Text.RegularExpressions;

namespace Berth.Storage.Drivers;

/// <summary>
/// Wraps every driver: rejects any path that is not absolute, <c>/</c>-separated and made of
/// <c>[A-Za-z0-9._-]</c> components (no <c>.</c> or <c>..</c> components), so no implementation
/// ever sees a path that could leave its root; and records each call's latency and failures
/// (<see cref="StorageMetrics"/>).
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
        return MeasureAsync("get_content", () => Inner.GetContentAsync(path, maxBytes, cancellationToken));
    }

    public Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasureAsync("put_content", () => Inner.PutContentAsync(path, content, cancellationToken));
    }

    public Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return MeasureAsync("open_read", () => Inner.OpenReadAsync(path, offset, cancellationToken));
    }

    public Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasureAsync("open_write", () => Inner.OpenWriteAsync(path, append, cancellationToken));
    }

    public Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasureAsync("stat", () => Inner.StatAsync(path, cancellationToken));
    }

    public Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken)
    {
        if (path != "/")
        {
            ValidatePath(path);
        }

        return MeasureAsync("list", () => Inner.ListAsync(path, cancellationToken));
    }

    public Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        ValidatePath(sourcePath);
        ValidatePath(destinationPath);
        return MeasureAsync("move", () => Inner.MoveAsync(sourcePath, destinationPath, cancellationToken));
    }

    public Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasureAsync("delete", () => Inner.DeleteAsync(path, cancellationToken));
    }

    public Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken)
    {
        ValidatePath(path);
        return MeasureAsync("redirect_url", () => Inner.RedirectUriAsync(path, method, cancellationToken));
    }

    private async Task<T> MeasureAsync<T>(string operation, Func<Task<T>> call)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var failed = false;
        try
        {
            return await call();
        }
        catch (Exception ex) when (ex is not StoragePathNotFoundException)
        {
            failed = true;
            throw;
        }
        finally
        {
            StorageMetrics.Record(Name, operation, started, failed);
        }
    }

    private async Task MeasureAsync(string operation, Func<Task> call)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var failed = false;
        try
        {
            await call();
        }
        catch (Exception ex) when (ex is not StoragePathNotFoundException)
        {
            failed = true;
            throw;
        }
        finally
        {
            StorageMetrics.Record(Name, operation, started, failed);
        }
    }

    [GeneratedRegex(@"^(/[A-Za-z0-9._-]+)+\z", RegexOptions.CultureInvariant)]
    private static partial Regex PathGrammar();
}
