using System.Text.Json;

namespace Berth.Core;

/// <summary>
/// An OCI content descriptor as it appears inside a manifest. <see cref="Annotations"/> and
/// <see cref="Platform"/> keep their JSON so the referrers API can echo them unchanged.
/// </summary>
public sealed record Descriptor(string MediaType, Digest Digest, long Size)
{
    public string? ArtifactType { get; init; }

    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    public JsonElement? Platform { get; init; }

    public IReadOnlyList<string>? Urls { get; init; }
}
