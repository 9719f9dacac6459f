namespace Berth.Core;

/// <summary>The manifest and descriptor media types a registry must understand.</summary>
public static class MediaTypes
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciEmpty = "application/vnd.oci.empty.v1+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
    public const string DockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    public const string DockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    public const string OciNondistributablePrefix = "application/vnd.oci.image.layer.nondistributable.";
    public const string OctetStream = "application/octet-stream";

    /// <summary>True for layers whose bytes live elsewhere and are never pushed to a registry.</summary>
    public static bool IsForeignLayer(string mediaType) =>
        mediaType == DockerForeignLayer || mediaType.StartsWith(OciNondistributablePrefix, StringComparison.Ordinal);

    public static bool IsIndex(string mediaType) => mediaType is OciIndex or DockerManifestList;
}
