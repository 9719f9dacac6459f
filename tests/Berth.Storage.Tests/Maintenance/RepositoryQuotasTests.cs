using Berth.Core;
using Berth.Core.Errors;
using Berth.Storage.Drivers;
using Berth.Storage.Maintenance;

namespace Berth.Storage.Tests.Maintenance;

/// <summary>Quota use derived from the layout: what manifests reach, kept current by listing revisions at each check.</summary>
public sealed class RepositoryQuotasTests
{
    private static readonly RepositoryName Repository = MaintenanceHarness.Name("team/app");

    private readonly MaintenanceHarness _h = new(new InMemoryDriver());

    private static CancellationToken Ct => MaintenanceHarness.Ct;

    [Fact]
    public async Task StatusAsync_OfExistingContent_CountsEveryBlobManifestsReachOnce_AndNoUnreferencedUpload()
    {
        var first = await _h.PushImageAsync(Repository, "a", "one", ["shared layer", "first layer"]);
        var second = await _h.PushImageAsync(Repository, null, "two", ["shared layer"]);
        var index = await _h.PushIndexAsync(Repository, "multi", first, second);
        await _h.PutBlobAsync(Repository, "an upload no manifest names yet");
        var quotas = Quotas(limit: 1_000_000);

        var status = await quotas.StatusAsync(Repository, Ct);

        Assert.NotNull(status);
        Assert.Equal(await SizesAsync([.. first.AllBlobs.Concat(second.AllBlobs).Append(index).Distinct()]), status.UsedBytes);
    }

    [Fact]
    public async Task StatusAsync_AfterADeleteOrAPushElsewhere_FollowsStorage()
    {
        var quotas = Quotas(limit: 1_000_000);
        var otherReplica = Quotas(limit: 1_000_000);
        var first = await _h.PushImageAsync(Repository, "a", "one", ["shared layer", "first layer"]);
        var before = (await quotas.StatusAsync(Repository, Ct))!.UsedBytes;

        // Another replica accepts a manifest sharing a layer; this one sees it at its next check.
        var secondContent = MaintenanceHarness.Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{{MaintenanceHarness.Descriptor(MaintenanceHarness.OciConfig, first.Config, MaintenanceHarness.Bytes("{\"seed\":\"one\"}").Length)}},"layers":[{{MaintenanceHarness.Descriptor(MaintenanceHarness.OciLayer, first.Layers[0], MaintenanceHarness.Bytes("shared layer").Length)}}]}""");
        await otherReplica.PutManifestAsync(Repository, Reference.Parse("b"), secondContent, MediaTypes.OciManifest,
            () => _h.Manifests.PutAsync(Repository, Reference.Parse("b"), secondContent, MediaTypes.OciManifest, Ct), Ct);
        Assert.Equal(before + secondContent.Length, (await quotas.StatusAsync(Repository, Ct))!.UsedBytes);

        // A delete by anyone (garbage collection included) frees what only that manifest reached.
        Assert.True(await _h.Manifests.DeleteAsync(Repository, first.Manifest, Ct));
        Assert.Equal(await SizesAsync([Digest.Compute(secondContent), first.Config, first.Layers[0]]), (await quotas.StatusAsync(Repository, Ct))!.UsedBytes);
    }

    [Fact]
    public async Task PutManifestAsync_OverTheLimit_ThrowsDeniedAndWritesNothing()
    {
        var first = await _h.PushImageAsync(Repository, "a", "one", ["first layer"]);
        var used = await SizesAsync([.. first.AllBlobs]);
        var quotas = Quotas(limit: used + 10);
        var config = await _h.PutBlobAsync(Repository, "{\"seed\":\"two\"}");
        var content = MaintenanceHarness.Bytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{{MaintenanceHarness.Descriptor(MaintenanceHarness.OciConfig, config, 14)}},"layers":[]}""");
        var written = false;

        var refusal = await Assert.ThrowsAsync<RegistryException>(() => quotas.PutManifestAsync(Repository, Reference.Parse("b"), content,
            MediaTypes.OciManifest, () => { written = true; return Task.FromResult(0); }, Ct));

        Assert.Equal(ErrorCode.Denied, refusal.Code);
        Assert.False(written);
        Assert.Equal(used, (await quotas.StatusAsync(Repository, Ct))!.UsedBytes);
        // A blob the repository already counts is admitted whatever its size; a new one that does not fit is not.
        await quotas.AdmitBlobAsync(Repository, first.Layers[0], 1_000_000, Ct);
        await Assert.ThrowsAsync<RegistryException>(() => quotas.AdmitBlobAsync(Repository, Digest.Compute(MaintenanceHarness.Bytes("new")), 11, Ct));
    }

    [Fact]
    public async Task RuleFor_TheFirstMatchingRuleApplies_AndOtherRepositoriesHaveNone()
    {
        var quotas = new RepositoryQuotas(_h.Driver, _h.Manifests, _h.Blobs, [
            new QuotaRule("quotas.0", ["team/*"], 10, name => name.Value.StartsWith("team/", StringComparison.Ordinal)),
            new QuotaRule("quotas.1", ["**"], 20, _ => true)]);

        Assert.Equal("quotas.0", quotas.RuleFor(Repository)?.Key);
        Assert.Equal("quotas.1", quotas.RuleFor(MaintenanceHarness.Name("other"))?.Key);
        Assert.Null(await new RepositoryQuotas(_h.Driver, _h.Manifests, _h.Blobs, []).StatusAsync(Repository, Ct));
    }

    private RepositoryQuotas Quotas(long limit) =>
        new(_h.Driver, _h.Manifests, _h.Blobs, [new QuotaRule("quotas.0", ["team/**"], limit, _ => true)]);

    private async Task<long> SizesAsync(IEnumerable<Digest> digests)
    {
        long total = 0;
        foreach (var digest in digests)
        {
            total += (await _h.Blobs.StatStoredAsync(digest, Ct))!.Value;
        }

        return total;
    }
}
