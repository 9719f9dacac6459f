using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Berth.Core.Errors;

namespace Berth.Core;

/// <summary>
/// A content digest, <c>algorithm:encoded</c>, as the OCI image spec defines it. Only the
/// algorithms a registry can verify (sha256, sha512) are accepted: content addressed by a
/// digest we cannot recompute could never be trusted.
/// </summary>
public readonly record struct Digest : IComparable<Digest>
{
    public const string Sha256 = "sha256";
    public const string Sha512 = "sha512";

    private Digest(string algorithm, string encoded)
    {
        Algorithm = algorithm;
        Encoded = encoded;
    }

    public string Algorithm { get; }

    /// <summary>The lowercase hex part after the colon.</summary>
    public string Encoded { get; }

    public HashAlgorithmName HashAlgorithm => Algorithm == Sha512 ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256;

    public override string ToString() => Algorithm + ":" + Encoded;

    /// <summary>
    /// The ordinal order of the string forms, without building them (sorting a garbage collection's half a million
    /// candidates by <see cref="ToString"/> allocated two strings per comparison): the two algorithms differ before
    /// either ends, so comparing the algorithm and then the hex is the same order.
    /// </summary>
    public int CompareTo(Digest other)
    {
        var byAlgorithm = string.CompareOrdinal(Algorithm, other.Algorithm);
        return byAlgorithm != 0 ? byAlgorithm : string.CompareOrdinal(Encoded, other.Encoded);
    }

    /// <summary>Parses a digest or throws <see cref="ErrorCode.DigestInvalid"/>.</summary>
    public static Digest Parse(string? value) =>
        TryParse(value, out var digest, out var reason)
            ? digest
            : throw ErrorCode.DigestInvalid.With(value, $"invalid digest: {reason}");

    public static bool TryParse(string? value, out Digest digest) => TryParse(value, out digest, out _);

    public static bool TryParse(string? value, out Digest digest, [NotNullWhen(false)] out string? reason)
    {
        digest = default;
        if (string.IsNullOrEmpty(value))
        {
            reason = "empty";
            return false;
        }

        var colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == value.Length - 1)
        {
            reason = "expected algorithm:encoded";
            return false;
        }

        var algorithm = value[..colon];
        var encoded = value[(colon + 1)..];
        int expectedLength;
        switch (algorithm)
        {
            case Sha256:
                expectedLength = 64;
                break;
            case Sha512:
                expectedLength = 128;
                break;
            default:
                reason = $"unsupported digest algorithm '{Truncate(algorithm)}'";
                return false;
        }

        if (encoded.Length != expectedLength)
        {
            reason = $"{algorithm} digests have {expectedLength} hex characters";
            return false;
        }

        foreach (var c in encoded)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                reason = "the encoded part must be lowercase hex";
                return false;
            }
        }

        digest = new Digest(algorithm, encoded);
        reason = null;
        return true;
    }

    /// <summary>Computes the digest of a buffer with a supported algorithm (sha256 by default).</summary>
    public static Digest Compute(ReadOnlySpan<byte> content, string algorithm = Sha256) => algorithm switch
    {
        Sha256 => FromHash(algorithm, SHA256.HashData(content)),
        Sha512 => FromHash(algorithm, SHA512.HashData(content)),
        _ => throw new ArgumentException($"unsupported digest algorithm '{algorithm}'", nameof(algorithm)),
    };

    /// <summary>Builds a digest from a finished hash of the named algorithm.</summary>
    public static Digest FromHash(string algorithm, ReadOnlySpan<byte> hash)
    {
        var expectedBytes = algorithm switch
        {
            Sha256 => 32,
            Sha512 => 64,
            _ => throw new ArgumentException($"unsupported digest algorithm '{algorithm}'", nameof(algorithm)),
        };
        return hash.Length == expectedBytes
            ? new Digest(algorithm, Convert.ToHexStringLower(hash))
            : throw new ArgumentException($"a {algorithm} hash has {expectedBytes} bytes", nameof(hash));
    }

    public static bool IsSupportedAlgorithm(string algorithm) => algorithm is Sha256 or Sha512;

    private static string Truncate(string s) => s.Length <= 32 ? s : s[..32] + "...";
}
