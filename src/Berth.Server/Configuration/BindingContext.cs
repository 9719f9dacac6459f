using System.Text;
using YamlDotNet.RepresentationModel;

namespace Berth.Server.Configuration;

/// <summary>State shared by every <see cref="ConfigValue"/> of one load: the warnings, the file's name and the keys read.</summary>
internal sealed class BindingContext(string? fileName)
{
    private readonly HashSet<string> _keysRead = new(StringComparer.Ordinal);

    /// <summary>The configuration file's name for messages (<c>config.yml line 7</c>), or null without a file.</summary>
    public string? FileName { get; } = fileName;

    /// <summary>Problems that do not stop start-up, in the order they were found.</summary>
    public List<string> Warnings { get; } = [];

    /// <summary>
    /// Every schema key a binder asked for during this load, list items written <c>[]</c>
    /// (<c>notifications.endpoints[].url</c>). Keys that are names in a map (<c>log.fields.service</c>) are not
    /// schema keys and are left out. The binders are the schema, so this is what the documentation of the keys is
    /// checked against.
    /// </summary>
    public IReadOnlySet<string> KeysRead => _keysRead;

    /// <summary>Records that a binder asked for <paramref name="key"/> (a dotted key, list items numbered).</summary>
    public void RecordRead(string key) => _keysRead.Add(SchemaKey(key));

    /// <summary>Where a node came from, for messages: the variable that supplied it, or its line in the file.</summary>
    public string? DescribeOrigin(YamlNode? node, string? variable)
    {
        if (variable is not null)
        {
            return $"from {variable}";
        }

        // Nodes Berth builds itself (defaults, the `storage: s3` shorthand) have no position.
        if (node is null || FileName is null || node.Start.Line <= 0)
        {
            return null;
        }

        return $"{FileName} line {node.Start.Line}";
    }

    /// <summary><c>notifications.endpoints.0.url</c> as <c>notifications.endpoints[].url</c>.</summary>
    internal static string SchemaKey(string key)
    {
        var schemaKey = new StringBuilder(key.Length);
        foreach (var segment in key.Split('.'))
        {
            if (segment.Length > 0 && segment.All(char.IsAsciiDigit))
            {
                schemaKey.Append("[]");
                continue;
            }

            if (schemaKey.Length > 0)
            {
                schemaKey.Append('.');
            }

            schemaKey.Append(segment);
        }

        return schemaKey.ToString();
    }
}
