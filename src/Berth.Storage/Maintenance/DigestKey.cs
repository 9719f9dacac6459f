using System.Buffers.Binary;
using Berth.Core;

namespace Berth.Storage.Maintenance;

/// <summary>
/// A digest as the garbage collector holds it in its large sets: a sha256 digest as its 32 hash bytes, anything else
/// (sha512) as its string.
/// </summary>
/// <remarks>
/// A collection over a million blobs holds every marked digest, every <c>_layers</c> link of every repository and every
/// unreferenced blob at once. As <see cref="Digest"/> values each of those is a 64-character string, about 150 bytes of
/// heap beside its set entry; the 1M-blob run of <c>bench/gc.sh</c> grew by 795 MiB. Here a sha256 digest is four
/// longs inside the entry, and hashing it is reading one of them (the bytes are a hash already).
/// </remarks>
internal readonly struct DigestKey : IEquatable<DigestKey>, IComparable<DigestKey>
{
    // The hash as four big-endian words, so that comparing them in order is the hex string's ordinal order.
    private readonly ulong _a;
    private readonly ulong _b;
    private readonly ulong _c;
    private readonly ulong _d;

    // The whole digest for algorithms other than sha256; null for sha256.
    private readonly string? _other;

    private DigestKey(ulong a, ulong b, ulong c, ulong d, string? other)
    {
        _a = a;
        _b = b;
        _c = c;
        _d = d;
        _other = other;
    }

    public static DigestKey Of(Digest digest)
    {
        if (digest.Algorithm != Digest.Sha256)
        {
            return new DigestKey(0, 0, 0, 0, digest.ToString());
        }

        Span<byte> hash = stackalloc byte[32];
        // A parsed sha256 digest is 64 lowercase hex characters, so this cannot fail.
        Convert.FromHexString(digest.Encoded, hash, out _, out _);
        return new DigestKey(BinaryPrimitives.ReadUInt64BigEndian(hash), BinaryPrimitives.ReadUInt64BigEndian(hash[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(hash[16..]), BinaryPrimitives.ReadUInt64BigEndian(hash[24..]), other: null);
    }

    /// <summary>The digest again (a new string each call: call it once per use, not in comparisons).</summary>
    public Digest ToDigest()
    {
        if (_other is not null)
        {
            return Digest.Parse(_other);
        }

        Span<byte> hash = stackalloc byte[32];
        BinaryPrimitives.WriteUInt64BigEndian(hash, _a);
        BinaryPrimitives.WriteUInt64BigEndian(hash[8..], _b);
        BinaryPrimitives.WriteUInt64BigEndian(hash[16..], _c);
        BinaryPrimitives.WriteUInt64BigEndian(hash[24..], _d);
        return Digest.FromHash(Digest.Sha256, hash);
    }

    public bool Equals(DigestKey other) =>
        _a == other._a && _b == other._b && _c == other._c && _d == other._d && string.Equals(_other, other._other, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is DigestKey other && Equals(other);

    public override int GetHashCode() => _other is null ? (int)_a ^ (int)(_a >> 32) : StringComparer.Ordinal.GetHashCode(_other);

    /// <summary>The order of <see cref="Digest.CompareTo"/>: sha256 digests (by their bytes, which is their hex order) first.</summary>
    public int CompareTo(DigestKey other)
    {
        if (_other is not null || other._other is not null)
        {
            return _other is null ? -1 : other._other is null ? 1 : string.CompareOrdinal(_other, other._other);
        }

        var compared = _a.CompareTo(other._a);
        if (compared == 0)
        {
            compared = _b.CompareTo(other._b);
        }

        if (compared == 0)
        {
            compared = _c.CompareTo(other._c);
        }

        return compared != 0 ? compared : _d.CompareTo(other._d);
    }

    public override string ToString() => ToDigest().ToString();
}
