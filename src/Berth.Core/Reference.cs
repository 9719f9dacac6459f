using Berth.Core.Errors;

namespace Berth.Core;

/// <summary>The <c>&lt;reference&gt;</c> of a manifest URL: either a tag or a digest.</summary>
public readonly record struct Reference
{
    private Reference(string? tag, Digest? digest)
    {
        Tag = tag;
        Digest = digest;
    }

    public string? Tag { get; }

    public Digest? Digest { get; }

    public bool IsDigest => Digest is not null;

    public static Reference Parse(string value)
    {
        if (value.Contains(':', StringComparison.Ordinal))
        {
            return new Reference(null, Core.Digest.Parse(value));
        }

        return Core.Tag.IsValid(value)
            ? new Reference(value, null)
            : throw ErrorCode.TagInvalid.With(new { tag = value.Length > 200 ? value[..200] : value }, "invalid tag");
    }

    public override string ToString() => Tag ?? Digest!.Value.ToString();
}
