using Berth.Core;
using Berth.Storage.Maintenance;

namespace Berth.Storage.Tests.Maintenance;

public sealed class DigestKeyTests
{
    private static readonly List<Digest> Digests = Enumerable.Range(0, 60)
        .Select(i => Digest.Compute(BitConverter.GetBytes(i), i % 4 == 0 ? Digest.Sha512 : Digest.Sha256))
        .ToList();

    [Fact]
    public void Of_ThenToDigest_GivesTheSameDigestForBothAlgorithms()
    {
        foreach (var digest in Digests)
        {
            Assert.Equal(digest, DigestKey.Of(digest).ToDigest());
        }
    }

    [Fact]
    public void Keys_AreEqualExactlyWhenTheirDigestsAre()
    {
        var parsedAgain = Digests.Select(d => DigestKey.Of(Digest.Parse(d.ToString()))).ToList();
        var set = new HashSet<DigestKey>(Digests.Select(DigestKey.Of));

        Assert.Equal(Digests.Count, set.Count);
        Assert.All(parsedAgain, key => Assert.Contains(key, set));
        Assert.Equal(Digests.Select(DigestKey.Of), parsedAgain);
        Assert.DoesNotContain(DigestKey.Of(Digest.Compute("not among them"u8)), set);
    }

    [Fact]
    public void Keys_SortAsTheirDigestsStringsSortOrdinally()
    {
        var byKey = Digests.Select(DigestKey.Of).Order().Select(k => k.ToDigest().ToString());
        var byString = Digests.Select(d => d.ToString()).Order(StringComparer.Ordinal);

        Assert.Equal(byString, byKey);
    }

    [Fact]
    public void Keys_ThatDifferOnlyInTheirLastBytes_AreDistinctAndOrdered()
    {
        var low = DigestKey.Of(Digest.Parse("sha256:" + new string('a', 63) + "0"));
        var high = DigestKey.Of(Digest.Parse("sha256:" + new string('a', 63) + "f"));

        Assert.NotEqual(low, high);
        Assert.True(low.CompareTo(high) < 0);
        Assert.True(high.CompareTo(low) > 0);
    }
}
