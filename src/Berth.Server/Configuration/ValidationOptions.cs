using System.Text.RegularExpressions;

namespace Berth.Server.Configuration;

/// <summary><c>validation</c>: extra checks on pushed manifests.</summary>
public sealed record ValidationOptions
{
    /// <summary>
    /// Whether the checks below apply: <c>validation.enabled</c> (deprecated) or, when that is false, the opposite
    /// of <c>validation.disabled</c>, the way Distribution resolves the two.
    /// </summary>
    public bool Enabled { get; init; } = true;

    /// <summary><c>validation.manifests</c>.</summary>
    public ManifestValidationOptions Manifests { get; init; } = new();

    internal static ValidationOptions Read(SectionReader section)
    {
        var enabledValue = section["enabled"];
        if (enabledValue.IsSet)
        {
            enabledValue.Warn("deprecated; use validation.disabled");
        }

        var enabled = enabledValue.AsBool();
        var disabled = section["disabled"].AsBool();
        return new ValidationOptions
        {
            Enabled = enabled || !disabled,
            Manifests = section["manifests"].AsSection(ManifestValidationOptions.Read),
        };
    }
}

/// <summary><c>validation.manifests</c>.</summary>
public sealed record ManifestValidationOptions
{
    /// <summary><c>validation.manifests.urls</c>.</summary>
    public UrlValidationOptions Urls { get; init; } = new();

    /// <summary><c>validation.manifests.indexes</c>.</summary>
    public IndexValidationOptions Indexes { get; init; } = new();

    internal static ManifestValidationOptions Read(SectionReader section) => new()
    {
        Urls = section["urls"].AsSection(UrlValidationOptions.Read),
        Indexes = section["indexes"].AsSection(IndexValidationOptions.Read),
    };
}

/// <summary><c>validation.manifests.urls</c>: rules for foreign-layer URLs in pushed manifests.</summary>
public sealed record UrlValidationOptions
{
    /// <summary><c>allow</c>: regular expressions every URL must match; empty allows none.</summary>
    public IReadOnlyList<string> Allow { get; init; } = [];

    /// <summary><c>deny</c>: regular expressions no URL may match.</summary>
    public IReadOnlyList<string> Deny { get; init; } = [];

    internal static UrlValidationOptions Read(SectionReader section) => new()
    {
        Allow = ReadPatterns(section["allow"]),
        Deny = ReadPatterns(section["deny"]),
    };

    // A pattern that does not compile would otherwise fail on the first push instead of at start-up.
    private static IReadOnlyList<string> ReadPatterns(ConfigValue value) =>
        value.AsList(item =>
        {
            var pattern = item.AsRequiredString("a pattern must not be empty");
            try
            {
                _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException exception)
            {
                throw item.Invalid($"not a valid regular expression: {exception.Message}");
            }

            return pattern;
        });
}

/// <summary><c>validation.manifests.indexes</c>: require that image indexes point at manifests the registry has.</summary>
public sealed record IndexValidationOptions
{
    internal static readonly IReadOnlyList<string> PlatformModes = ["all", "none", "list"];

    /// <summary><c>platforms</c>: all, none (default) or list (only <see cref="PlatformList"/>).</summary>
    public string Platforms { get; init; } = "none";

    /// <summary><c>platformlist</c>: the platforms checked when <see cref="Platforms"/> is list.</summary>
    public IReadOnlyList<PlatformOptions> PlatformList { get; init; } = [];

    internal static IndexValidationOptions Read(SectionReader section)
    {
        var defaults = new IndexValidationOptions();
        return new IndexValidationOptions
        {
            Platforms = section["platforms"].AsChoice(defaults.Platforms, PlatformModes),
            PlatformList = section["platformlist"].AsList(platform => platform.AsSection(PlatformOptions.Read)),
        };
    }
}

/// <summary>One <c>validation.manifests.indexes.platformlist</c> item.</summary>
public sealed record PlatformOptions
{
    /// <summary><c>architecture</c> (for example amd64).</summary>
    public string? Architecture { get; init; }

    /// <summary><c>os</c> (for example linux).</summary>
    public string? Os { get; init; }

    internal static PlatformOptions Read(SectionReader section) => new()
    {
        Architecture = section["architecture"].AsString(),
        Os = section["os"].AsString(),
    };
}
