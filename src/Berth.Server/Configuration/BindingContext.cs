using YamlDotNet.RepresentationModel;

namespace Berth.Server.Configuration;

/// <summary>State shared by every <see cref="ConfigValue"/> of one load: the warnings and the file's name.</summary>
internal sealed class BindingContext(string? fileName)
{
    /// <summary>The configuration file's name for messages (<c>config.yml line 7</c>), or null without a file.</summary>
    public string? FileName { get; } = fileName;

    /// <summary>Problems that do not stop start-up, in the order they were found.</summary>
    public List<string> Warnings { get; } = [];

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
}
