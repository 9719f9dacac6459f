namespace Berth.Core.Manifests;

/// <summary>
/// What a registry needs to know about a manifest it accepted: its media type and the
/// content it points at. The raw bytes stay the caller's; the digest is of those bytes.
/// </summary>
public sealed record Manifest
{
    public required ManifestKind Kind { get; init; }

    public required string MediaType { get; init; }

    /// <summary>The image configuration (image manifests only).</summary>
    public Descriptor? Config { get; init; }

    /// <summary>Layers of an image manifest.</summary>
    public IReadOnlyList<Descriptor> Layers { get; init; } = [];

    /// <summary>Child manifests of an index or manifest list.</summary>
    public IReadOnlyList<Descriptor> Manifests { get; init; } = [];

    /// <summary>The manifest this one refers to (OCI 1.1 referrers).</summary>
    public Descriptor? Subject { get; init; }

    /// <summary>The <c>artifactType</c> field, if the manifest sets one.</summary>
    public string? ArtifactType { get; init; }

    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    public bool IsIndex => Kind is ManifestKind.OciImageIndex or ManifestKind.DockerManifestList;

    /// <summary>
    /// The artifact type the referrers API reports: <c>artifactType</c> when set, otherwise the
    /// config media type of an image manifest, as the image spec prescribes.
    /// </summary>
    public string? EffectiveArtifactType => ArtifactType ?? (IsIndex ? null : Config?.MediaType);

    /// <summary>Blobs that must exist in the repository before this manifest is accepted.</summary>
    public IEnumerable<Descriptor> RequiredBlobs
    {
        get
        {
            if (Config is not null)
            {
                yield return Config;
            }

            foreach (var layer in Layers)
            {
                if (!MediaTypes.IsForeignLayer(layer.MediaType))
                {
                    yield return layer;
                }
            }
        }
    }
}
