using System.Text.Json.Nodes;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>Bit-exact comparisons of images between layouts, skopeo dir: copies and the registry API.</summary>
public static class ImageAssert
{
    /// <summary>Both OCI layouts hold exactly the same blobs, byte for byte.</summary>
    public static void LayoutsHaveSameBlobs(string expectedLayout, string actualLayout)
    {
        var expected = BlobFiles(expectedLayout);
        var actual = BlobFiles(actualLayout);
        Assert.True(expected.Keys.Order().SequenceEqual(actual.Keys.Order()),
            $"The pulled layout {actualLayout} holds blobs [{string.Join(", ", actual.Keys.Order())}], " +
            $"the pushed one {expectedLayout} holds [{string.Join(", ", expected.Keys.Order())}].");
        foreach (var (name, expectedPath) in expected)
        {
            var expectedBytes = File.ReadAllBytes(expectedPath);
            var actualBytes = File.ReadAllBytes(actual[name]);
            Assert.True(expectedBytes.AsSpan().SequenceEqual(actualBytes), $"Blob {name} differs after the round trip ({expectedBytes.Length} vs {actualBytes.Length} bytes).");
            Assert.Equal("sha256:" + name, Digests.Sha256(actualBytes));
        }
    }

    /// <summary>The registry serves the layout's image under <paramref name="reference"/>: same manifest bytes, digest, media type and blobs.</summary>
    public static async Task RegistryServesLayoutImageAsync(RegistryApiClient api, string repository, string reference, OciLayoutWriter layout, OciImage image)
    {
        var manifest = await api.GetManifestAsync(repository, reference);
        Assert.True(manifest.Content.AsSpan().SequenceEqual(layout.ReadBlob(image.Manifest.Digest)),
            $"{api.Registry.Kind}: the manifest of {repository}:{reference} is not the pushed one byte for byte: {System.Text.Encoding.UTF8.GetString(manifest.Content)}");
        Assert.Equal(image.Manifest.Digest, manifest.DigestHeader);
        Assert.Equal(MediaTypes.OciManifest, manifest.ContentType);
        foreach (var blob in image.Layers.Prepend(image.Config))
        {
            var served = await api.GetBlobAsync(repository, blob.Digest);
            Assert.True(served.AsSpan().SequenceEqual(layout.ReadBlob(blob.Digest)), $"{api.Registry.Kind}: blob {blob.Digest} of {repository} differs from the pushed one.");
        }
    }

    /// <summary>A <c>skopeo copy ... dir:PATH</c> result holds the manifest the registry serves and every blob it names, byte for byte.</summary>
    public static async Task DirCopyMatchesRegistryAsync(string dirPath, RegistryApiClient api, string repository, FetchedManifest manifest)
    {
        var pulledManifest = await File.ReadAllBytesAsync(Path.Combine(dirPath, "manifest.json"));
        Assert.True(pulledManifest.AsSpan().SequenceEqual(manifest.Content), $"skopeo's dir: copy of {repository} rewrote the manifest.");
        foreach (var blob in manifest.Document.Blobs)
        {
            var pulled = await File.ReadAllBytesAsync(Path.Combine(dirPath, Digests.Hex(blob.Digest)));
            var served = await api.GetBlobAsync(repository, blob.Digest);
            Assert.True(pulled.AsSpan().SequenceEqual(served), $"Blob {blob.Digest} pulled by skopeo differs from the one the registry serves.");
            Assert.Equal(blob.Size, pulled.LongLength);
        }
    }

    /// <summary>
    /// Every layer the registry serves for the manifest decompresses to the uncompressed digest (diff_id) its config
    /// records: the image content survived whatever the client did to the compressed form. Returns the layers' bytes.
    /// </summary>
    public static async Task<IReadOnlyList<byte[]>> LayersMatchConfigDiffIdsAsync(RegistryApiClient api, string repository, FetchedManifest manifest)
    {
        var document = manifest.Document;
        Assert.NotNull(document.Config);
        var config = JsonNode.Parse(await api.GetBlobAsync(repository, document.Config.Digest))!;
        var diffIds = (config["rootfs"]?["diff_ids"] as JsonArray ?? []).Select(d => (string?)d).ToList();
        Assert.True(diffIds.Count == document.Layers.Count,
            $"The config of {repository} lists {diffIds.Count} diff_ids for {document.Layers.Count} layers.");
        var layers = new List<byte[]>();
        for (var i = 0; i < document.Layers.Count; i++)
        {
            var layer = await api.GetBlobAsync(repository, document.Layers[i].Digest);
            Assert.Equal(document.Layers[i].Size, layer.LongLength);
            Assert.True(Digests.Sha256(Digests.Gunzip(layer)) == diffIds[i], $"Layer {i} ({document.Layers[i].Digest}) of {repository} does not decompress to diff_id {diffIds[i]}.");
            layers.Add(layer);
        }

        return layers;
    }

    private static Dictionary<string, string> BlobFiles(string layout) =>
        Directory.EnumerateFiles(Path.Combine(layout, "blobs", "sha256")).ToDictionary(path => Path.GetFileName(path), StringComparer.Ordinal);
}
