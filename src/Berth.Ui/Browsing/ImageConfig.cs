using System.Globalization;
using System.Text.Json;

namespace Berth.Ui.Browsing;

/// <summary>One step of an image's build history.</summary>
public sealed record HistoryStep(DateTimeOffset? Created, string? CreatedBy, string? Comment, bool EmptyLayer);

/// <summary>
/// The parts of an image configuration (OCI's or Docker's, which share these fields) a person looks at: how the
/// image runs, its labels and how it was built. Every string is shown as text; none is trusted as markup.
/// </summary>
public sealed record ImageConfig(
    string? Os,
    string? Architecture,
    string? Variant,
    DateTimeOffset? Created,
    string? Author,
    IReadOnlyList<string> Entrypoint,
    IReadOnlyList<string> Command,
    IReadOnlyList<string> Environment,
    string? WorkingDirectory,
    string? User,
    IReadOnlyList<string> ExposedPorts,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyList<HistoryStep> History)
{
    /// <summary>True when the configuration says nothing about how to run the image (an artifact's empty <c>{}</c>).</summary>
    public bool IsEmpty => Entrypoint.Count == 0 && Command.Count == 0 && Environment.Count == 0 && string.IsNullOrEmpty(WorkingDirectory)
        && string.IsNullOrEmpty(User) && ExposedPorts.Count == 0 && string.IsNullOrEmpty(Author) && Labels.Count == 0;

    /// <summary>Reads a configuration blob; null when it is not a JSON object (an artifact's config often is not).</summary>
    public static ImageConfig? TryParse(ReadOnlySpan<byte> content)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(content.ToArray());
        }
        catch (JsonException)
        {
            return null;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var run = root.TryGetProperty("config", out var config) && config.ValueKind == JsonValueKind.Object ? config : default;
            return new ImageConfig(
                ImageSummary.StringProperty(root, "os"),
                ImageSummary.StringProperty(root, "architecture"),
                ImageSummary.StringProperty(root, "variant"),
                Time(ImageSummary.StringProperty(root, "created")),
                ImageSummary.StringProperty(root, "author"),
                Strings(run, "Entrypoint"),
                Strings(run, "Cmd"),
                Strings(run, "Env"),
                ImageSummary.StringProperty(run, "WorkingDir"),
                ImageSummary.StringProperty(run, "User"),
                run.ValueKind == JsonValueKind.Object && run.TryGetProperty("ExposedPorts", out var ports) && ports.ValueKind == JsonValueKind.Object
                    ? [.. ports.EnumerateObject().Select(port => port.Name)]
                    : [],
                ReadLabels(run),
                ReadHistory(root));
        }
    }

    internal static DateTimeOffset? Time(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time : null;

    private static List<string> Strings(JsonElement parent, string name) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? [.. value.EnumerateArray().Where(item => item.ValueKind == JsonValueKind.String).Select(item => item.GetString()!)]
            : [];

    private static SortedDictionary<string, string> ReadLabels(JsonElement run)
    {
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (run.ValueKind == JsonValueKind.Object && run.TryGetProperty("Labels", out var value) && value.ValueKind == JsonValueKind.Object)
        {
            foreach (var label in value.EnumerateObject())
            {
                labels[label.Name] = label.Value.ValueKind == JsonValueKind.String ? label.Value.GetString()! : label.Value.GetRawText();
            }
        }

        return labels;
    }

    private static List<HistoryStep> ReadHistory(JsonElement root)
    {
        if (!root.TryGetProperty("history", out var history) || history.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        return
        [
            .. history.EnumerateArray().Where(step => step.ValueKind == JsonValueKind.Object).Select(step => new HistoryStep(
                Time(ImageSummary.StringProperty(step, "created")),
                ImageSummary.StringProperty(step, "created_by"),
                ImageSummary.StringProperty(step, "comment"),
                step.TryGetProperty("empty_layer", out var empty) && empty.ValueKind == JsonValueKind.True)),
        ];
    }
}
