using Berth.Server.Configuration;
using Microsoft.Extensions.Logging.Console;

namespace Berth.Server.Diagnostics;

/// <summary>
/// Berth's console log as <c>log.level</c> and <c>log.formatter</c> say, for the server and the offline commands
/// (<c>garbage-collect</c>, <c>scrub</c>, <c>retention</c>) alike.
/// </summary>
internal static class ConsoleLogging
{
    /// <summary>
    /// Replaces the builder's providers with one console logger. With <paramref name="standardError"/> every entry goes
    /// to standard error: an offline command's standard output is its report, which scripts read.
    /// </summary>
    public static ILoggingBuilder AddBerthConsole(this ILoggingBuilder logging, LogOptions log, bool standardError)
    {
        logging.ClearProviders();
        if (string.Equals(log.Formatter, "json", StringComparison.OrdinalIgnoreCase))
        {
            logging.AddJsonConsole(o =>
            {
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.UseUtcTimestamp = true;
            });
        }
        else
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                o.UseUtcTimestamp = true;
            });
        }

        if (standardError)
        {
            logging.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        }

        var level = ParseLevel(log.Level);
        logging.SetMinimumLevel(level);
        // Kestrel and hosting chatter is operational noise unless asked for.
        logging.AddFilter("Microsoft", level <= LogLevel.Debug ? LogLevel.Information : LogLevel.Warning);
        return logging;
    }

    public static bool IsDebug(LogOptions log) => ParseLevel(log.Level) <= LogLevel.Debug;

    private static LogLevel ParseLevel(string level) => level.ToLowerInvariant() switch
    {
        "debug" => LogLevel.Debug,
        "info" => LogLevel.Information,
        "warn" or "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "fatal" or "panic" => LogLevel.Critical,
        "trace" => LogLevel.Trace,
        _ => LogLevel.Information,
    };
}
