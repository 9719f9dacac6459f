using System.Collections.ObjectModel;

namespace Berth.Server.Configuration;

/// <summary><c>log</c>: logging.</summary>
public sealed record LogOptions
{
    internal static readonly IReadOnlyList<string> Levels = ["error", "warn", "info", "debug"];
    internal static readonly IReadOnlyList<string> Formatters = ["text", "json", "logstash"];

    /// <summary><c>log.level</c>: error, warn, info (default) or debug.</summary>
    public string Level { get; init; } = "info";

    /// <summary><c>log.formatter</c>: text (default), json or logstash.</summary>
    public string Formatter { get; init; } = "text";

    /// <summary><c>log.fields</c>: static fields added to every log entry (for example <c>service: registry</c>).</summary>
    public IReadOnlyDictionary<string, string> Fields { get; init; } = ReadOnlyDictionary<string, string>.Empty;

    /// <summary><c>log.accesslog</c>.</summary>
    public AccessLogOptions AccessLog { get; init; } = new();

    /// <summary><c>log.reportcaller</c>: include the calling method in log entries.</summary>
    public bool ReportCaller { get; init; }

    internal static LogOptions Read(SectionReader section, string? legacyLevel)
    {
        var defaults = new LogOptions();
        section.Ignore("hooks", "log hooks (e-mail alerts) are not supported by Berth");
        return new LogOptions
        {
            Level = section["level"].AsChoice(Levels) ?? legacyLevel ?? defaults.Level,
            Formatter = section["formatter"].AsChoice(defaults.Formatter, Formatters),
            Fields = section["fields"].AsMap(value => value.AsString() ?? string.Empty),
            AccessLog = section["accesslog"].AsSection(AccessLogOptions.Read),
            ReportCaller = section["reportcaller"].AsBool(),
        };
    }
}

/// <summary><c>log.accesslog</c>.</summary>
public sealed record AccessLogOptions
{
    /// <summary><c>log.accesslog.disabled</c>: turn off the per-request access log.</summary>
    public bool Disabled { get; init; }

    internal static AccessLogOptions Read(SectionReader section) =>
        new() { Disabled = section["disabled"].AsBool() };
}
