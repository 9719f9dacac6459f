using System.Collections;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Berth.Server.Configuration;

/// <summary>
/// Loads the registry configuration the way Distribution's <c>registry serve</c> does: a <c>config.yml</c> in
/// Distribution's schema, then <c>REGISTRY_*</c> environment variables on top.
/// </summary>
/// <remarks>
/// <para>Where the file comes from: the <c>path</c> argument, else <c>REGISTRY_CONFIGURATION_PATH</c>, else no file
/// at all (the built-in defaults: listen on <c>:5000</c>, filesystem storage at <c>/var/lib/registry</c>).</para>
/// <para>A variable <c>REGISTRY_A_B_C</c> overrides key <c>a.b.c</c>: one <c>_</c> between levels, key names matched
/// case-insensitively, the value parsed as YAML (so <c>true</c>, <c>5</c> and <c>[a, b]</c> are typed). A variable
/// for a whole section replaces it: <c>REGISTRY_STORAGE=s3</c> discards the file's storage section, after which
/// <c>REGISTRY_STORAGE_S3_BUCKET=...</c> fills in the new one. A numeric segment addresses a list item.</para>
/// <para>Unknown keys and variables produce warnings; invalid values throw <see cref="ConfigurationException"/>
/// naming the key.</para>
/// </remarks>
public static class ConfigurationLoader
{
    /// <summary>Loads the configuration using the process's environment variables.</summary>
    /// <param name="path">The configuration file, or null to use <c>REGISTRY_CONFIGURATION_PATH</c> or the defaults.</param>
    /// <exception cref="ConfigurationException">The file cannot be read or a value is invalid.</exception>
    public static ConfigurationLoadResult Load(string? path) => Load(path, ReadProcessEnvironment());

    /// <summary>Loads the configuration.</summary>
    /// <param name="path">The configuration file, or null to use <c>REGISTRY_CONFIGURATION_PATH</c> or the defaults.</param>
    /// <param name="environment">The environment variables; only <c>REGISTRY_*</c> and <c>OTEL_*</c> ones are read.</param>
    /// <exception cref="ConfigurationException">The file cannot be read or a value is invalid.</exception>
    public static ConfigurationLoadResult Load(string? path, IReadOnlyDictionary<string, string> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);

        if (string.IsNullOrEmpty(path)
            && environment.TryGetValue(EnvironmentOverride.ConfigurationPathVariable, out var pathFromEnvironment)
            && !string.IsNullOrEmpty(pathFromEnvironment))
        {
            path = pathFromEnvironment;
        }

        path = string.IsNullOrEmpty(path) ? null : path;
        var context = new BindingContext(path is null ? null : Path.GetFileName(path));
        var document = path is null ? null : ReadFile(path, context);

        var overrides = EnvironmentOverride.FromEnvironment(environment, context.Warnings);
        var root = new ConfigValue(context, key: string.Empty, document, variable: null, overrides);
        var configuration = root.AsSection(RegistryConfiguration.Read);
        overrides.ReportUnused(context.Warnings);

        // Tracing is set with OpenTelemetry's own OTEL_* variables, as in Distribution 3, not with config.yml keys.
        configuration = configuration with { Tracing = TracingOptions.FromEnvironment(environment, context.Warnings) };

        return new ConfigurationLoadResult(configuration, context.Warnings, path) { KeysRead = context.KeysRead };
    }

    /// <summary>Parses the file into YAML nodes and checks its version, which decides how the rest is read.</summary>
    private static YamlMappingNode ReadFile(string path, BindingContext context)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new ConfigurationException($"cannot read the configuration file '{path}': {exception.Message}", exception);
        }

        var document = ParseYaml(text, context);
        var version = new ConfigValue(context, "version", document.Children.TryGetValue(new YamlScalarNode("version"), out var versionNode) ? versionNode : null, variable: null, overrides: null);
        var versionText = version.AsString()
            ?? throw version.Invalid($"required; the file must start with 'version: {RegistryConfiguration.SupportedVersion}'");
        if (versionText != RegistryConfiguration.SupportedVersion)
        {
            throw version.Invalid($"unsupported configuration version '{versionText}'; the supported version is {RegistryConfiguration.SupportedVersion}");
        }

        return document;
    }

    private static YamlMappingNode ParseYaml(string text, BindingContext context)
    {
        var stream = new YamlStream();
        try
        {
            using var reader = new StringReader(text);

            // Distribution's YAML library honours merge keys (`<<: *defaults`); YamlDotNet does only when asked.
            stream.Load(new MergingParser(new Parser(reader)));
        }
        catch (YamlException exception)
        {
            var innermost = exception.InnerException as YamlException ?? exception;
            throw new ConfigurationException($"{context.FileName} line {innermost.Start.Line}: invalid YAML: {innermost.Message}", exception);
        }
        catch (ArgumentException exception)
        {
            // YamlDotNet reports a key that appears twice in one mapping this way.
            throw new ConfigurationException($"{context.FileName}: invalid YAML: {exception.Message}", exception);
        }
        catch (InvalidOperationException exception)
        {
            // And a flow collection ({...} or [...]) still open at the end of the file this way, without a position.
            throw new ConfigurationException(
                $"{context.FileName}: invalid YAML: {exception.Message} (a {{...}} or [...] not closed before the end of the file reads this way)", exception);
        }

        if (stream.Documents.Count > 1)
        {
            context.Warnings.Add($"{context.FileName}: only the first of {stream.Documents.Count} YAML documents is read");
        }

        return stream.Documents.Count == 0 || ConfigValue.IsNull(stream.Documents[0].RootNode)
            ? new YamlMappingNode()
            : stream.Documents[0].RootNode as YamlMappingNode
                ?? throw new ConfigurationException($"{context.FileName}: the configuration must be a YAML mapping of keys to values");
    }

    private static Dictionary<string, string> ReadProcessEnvironment()
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && entry.Value is string value)
            {
                environment[name] = value;
            }
        }

        return environment;
    }
}
