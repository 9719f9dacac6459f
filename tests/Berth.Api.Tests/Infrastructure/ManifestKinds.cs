namespace Berth.Api.Tests.Infrastructure;

/// <summary>The manifest formats a registry:2 replacement must store and serve.</summary>
public static class ManifestKinds
{
    public const string OciManifest = "oci-manifest";
    public const string OciIndex = "oci-index";
    public const string DockerManifest = "docker-manifest";
    public const string DockerManifestList = "docker-manifest-list";
    public const string Artifact = "artifact";

    public static TheoryData<string> All => [OciManifest, OciIndex, DockerManifest, DockerManifestList, Artifact];

    /// <summary>The Accept header a modern client (docker, containerd, oras) sends.</summary>
    public const string AcceptAll =
        "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
        "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

    /// <summary>
    /// Pushes everything a manifest of <paramref name="kind"/> references, and returns its bytes and
    /// media type without pushing the manifest itself.
    /// </summary>
    public static async Task<(byte[] Bytes, string MediaType)> PrepareAsync(HttpClient client, string repository, string kind)
    {
        switch (kind)
        {
            case OciManifest:
            {
                var config = await client.PushBlobAsync(repository, Oci.ConfigJson(), Oci.ImageConfig);
                var layer = await client.PushBlobAsync(repository, Oci.RandomBytes(300), Oci.ImageLayer);
                return (Oci.Manifest(config, [layer]), Oci.ImageManifest);
            }

            case DockerManifest:
            {
                var config = await client.PushBlobAsync(repository, Oci.ConfigJson(), Oci.DockerConfig);
                var layer = await client.PushBlobAsync(repository, Oci.RandomBytes(300), Oci.DockerLayer);
                return (Oci.Manifest(config, [layer], Oci.DockerManifest), Oci.DockerManifest);
            }

            case OciIndex:
            {
                var amd64 = await PushChildAsync(client, repository, Oci.ImageManifest, "amd64");
                var arm64 = await PushChildAsync(client, repository, Oci.ImageManifest, "arm64");
                return (Oci.Index([amd64, arm64]), Oci.ImageIndex);
            }

            case DockerManifestList:
            {
                var amd64 = await PushChildAsync(client, repository, Oci.DockerManifest, "amd64");
                var arm64 = await PushChildAsync(client, repository, Oci.DockerManifest, "arm64");
                return (Oci.Index([amd64, arm64], Oci.DockerManifestList), Oci.DockerManifestList);
            }

            case Artifact:
            {
                var subject = await client.PushImageAsync(repository);
                await client.PushBlobAsync(repository, Oci.EmptyJson, Oci.Empty);
                var payload = await client.PushBlobAsync(repository, Oci.RandomBytes(200), "application/vnd.example.sbom.v1+json");
                var manifest = Oci.Manifest(Oci.EmptyDescriptor, [payload], artifactType: "application/vnd.example.sbom.v1",
                    subject: subject.Manifest, annotations: new Dictionary<string, string> { ["org.example.kind"] = "sbom" });
                return (manifest, Oci.ImageManifest);
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    /// <summary>Pushes an image manifest of <paramref name="mediaType"/> by digest and returns its descriptor with a platform.</summary>
    public static async Task<OciDescriptor> PushChildAsync(HttpClient client, string repository, string mediaType, string architecture)
    {
        var docker = mediaType == Oci.DockerManifest;
        var config = await client.PushBlobAsync(repository, Oci.ConfigJson(), docker ? Oci.DockerConfig : Oci.ImageConfig);
        var layer = await client.PushBlobAsync(repository, Oci.RandomBytes(100), docker ? Oci.DockerLayer : Oci.ImageLayer);
        var bytes = Oci.Manifest(config, [layer], mediaType);
        var descriptor = await client.PushManifestAsync(repository, Oci.DigestOf(bytes), mediaType, bytes);
        return descriptor with { Platform = ("linux", architecture) };
    }
}
