namespace Berth.Server.Configuration;

/// <summary><c>log</c>: logging.</summary>
public sealed record LogOptions
{
    internal static readonly IReadOnlyList<string> Levels = ["error", "warn", "info", "debug"];
    internal static readonly IReadOnlyList<string> Formatters = ["text", "json", "logstash"];

    /// <summary><c>log.level</c>: error, warn, info (default) or debug.</summary>
    public string Level { get; init; } = "info";

    /// <summary><c>log.formatter</c>: text (default) or json; registry:2's logstash is read as json, with a warning.</summary>
    public string Formatter { get; init; } = "text";

    /// <summary><c>log.accesslog</c>.</summary>
    public AccessLogOptions AccessLog { get; init; } = new();

    internal static LogOptions Read(SectionReader section, string? legacyLevel)
    {
        var defaults = new LogOptions();
        section.Ignore("hooks", "log hooks (e-mail alerts) are not supported by Berth");
        section.Ignore("fields", "Berth's log entries carry no static fields");
        section.Ignore("reportcaller", "Berth's log entries do not name the calling function");

        var formatterValue = section["formatter"];
        var formatter = formatterValue.AsChoice(defaults.Formatter, Formatters);
        if (formatter == "logstash")
        {
            // One JSON object per line is what a logstash pipeline parses; only the field layout differs.
            formatterValue.Warn("Berth has no logstash layout and writes its JSON lines instead (log.formatter: json)");
            formatter = "json";
        }

        return new LogOptions
        {
            Level = section["level"].AsChoice(Levels) ?? legacyLevel ?? defaults.Level,
            Formatter = formatter,
            AccessLog = section["accesslog"].AsSection(AccessLogOptions.Read),
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
