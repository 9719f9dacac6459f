using System.Collections.Frozen;
using System.Security.Cryptography;

namespace Berth.Ui;

/// <summary>The stylesheet and script the pages link, embedded in the assembly and read once.</summary>
internal static class Assets
{
    private static readonly FrozenDictionary<string, Asset> All = Load();

    public static Asset? Get(string file) => All.GetValueOrDefault(file);

    private static FrozenDictionary<string, Asset> Load()
    {
        const string prefix = "Berth.Ui.Assets.";
        var assembly = typeof(Assets).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(name => name.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var bytes = buffer.ToArray();
            assets[resource[prefix.Length..]] = new Asset(bytes, "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes))[..16] + "\"");
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }
}

internal sealed record Asset(byte[] Bytes, string ETag);
