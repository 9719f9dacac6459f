namespace Berth.Core.Manifests;

/// <summary>The manifest formats a registry stores and serves.</summary>
public enum ManifestKind
{
    OciImageManifest,
    OciImageIndex,
    DockerManifest,
    DockerManifestList,
}
