using System.Text.Json;
using Berth.Core;
using Berth.Core.Manifests;

namespace Berth.Ui.Browsing;

/// <summary>One platform of an index: the child manifest that serves it.</summary>
public sealed record PlatformEntry(string Platform, Digest Digest, string MediaType, long Size);

/// <summary>
/// What a manifest's row shows: kind, sizes, created time and platforms. Computed from the manifest and its config
/// blob, never from a listing, and cached by digest: content under a digest cannot change, so a summary never goes stale.
/// </summary>
/// <param name="Digest">The manifest's digest.</param>
/// <param name="MediaType">The manifest's media type.</param>
/// <param name="Manifest">The parsed manifest; null for formats Berth serves but does not read (schema1).</param>
/// <param name="Size">
/// The bytes a pull of this manifest transfers: the manifest, its config and layers; for an index, the index and every
/// child's, each blob counted once. Null when a child of an index is not in the repository.
/// </param>
/// <param name="Created">The config's <c>created</c> time (of the newest child for an index).</param>
/// <param name="Platforms">"os/architecture[/variant]" of an image's config, or of every child of an index.</param>
/// <param name="Blobs">Every blob the manifest references, with its size (for deduplicated sums over several manifests).</param>
public sealed record ImageSummary(Digest Digest, string MediaType, Manifest? Manifest, long? Size, DateTimeOffset? Created,
    IReadOnlyList<string> Platforms, IReadOnlyDictionary<Digest, long> Blobs)
{
    public bool IsIndex => Manifest?.IsIndex ?? MediaTypes.IsIndex(MediaType);

    /// <summary>An artifact (a signature, an SBOM, an attestation) rather than a runnable image.</summary>
    public string? ArtifactType => Manifest is { IsIndex: false } manifest && manifest.EffectiveArtifactType is { } type
        && type is not ("application/vnd.oci.image.config.v1+json" or "application/vnd.docker.container.image.v1+json")
        ? type
        : Manifest?.IsIndex == true ? Manifest.ArtifactType : null;

    /// <summary>"linux/amd64" from a descriptor's or config's platform fields.</summary>
    internal static string? PlatformText(string? os, string? architecture, string? variant) =>
        string.IsNullOrEmpty(os) && string.IsNullOrEmpty(architecture)
            ? null
            : string.IsNullOrEmpty(variant) ? $"{os}/{architecture}" : $"{os}/{architecture}/{variant}";

    /// <summary>The platform of an index entry, or null when it names none.</summary>
    internal static string? PlatformOf(Descriptor descriptor)
    {
        if (descriptor.Platform is not { ValueKind: JsonValueKind.Object } platform)
        {
            return null;
        }

        return PlatformText(StringProperty(platform, "os"), StringProperty(platform, "architecture"), StringProperty(platform, "variant"));
    }

    internal static string? StringProperty(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
