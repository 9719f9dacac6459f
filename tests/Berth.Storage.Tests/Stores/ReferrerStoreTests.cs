using Berth.Core;
using static Berth.Storage.Tests.Stores.StoreHarness;

namespace Berth.Storage.Tests.Stores;

public sealed class ReferrerStoreTests
{
    private static readonly RepositoryName Repo = Name("library/app");
    private static readonly Digest Subject = Digest.Compute(Bytes("subject"));
    private static readonly Digest Signature = Digest.Compute(Bytes("signature"));
    private static readonly Digest Sbom = Digest.Compute(Bytes("sbom"));
    private readonly StoreHarness _h = new();

    [Fact]
    public async Task Add_ThenList_ReturnsEveryReferrer()
    {
        await _h.Referrers.AddAsync(Repo, Subject, Signature, Ct);
        await _h.Referrers.AddAsync(Repo, Subject, Sbom, Ct);

        var referrers = await _h.Referrers.ListAsync(Repo, Subject, Ct);

        Assert.Equal(
            new[] { Signature, Sbom }.Select(d => d.ToString()).Order(StringComparer.Ordinal),
            referrers.Select(d => d.ToString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Add_SameReferrerTwice_IsListedOnce()
    {
        await _h.Referrers.AddAsync(Repo, Subject, Signature, Ct);
        await _h.Referrers.AddAsync(Repo, Subject, Signature, Ct);

        Assert.Equal([Signature], await _h.Referrers.ListAsync(Repo, Subject, Ct));
    }

    [Fact]
    public async Task Add_Sha512Referrer_IsListed()
    {
        var sha512 = Digest.Compute(Bytes("sig512"), Digest.Sha512);

        await _h.Referrers.AddAsync(Repo, Subject, sha512, Ct);

        Assert.Equal([sha512], await _h.Referrers.ListAsync(Repo, Subject, Ct));
    }

    [Fact]
    public async Task List_UnknownSubject_ReturnsEmpty()
    {
        await _h.Referrers.AddAsync(Repo, Subject, Signature, Ct);

        Assert.Empty(await _h.Referrers.ListAsync(Repo, Digest.Compute(Bytes("other subject")), Ct));
        Assert.Empty(await _h.Referrers.ListAsync(Name("empty/repo"), Subject, Ct));
    }

    [Fact]
    public async Task Remove_DropsOnlyThatReferrer()
    {
        await _h.Referrers.AddAsync(Repo, Subject, Signature, Ct);
        await _h.Referrers.AddAsync(Repo, Subject, Sbom, Ct);

        Assert.True(await _h.Referrers.RemoveAsync(Repo, Subject, Signature, Ct));

        Assert.Equal([Sbom], await _h.Referrers.ListAsync(Repo, Subject, Ct));
    }

    [Fact]
    public async Task Remove_Unknown_ReturnsFalse()
    {
        Assert.False(await _h.Referrers.RemoveAsync(Repo, Subject, Signature, Ct));

        await _h.Referrers.AddAsync(Repo, Subject, Signature, Ct);
        Assert.True(await _h.Referrers.RemoveAsync(Repo, Subject, Signature, Ct));
        Assert.False(await _h.Referrers.RemoveAsync(Repo, Subject, Signature, Ct));
    }

    [Fact]
    public async Task Referrers_AreScopedToTheirRepository()
    {
        await _h.Referrers.AddAsync(Repo, Subject, Signature, Ct);

        Assert.Empty(await _h.Referrers.ListAsync(Name("library/other"), Subject, Ct));
    }

    [Fact]
    public async Task Add_WritesLinkHoldingTheReferrerDigest()
    {
        await _h.Referrers.AddAsync(Repo, Subject, Signature, Ct);

        var link = await _h.Driver.GetContentAsync(StoragePaths.ReferrerLink(Repo, Subject, Signature), 1024, Ct);

        Assert.Equal(Bytes(Signature.ToString()), link);
    }
}
