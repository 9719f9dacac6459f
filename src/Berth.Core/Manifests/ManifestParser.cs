using System.Text.Json;
using Berth.Core.Errors;

namespace Berth.Core.Manifests;

/// <summary>
/// Parses and validates a manifest body. It checks structure, not existence: whether the
/// referenced blobs are in the repository is the store's business.
/// </summary>
public static class ManifestParser
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// Parses <paramref name="body"/>, declared by the client as <paramref name="contentType"/>
    /// (may be null). Throws <see cref="ErrorCode.ManifestInvalid"/> with a reason on any defect.
    /// </summary>
    public static Manifest Parse(ReadOnlyMemory<byte> body, string? contentType)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, DocumentOptions);
        }
        catch (JsonException ex)
        {
            throw Invalid($"manifest is not valid JSON: {ex.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid("manifest must be a JSON object");
            }

            var schemaVersion = root.TryGetProperty("schemaVersion", out var sv) && sv.ValueKind == JsonValueKind.Number && sv.TryGetInt32(out var v) ? v : (int?)null;
            if (schemaVersion == 1)
            {
                throw Invalid("schema1 manifests are not supported; push a schema2 or OCI manifest");
            }

            if (schemaVersion != 2)
            {
                throw Invalid("schemaVersion must be 2");
            }

            var bodyType = OptionalString(root, "mediaType");
            var declared = NormaliseContentType(contentType);
            if (bodyType is not null && declared is not null && declared != bodyType && IsManifestType(declared))
            {
                throw Invalid($"Content-Type '{declared}' does not match the manifest's mediaType '{bodyType}'");
            }

            if (bodyType is null && declared is MediaTypes.DockerManifest or MediaTypes.DockerManifestList)
            {
                // Docker's formats carry their type in the body; without it the bytes would read
                // back as OCI, so registry:2's refusal is kept.
                throw Invalid($"a {declared} manifest must name its mediaType in the body");
            }

            var mediaType = bodyType ?? (IsManifestType(declared) ? declared : null) ?? InferType(root);
            var kind = mediaType switch
            {
                MediaTypes.OciManifest => ManifestKind.OciImageManifest,
                MediaTypes.OciIndex => ManifestKind.OciImageIndex,
                MediaTypes.DockerManifest => ManifestKind.DockerManifest,
                MediaTypes.DockerManifestList => ManifestKind.DockerManifestList,
                _ => throw Invalid($"unsupported manifest media type '{mediaType}'"),
            };

            var manifest = new Manifest
            {
                Kind = kind,
                MediaType = mediaType,
                ArtifactType = OptionalString(root, "artifactType"),
                Subject = root.TryGetProperty("subject", out var subject) ? ParseDescriptor(subject, "subject") : null,
                Annotations = ParseAnnotations(root, "annotations"),
            };

            if (kind is ManifestKind.OciImageIndex or ManifestKind.DockerManifestList)
            {
                if (root.TryGetProperty("config", out _) || root.TryGetProperty("layers", out _))
                {
                    throw Invalid("an index has 'manifests', not 'config' or 'layers'");
                }

                return manifest with { Manifests = ParseDescriptorArray(root, "manifests", required: true) };
            }

            if (root.TryGetProperty("manifests", out _))
            {
                throw Invalid("an image manifest has 'config' and 'layers', not 'manifests'");
            }

            if (!root.TryGetProperty("config", out var config))
            {
                throw Invalid("an image manifest needs a 'config' descriptor");
            }

            return manifest with
            {
                Config = ParseDescriptor(config, "config"),
                Layers = ParseDescriptorArray(root, "layers", required: true),
            };
        }
    }

    /// <summary>
    /// The media type of a manifest already stored, from its own body. Distribution stores no
    /// content type beside a manifest, so this is how a GET learns what to answer with.
    /// </summary>
    public static string DetectMediaType(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return MediaTypes.OctetStream;
            }

            var hasManifests = false;
            var hasConfig = false;
            int? schemaVersion = null;
            string? signatures = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("mediaType"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        return reader.GetString()!;
                    }
                }
                else if (reader.ValueTextEquals("manifests"u8))
                {
                    hasManifests = true;
                    reader.Read();
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("config"u8))
                {
                    hasConfig = true;
                    reader.Read();
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("schemaVersion"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var version))
                    {
                        schemaVersion = version;
                    }
                }
                else if (reader.ValueTextEquals("signatures"u8))
                {
                    signatures = "present";
                    reader.Read();
                    reader.Skip();
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (schemaVersion == 1)
            {
                return signatures is null ? MediaTypes.DockerSchema1 : MediaTypes.DockerSchema1Signed;
            }

            return hasManifests ? MediaTypes.OciIndex : hasConfig ? MediaTypes.OciManifest : MediaTypes.OctetStream;
        }
        catch (JsonException)
        {
            return MediaTypes.OctetStream;
        }
    }

    public static bool IsManifestType(string? mediaType) =>
        mediaType is MediaTypes.OciManifest or MediaTypes.OciIndex or MediaTypes.DockerManifest or MediaTypes.DockerManifestList;

    private static string? NormaliseContentType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
        {
            return null;
        }

        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        return (semicolon >= 0 ? contentType[..semicolon] : contentType).Trim().ToLowerInvariant();
    }

    private static string InferType(JsonElement root)
    {
        if (root.TryGetProperty("manifests", out _))
        {
            return MediaTypes.OciIndex;
        }

        if (root.TryGetProperty("config", out _))
        {
            return MediaTypes.OciManifest;
        }

        throw Invalid("cannot tell the manifest type: no mediaType, no Content-Type, no 'config' or 'manifests'");
    }

    private static IReadOnlyList<Descriptor> ParseDescriptorArray(JsonElement root, string property, bool required)
    {
        if (!root.TryGetProperty(property, out var array))
        {
            return required ? throw Invalid($"'{property}' is required") : [];
        }

        if (array.ValueKind != JsonValueKind.Array)
        {
            throw Invalid($"'{property}' must be an array");
        }

        var result = new List<Descriptor>(array.GetArrayLength());
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            result.Add(ParseDescriptor(item, $"{property}[{i++}]"));
        }

        return result;
    }

    private static Descriptor ParseDescriptor(JsonElement element, string where)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"{where} must be a descriptor object");
        }

        var mediaType = OptionalString(element, "mediaType", where) ?? throw Invalid($"{where}.mediaType is required");
        var digestText = OptionalString(element, "digest", where) ?? throw Invalid($"{where}.digest is required");
        if (!Digest.TryParse(digestText, out var digest, out var reason))
        {
            throw Invalid($"{where}.digest is invalid: {reason}");
        }

        if (!element.TryGetProperty("size", out var sizeElement) || sizeElement.ValueKind != JsonValueKind.Number
            || !sizeElement.TryGetInt64(out var size) || size < 0)
        {
            throw Invalid($"{where}.size must be a non-negative integer");
        }

        IReadOnlyList<string>? urls = null;
        if (element.TryGetProperty("urls", out var urlsElement))
        {
            if (urlsElement.ValueKind != JsonValueKind.Array || urlsElement.EnumerateArray().Any(u => u.ValueKind != JsonValueKind.String))
            {
                throw Invalid($"{where}.urls must be an array of strings");
            }

            urls = urlsElement.EnumerateArray().Select(u => u.GetString()!).ToArray();
        }

        JsonElement? platform = null;
        if (element.TryGetProperty("platform", out var platformElement))
        {
            if (platformElement.ValueKind != JsonValueKind.Object)
            {
                throw Invalid($"{where}.platform must be an object");
            }

            platform = platformElement.Clone();
        }

        return new Descriptor(mediaType, digest, size)
        {
            ArtifactType = OptionalString(element, "artifactType", where),
            Annotations = ParseAnnotations(element, where + ".annotations"),
            Platform = platform,
            Urls = urls,
        };
    }

    private static Dictionary<string, string>? ParseAnnotations(JsonElement element, string where)
    {
        if (!element.TryGetProperty("annotations", out var annotations) || annotations.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (annotations.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"{where} must be an object of strings");
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in annotations.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.String)
            {
                throw Invalid($"{where}.{property.Name} must be a string");
            }

            result[property.Name] = property.Value.GetString()!;
        }

        return result;
    }

    private static string? OptionalString(JsonElement element, string property, string? where = null)
    {
        if (!element.TryGetProperty(property, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw Invalid($"{(where is null ? property : where + "." + property)} must be a string");
    }

    private static RegistryException Invalid(string reason) => ErrorCode.ManifestInvalid.With(new { reason }, reason);
}
