using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Berth.Api.Tests.Infrastructure;

/// <summary>One log call captured from the server.</summary>
public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception,
    IReadOnlyList<KeyValuePair<string, object?>> State)
{
    public object? Value(string key) => State.FirstOrDefault(p => p.Key == key).Value;

    public override string ToString() => $"{Level} {Category}[{EventId.Id}] {Message}{(Exception is null ? "" : " " + Exception.GetType().Name + ": " + Exception.Message)}";
}

/// <summary>
/// A logger provider added to the running host's <see cref="ILoggerFactory"/>: it sees whatever the
/// host's own filters let through (<c>log.level</c>), alongside the console provider.
/// </summary>
public sealed class LogCollector : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyCollection<LogEntry> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), exception, Snapshot(state)));

        /// <summary>Copies the structured values now: some states (ASP.NET Core's request logs) read the request lazily.</summary>
        private static List<KeyValuePair<string, object?>> Snapshot<TState>(TState state) =>
            state is IEnumerable<KeyValuePair<string, object?>> values
                ? [.. values.Select(p => new KeyValuePair<string, object?>(p.Key, p.Value?.ToString()))]
                : [];
    }
}
