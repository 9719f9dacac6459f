using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Berth.Server.Configuration;

/// <summary>
/// The <c>REGISTRY_*</c> variables arranged as a tree of key paths, so the binder can look up the override for
/// the key it is reading: <c>REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY</c> becomes STORAGE → FILESYSTEM →
/// ROOTDIRECTORY. Segments match configuration keys case-insensitively.
/// </summary>
/// <remarks>
/// Distribution applies the variables in name order, so <c>REGISTRY_STORAGE=s3</c> replaces the storage section
/// before <c>REGISTRY_STORAGE_S3_BUCKET</c> fills it in. Resolving each key against this tree top-down gives the
/// same result: a variable on a section replaces the file's section, and the variables below it then apply to
/// the replacement.
/// </remarks>
internal sealed class EnvironmentOverride
{
    /// <summary>The variable that is read to find the configuration file; it is not a configuration key.</summary>
    public const string ConfigurationPathVariable = "REGISTRY_CONFIGURATION_PATH";

    private const string Prefix = "REGISTRY_";

    private readonly Dictionary<string, EnvironmentOverride> _children = new(StringComparer.OrdinalIgnoreCase);
    private readonly EnvironmentOverride? _parent;

    private EnvironmentOverride(EnvironmentOverride? parent, string segment)
    {
        _parent = parent;
        Segment = segment;
    }

    /// <summary>The key segment as written in the variable name (upper case by convention).</summary>
    public string Segment { get; }

    /// <summary>The variable that sets this exact path, or null when only deeper paths are set.</summary>
    public string? Variable { get; private set; }

    /// <summary>The variable's value parsed as YAML; null when <see cref="Variable"/> is null.</summary>
    public YamlNode? Value { get; private set; }

    /// <summary>The override beneath this one for <paramref name="key"/>, compared case-insensitively.</summary>
    public EnvironmentOverride? Child(string key) => _children.GetValueOrDefault(key);

    /// <summary>The overrides beneath this one.</summary>
    public IEnumerable<EnvironmentOverride> Children => _children.Values;

    /// <summary>True once the binder has read the key this variable sets.</summary>
    public bool Used { get; private set; }

    /// <summary>Marks this variable as applied.</summary>
    public void MarkUsed() => Used = true;

    /// <summary>Marks this variable and every one beneath it as handled (used for sections Berth ignores).</summary>
    public void MarkAllUsed()
    {
        Used = true;
        foreach (var child in _children.Values)
        {
            child.MarkAllUsed();
        }
    }

    /// <summary>The dotted configuration key this override addresses, lower-cased like the schema.</summary>
    public string Key
    {
        get
        {
            var segments = new Stack<string>();
            for (var node = this; node?._parent is not null; node = node._parent)
            {
                segments.Push(node.Segment.ToLowerInvariant());
            }

            return string.Join('.', segments);
        }
    }

    /// <summary>
    /// Builds the tree from every variable named <c>REGISTRY_&lt;PATH&gt;</c>. The prefix must be upper case,
    /// as in Distribution; the path segments may be in any case.
    /// </summary>
    public static EnvironmentOverride FromEnvironment(IReadOnlyDictionary<string, string> environment, ICollection<string> warnings)
    {
        var root = new EnvironmentOverride(null, string.Empty);

        // Name order makes the outcome deterministic when two variables differ only in case.
        foreach (var (name, value) in environment.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            if (!name.StartsWith(Prefix, StringComparison.Ordinal) || name == ConfigurationPathVariable)
            {
                continue;
            }

            var segments = name[Prefix.Length..].Split('_');
            if (segments.Any(string.IsNullOrEmpty))
            {
                warnings.Add($"{name}: ignored; the name has an empty key segment (use a single '_' between keys)");
                continue;
            }

            var node = root;
            foreach (var segment in segments)
            {
                if (!node._children.TryGetValue(segment, out var child))
                {
                    child = new EnvironmentOverride(node, segment);
                    node._children.Add(segment, child);
                }

                node = child;
            }

            if (node.Variable is not null)
            {
                warnings.Add($"{node.Variable}: ignored; {name} sets the same key");
            }

            node.Variable = name;
            node.Value = ParseValue(value);
        }

        return root;
    }

    /// <summary>Adds a warning for every variable the binder never read: it names no configuration key.</summary>
    public void ReportUnused(ICollection<string> warnings)
    {
        if (Variable is not null && !Used)
        {
            warnings.Add($"{Variable}: ignored; '{Key}' is not a configuration key Berth reads at that position");
        }

        foreach (var child in _children.Values)
        {
            child.ReportUnused(warnings);
        }
    }

    /// <summary>
    /// Parses a variable's value as a YAML document, as Distribution does, so <c>true</c> is a boolean and
    /// <c>[a, b]</c> a list. Text that is not valid YAML (a password such as <c>*secret</c> or <c>%abc</c>) is
    /// kept verbatim as a string rather than failing start-up: no other reading of it makes sense.
    /// </summary>
    private static YamlNode ParseValue(string value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return new YamlScalarNode(string.Empty);
        }

        try
        {
            var stream = new YamlStream();
            using var reader = new StringReader(value);
            stream.Load(reader);
            return stream.Documents.Count == 0 ? new YamlScalarNode(string.Empty) : stream.Documents[0].RootNode;
        }
        catch (YamlException)
        {
            return new YamlScalarNode(value) { Style = ScalarStyle.DoubleQuoted };
        }
    }
}
