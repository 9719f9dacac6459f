namespace Berth.Server.Configuration;

/// <summary>The outcome of <see cref="ConfigurationLoader.Load(string?, IReadOnlyDictionary{string, string})"/>.</summary>
/// <param name="Configuration">The validated configuration, with defaults filled in.</param>
/// <param name="Warnings">
/// Problems that do not stop the registry (unknown keys, ignored variables, deprecated or unsupported settings),
/// for the caller to log once the logger is configured.
/// </param>
/// <param name="SourcePath">The file that was read, or null when only the built-in defaults were used.</param>
public sealed record ConfigurationLoadResult(
    RegistryConfiguration Configuration,
    IReadOnlyList<string> Warnings,
    string? SourcePath)
{
    /// <summary>The schema keys the binders asked for (see <see cref="BindingContext.KeysRead"/>), for tests.</summary>
    internal IReadOnlySet<string> KeysRead { get; init; } = new HashSet<string>();
}
