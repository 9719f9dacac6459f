using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>An image written into its own OCI layout, tagged <see cref="Tag"/>.</summary>
public sealed record ScaleOutImage(string Repository, string Tag, OciLayoutWriter Layout, OciDescriptor Manifest, OciDescriptor Config, IReadOnlyList<OciDescriptor> Layers)
{
    public IEnumerable<OciDescriptor> Blobs => Layers.Prepend(Config);

    /// <summary>Manifest, config and layers: what one bit-exact pull compares.</summary>
    public long TotalBytes => Manifest.Size + Blobs.Sum(b => b.Size);
}

/// <summary>
/// Builds images by hand as OCI layouts (as <see cref="OciLayoutWriter"/> does), each in its own layout, with a base
/// layer whose bytes every image shares (so concurrent pushes of one blob happen through real clients too) and
/// layers of random content of its own.
/// </summary>
public sealed class ScaleOutImageFactory
{
    private static readonly DateTimeOffset FixedTime = new(2024, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private readonly (byte[] Gzipped, string DiffId) _sharedBase;
    private readonly string _directory;

    public ScaleOutImageFactory(string directory, int sharedBaseBytes)
    {
        _directory = directory;
        _sharedBase = GzippedTar("base", RandomNumberGenerator.GetBytes(sharedBaseBytes));
    }

    public ScaleOutImage Create(string repository, string tag, params int[] ownLayerBytes)
    {
        var layout = new OciLayoutWriter(Path.Combine(_directory, repository.Replace('/', '_')));
        var layers = new List<OciDescriptor> { layout.WriteBlob(_sharedBase.Gzipped, MediaTypes.OciLayerGzip) };
        var diffIds = new List<string> { _sharedBase.DiffId };
        for (var i = 0; i < ownLayerBytes.Length; i++)
        {
            var (gzipped, diffId) = GzippedTar($"{repository}/layer{i}", RandomNumberGenerator.GetBytes(ownLayerBytes[i]));
            layers.Add(layout.WriteBlob(gzipped, MediaTypes.OciLayerGzip));
            diffIds.Add(diffId);
        }

        var config = new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["created"] = FixedTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
            ["config"] = new JsonObject { ["Cmd"] = new JsonArray("/bin/true"), ["Labels"] = new JsonObject { ["repository"] = repository } },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray([.. diffIds.Select(d => (JsonNode)JsonValue.Create(d))]) },
        };
        var configDescriptor = layout.WriteBlob(Encoding.UTF8.GetBytes(config.ToJsonString()), MediaTypes.OciConfig);
        var manifest = ScaleOutHttp.ManifestJson(configDescriptor, layers, repository);
        var manifestDescriptor = layout.WriteBlob(manifest, MediaTypes.OciManifest);
        layout.Tag(tag, manifestDescriptor);
        return new ScaleOutImage(repository, tag, layout, manifestDescriptor, configDescriptor, layers);
    }

    private static (byte[] Gzipped, string DiffId) GzippedTar(string name, byte[] content)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Ustar, leaveOpen: true))
        {
            writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name.Replace('/', '_') + ".bin")
            {
                Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                ModificationTime = FixedTime,
                DataStream = new MemoryStream(content),
            });
        }

        var tarBytes = tar.ToArray();
        using var gzipped = new MemoryStream();
        using (var gzip = new GZipStream(gzipped, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(tarBytes);
        }

        return (gzipped.ToArray(), Digests.Sha256(tarBytes));
    }
}
