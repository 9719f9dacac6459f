using System.Collections.Concurrent;
using System.Diagnostics;
using Berth.Storage.Drivers;

namespace Berth.Storage.Tests.Drivers;

/// <summary>
/// The spans <see cref="ValidatingDriver"/> starts: one per driver call, a child of the caller's activity, and the
/// caller's activity current again once the call returns, whether the inner driver answered at once or later.
/// </summary>
public sealed class StorageTracingTests : IDisposable
{
    private const string RequestsSourceName = "Berth.Storage.Tests.Requests";
    private static readonly ActivitySource Requests = new(RequestsSourceName);
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public StorageTracingTests()
    {
        _listener = new ActivityListener
        {
            // By name: comparing with the static field would create the source inside this callback on first use,
            // before the listener is registered, and the source would go unheard.
            ShouldListenTo = source => source.Name is StorageTracing.ActivitySourceName or RequestsSourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Calls_AreChildSpansOfTheCaller_AndLeaveTheCallerCurrent(bool innerCompletesLater)
    {
        IStorageDriver inner = new InMemoryDriver();
        if (innerCompletesLater)
        {
            inner = new LaterDriver(inner);
        }

        var driver = new ValidatingDriver(inner);
        using var request = Requests.StartActivity("request");
        Assert.NotNull(request);

        await driver.PutContentAsync("/a/link", "sha256:x"u8.ToArray(), CancellationToken.None);
        Assert.Same(request, Activity.Current);
        await driver.GetContentAsync("/a/link", 1024, CancellationToken.None);
        Assert.Same(request, Activity.Current);
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => driver.StatAsync("/a/missing", CancellationToken.None));
        Assert.Same(request, Activity.Current);

        // Started before the first finishes: siblings, not one inside the other.
        var first = driver.GetContentAsync("/a/link", 1024, CancellationToken.None);
        var second = driver.StatAsync("/a/link", CancellationToken.None);
        await Task.WhenAll(first, second);
        Assert.Same(request, Activity.Current);

        var spans = _stopped.Where(s => s.TraceId == request.TraceId && s.Source.Name == StorageTracing.ActivitySourceName).ToList();
        Assert.Equal(
            new[] { "storage.get_content", "storage.get_content", "storage.put_content", "storage.stat", "storage.stat" },
            spans.Select(s => s.DisplayName).Order(StringComparer.Ordinal));
        Assert.All(spans, s =>
        {
            Assert.Equal(request.SpanId, s.ParentSpanId);
            Assert.Equal(ActivityKind.Internal, s.Kind);
            Assert.Equal(inner.Name, s.GetTagItem(StorageTracing.DriverAttribute));
            Assert.Equal(ActivityStatusCode.Unset, s.Status);
        });
        var missing = Assert.Single(spans, s => (string?)s.GetTagItem(StorageTracing.PathAttribute) == "/a/missing");
        Assert.Equal(true, missing.GetTagItem(StorageTracing.NotFoundAttribute));
    }

    [Fact]
    public async Task FailedCall_HasErrorStatus()
    {
        var driver = new ValidatingDriver(new LaterDriver(new InMemoryDriver()));
        using var request = Requests.StartActivity("request");
        Assert.NotNull(request);

        // Larger than the caller accepts: a failure, not a "not found".
        await driver.PutContentAsync("/big/object", new byte[64], CancellationToken.None);
        await Assert.ThrowsAsync<StorageObjectTooLargeException>(() => driver.GetContentAsync("/big/object", 16, CancellationToken.None));

        var failed = Assert.Single(_stopped, s => s.TraceId == request.TraceId && s.DisplayName == "storage.get_content");
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
        Assert.NotNull(failed.GetTagItem("error.type"));
    }

    /// <summary>Answers every call after a yield, as a network driver does, so the decorator takes its asynchronous path.</summary>
    private sealed class LaterDriver(IStorageDriver inner) : IStorageDriver
    {
        public string Name => inner.Name;

        public async Task<byte[]> GetContentAsync(string path, int maxBytes, CancellationToken cancellationToken)
        {
            await Task.Yield();
            return await inner.GetContentAsync(path, maxBytes, cancellationToken);
        }

        public async Task PutContentAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
        {
            await Task.Yield();
            await inner.PutContentAsync(path, content, cancellationToken);
        }

        public async Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken)
        {
            await Task.Yield();
            return await inner.OpenReadAsync(path, offset, cancellationToken);
        }

        public async Task<StorageWriter> OpenWriteAsync(string path, bool append, CancellationToken cancellationToken)
        {
            await Task.Yield();
            return await inner.OpenWriteAsync(path, append, cancellationToken);
        }

        public async Task<StorageWriter> CreateAsync(string path, CancellationToken cancellationToken)
        {
            await Task.Yield();
            return await inner.CreateAsync(path, cancellationToken);
        }

        public async Task<StorageFileInfo> StatAsync(string path, CancellationToken cancellationToken)
        {
            await Task.Yield();
            return await inner.StatAsync(path, cancellationToken);
        }

        public async Task<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken)
        {
            await Task.Yield();
            return await inner.ListAsync(path, cancellationToken);
        }

        public async Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
        {
            await Task.Yield();
            await inner.MoveAsync(sourcePath, destinationPath, cancellationToken);
        }

        public async Task DeleteAsync(string path, CancellationToken cancellationToken)
        {
            await Task.Yield();
            await inner.DeleteAsync(path, cancellationToken);
        }

        public async Task<Uri?> RedirectUriAsync(string path, string method, CancellationToken cancellationToken)
        {
            await Task.Yield();
            return await inner.RedirectUriAsync(path, method, cancellationToken);
        }
    }
}
