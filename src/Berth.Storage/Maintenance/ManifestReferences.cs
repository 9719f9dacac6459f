using System.Text.Json;
using Berth.Core;
using Berth.Core.Errors;
using Berth.Core.Manifests;

namespace Berth.Storage.Maintenance;

/// <summary>
/// What a stored manifest keeps alive. <see cref="Understood"/> is false when
/// <see cref="ManifestParser"/> rejects the bytes (schema1, a format it does not know, a volume
/// written by another registry with looser validation): such a manifest is never deleted, and
/// every digest-looking string in it is treated as both a blob and a child manifest, so the
/// collector errs towards keeping rather than guessing.
/// </summary>
internal sealed record ManifestReferences(IReadOnlyList<Digest> Blobs, IReadOnlyList<Digest> Manifests, Digest? Subject, bool Understood)
{
    /// <summary>Content that is not JSON (or too large to be a manifest): nothing to follow, never deleted.</summary>
    public static readonly ManifestReferences Opaque = new([], [], null, false);

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    public static ManifestReferences Extract(ReadOnlyMemory<byte> content)
    {
        Manifest manifest;
        try
        {
            manifest = ManifestParser.Parse(content, null);
        }
        catch (RegistryException)
        {
            return Scan(content);
        }

        // RequiredBlobs is the config and the layers without foreign ones: a foreign layer's bytes
        // live elsewhere, and pushes never had to upload them.
        return new ManifestReferences(
            [.. manifest.RequiredBlobs.Select(d => d.Digest)],
            [.. manifest.Manifests.Select(d => d.Digest)],
            manifest.Subject?.Digest,
            Understood: true);
    }

    /// <summary>
    /// The lenient fallback: every string property named <c>digest</c> (OCI/Docker descriptors)
    /// or <c>blobSum</c> (schema1 <c>fsLayers</c>) anywhere in the document, the subject's
    /// included: for a manifest we cannot read, keeping too much is the only safe mistake.
    /// </summary>
    private static ManifestReferences Scan(ReadOnlyMemory<byte> content)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(content, DocumentOptions);
        }
        catch (JsonException)
        {
            return Opaque;
        }

        using (document)
        {
            var found = new List<Digest>();
            Collect(document.RootElement, found);
            Digest? subject = null;
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("subject", out var subjectElement)
                && subjectElement.ValueKind == JsonValueKind.Object
                && subjectElement.TryGetProperty("digest", out var subjectDigest)
                && subjectDigest.ValueKind == JsonValueKind.String
                && Digest.TryParse(subjectDigest.GetString(), out var parsed))
            {
                subject = parsed;
            }

            var distinct = found.Distinct().ToArray();
            return new ManifestReferences(distinct, distinct, subject, Understood: false);
        }
    }

    private static void Collect(JsonElement element, List<Digest> found)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Value.ValueKind == JsonValueKind.String && property.Name is "digest" or "blobSum")
                    {
                        if (Digest.TryParse(property.Value.GetString(), out var digest))
                        {
                            found.Add(digest);
                        }
                    }
                    else
                    {
                        Collect(property.Value, found);
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Collect(item, found);
                }

                break;
        }
    }
}
