using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests.Proxy;

/// <summary>
/// registry:2's proxy mode (<c>proxy.remoteurl</c>) against a real upstream registry on 127.0.0.1, with a real HTTP
/// fault injector between them: what reaches the upstream, what the client gets, and what lands in storage.
/// </summary>
public sealed class PullThroughCacheTests
{
    private static readonly string ManifestAccept = $"{Oci.ImageManifest}, {Oci.ImageIndex}";

    [Fact]
    public async Task Pull_ColdThenWarm_ServesUpstreamBytesAndAsksUpstreamForBlobsOnce()
    {
        await using var setup = await ProxySetup.StartAsync();
        var image = await setup.Upstream.Client.PushImageAsync("library/app", "1.0", layerSize: 300_000);
        var client = setup.Mirror.Client;

        for (var round = 0; round < 2; round++)
        {
            using var manifest = await GetManifestAsync(client, "library/app", "1.0");
            await OciAssert.StatusAsync(manifest, HttpStatusCode.OK);
            Assert.Equal(image.ManifestBytes, await manifest.Content.ReadAsByteArrayAsync());
            Assert.Equal(image.Manifest.Digest, manifest.Header("Docker-Content-Digest"));

            using var layer = await client.SendAsync(HttpMethod.Get, $"/v2/library/app/blobs/{image.Layer.Digest}");
            await OciAssert.StatusAsync(layer, HttpStatusCode.OK);
            Assert.Equal(image.LayerBytes, await layer.Content.ReadAsByteArrayAsync());
            using var config = await client.SendAsync(HttpMethod.Get, $"/v2/library/app/blobs/{image.Config.Digest}");
            Assert.Equal(image.ConfigBytes, await config.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(1, setup.Injector.Count("GET", $"/blobs/{image.Layer.Digest}"));
        Assert.Equal(1, setup.Injector.Count("GET", $"/blobs/{image.Config.Digest}"));
        await WaitUntilAsync(() => File.Exists(BlobFile(setup.MirrorStorage, image.Layer.Digest)), "the layer is stored");
        Assert.Equal(image.LayerBytes, await File.ReadAllBytesAsync(BlobFile(setup.MirrorStorage, image.Layer.Digest)));

        // By digest: content-addressed, so never asked again once cached.
        setup.Injector.ClearLog();
        using var byDigest = await GetManifestAsync(client, "library/app", image.Manifest.Digest);
        Assert.Equal(image.ManifestBytes, await byDigest.Content.ReadAsByteArrayAsync());
        Assert.Empty(setup.Injector.Requests);
    }

    [Fact]
    public async Task ManyConcurrentColdPulls_OfOneBlob_CostTheUpstreamOneGet()
    {
        await using var setup = await ProxySetup.StartAsync();
        var image = await setup.Upstream.Client.PushImageAsync("team/rollout", "v1", layerSize: 2 * 1024 * 1024);
        setup.Injector.BlobBytesPerSecond = 4 * 1024 * 1024;

        var pulls = Enumerable.Range(0, 32).Select(async _ =>
        {
            using var client = setup.Mirror.CreateClient();
            using var response = await client.SendAsync(HttpMethod.Get, $"/v2/team/rollout/blobs/{image.Layer.Digest}");
            await OciAssert.StatusAsync(response, HttpStatusCode.OK);
            return await response.Content.ReadAsByteArrayAsync();
        });

        foreach (var body in await Task.WhenAll(pulls))
        {
            Assert.Equal(image.LayerBytes, body);
        }

        Assert.Equal(1, setup.Injector.Count("GET", $"/blobs/{image.Layer.Digest}"));
    }

    [Fact]
    public async Task ManyConcurrentColdManifestPulls_CostTheUpstreamOneHeadAndOneGet()
    {
        await using var setup = await ProxySetup.StartAsync();
        var image = await setup.Upstream.Client.PushImageAsync("team/burst", "v1");

        var pulls = Enumerable.Range(0, 16).Select(async _ =>
        {
            using var client = setup.Mirror.CreateClient();
            using var response = await GetManifestAsync(client, "team/burst", "v1");
            await OciAssert.StatusAsync(response, HttpStatusCode.OK);
            return await response.Content.ReadAsByteArrayAsync();
        });

        foreach (var body in await Task.WhenAll(pulls))
        {
            Assert.Equal(image.ManifestBytes, body);
        }

        Assert.Equal(1, setup.Injector.Count("GET", "/manifests/"));
        Assert.Equal(1, setup.Injector.Count("HEAD", "/manifests/v1"));
    }

    [Fact]
    public async Task BlobHead_Uncached_AsksUpstreamWithHeadAndFetchesNothing()
    {
        await using var setup = await ProxySetup.StartAsync();
        var image = await setup.Upstream.Client.PushImageAsync("team/head", "v1", layerSize: 5000);

        using var head = await setup.Mirror.Client.SendAsync(HttpMethod.Head, $"/v2/team/head/blobs/{image.Layer.Digest}");

        await OciAssert.StatusAsync(head, HttpStatusCode.OK);
        Assert.Equal(5000, head.Content.Headers.ContentLength);
        Assert.Equal(0, setup.Injector.Count("GET", "/blobs/"));
        Assert.False(File.Exists(BlobFile(setup.MirrorStorage, image.Layer.Digest)));
    }

    [Fact]
    public async Task RangeRequest_UncachedAndCached_ReturnsThePart()
    {
        await using var setup = await ProxySetup.StartAsync();
        var image = await setup.Upstream.Client.PushImageAsync("team/range", "v1", layerSize: 100_000);

        for (var round = 0; round < 2; round++)
        {
            using var request = RegistryClient.Request(HttpMethod.Get, $"/v2/team/range/blobs/{image.Layer.Digest}");
            request.Headers.Range = new RangeHeaderValue(60_000, 60_099);
            using var response = await setup.Mirror.Client.SendAsync(request);
            await OciAssert.StatusAsync(response, HttpStatusCode.PartialContent);
            Assert.Equal(image.LayerBytes[60_000..60_100], await response.Content.ReadAsByteArrayAsync());
            Assert.Equal("bytes 60000-60099/100000", response.Content.Headers.ContentRange?.ToString());
            await WaitUntilAsync(() => File.Exists(BlobFile(setup.MirrorStorage, image.Layer.Digest)), "the whole blob is cached");
        }

        Assert.Equal(1, setup.Injector.Count("GET", "/blobs/"));
    }

    [Theory]
    [InlineData(UpstreamFault.CorruptBlobByte)]
    [InlineData(UpstreamFault.CutBlobBodyShort)]
    public async Task BadUpstreamBody_CutsTheClientAndStoresNothing_ThenAGoodBodyHeals(UpstreamFault fault)
    {
        await using var setup = await ProxySetup.StartAsync();
        var image = await setup.Upstream.Client.PushImageAsync("team/corrupt", "v1", layerSize: 1_000_000);
        setup.Injector.Fault = fault;

        // Either the body went bad after bytes were sent (the connection is cut), or before (a plain 502 naming the
        // upstream's fault); never a whole response.
        var failure = await Record.ExceptionAsync(async () =>
        {
            using var response = await setup.Mirror.Client.SendAsync(HttpMethod.Get, $"/v2/team/corrupt/blobs/{image.Layer.Digest}");
            if (response.StatusCode == HttpStatusCode.BadGateway)
            {
                await OciAssert.ErrorAsync(response, HttpStatusCode.BadGateway, "UNAVAILABLE");
                throw new IOException("answered 502 before any byte");
            }

            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.Fail($"the client got a whole response of {body.Length} bytes ({response.StatusCode})");
        });

        Assert.True(failure is HttpRequestException or IOException, $"expected the connection to be cut or a 502, got {failure}");
        Assert.False(File.Exists(BlobFile(setup.MirrorStorage, image.Layer.Digest)), "a bad body must never be stored");

        setup.Injector.Fault = UpstreamFault.None;
        using var healed = await setup.Mirror.Client.SendAsync(HttpMethod.Get, $"/v2/team/corrupt/blobs/{image.Layer.Digest}");
        await OciAssert.StatusAsync(healed, HttpStatusCode.OK);
        Assert.Equal(image.LayerBytes, await healed.Content.ReadAsByteArrayAsync());
        await WaitUntilAsync(() => File.Exists(BlobFile(setup.MirrorStorage, image.Layer.Digest)), "the good copy is stored");
        Assert.Equal(image.LayerBytes, await File.ReadAllBytesAsync(BlobFile(setup.MirrorStorage, image.Layer.Digest)));
    }

    [Fact]
    public async Task MovedUpstreamTag_IsSeenAfterTheCheckInterval_AndACheckIsOneHead()
    {
        await using var setup = await ProxySetup.StartAsync(proxyYaml: "  tagcheckinterval: 3s");
        var first = await setup.Upstream.Client.PushImageAsync("team/moving", "latest");
        using (var warm = await GetManifestAsync(setup.Mirror.Client, "team/moving", "latest"))
        {
            Assert.Equal(first.Manifest.Digest, warm.Header("Docker-Content-Digest"));
        }

        var second = await setup.Upstream.Client.PushImageAsync("team/moving", "latest");
        setup.Injector.ClearLog();
        using (var withinInterval = await GetManifestAsync(setup.Mirror.Client, "team/moving", "latest"))
        {
            Assert.Equal(first.Manifest.Digest, withinInterval.Header("Docker-Content-Digest"));
        }

        Assert.Empty(setup.Injector.Requests);

        await Task.Delay(3200);
        using (var afterInterval = await GetManifestAsync(setup.Mirror.Client, "team/moving", "latest"))
        {
            Assert.Equal(second.Manifest.Digest, afterInterval.Header("Docker-Content-Digest"));
            Assert.Equal(second.ManifestBytes, await afterInterval.Content.ReadAsByteArrayAsync());
        }

        // An unchanged tag after the interval costs one HEAD and no GET.
        await Task.Delay(3200);
        setup.Injector.ClearLog();
        using (var unchanged = await GetManifestAsync(setup.Mirror.Client, "team/moving", "latest"))
        {
            Assert.Equal(second.Manifest.Digest, unchanged.Header("Docker-Content-Digest"));
        }

        Assert.Equal(["HEAD /v2/team/moving/manifests/latest"], setup.Injector.Requests);
    }

    [Theory]
    [InlineData(UpstreamFault.Refuse)]
    [InlineData(UpstreamFault.ServiceUnavailable)]
    [InlineData(UpstreamFault.TooManyRequests)]
    [InlineData(UpstreamFault.Hang)]
    public async Task UpstreamFailing_CachedContentStillServes_UnseenContentGetsAnUpstreamError(UpstreamFault fault)
    {
        await using var setup = await ProxySetup.StartAsync(proxyYaml: "  tagcheckinterval: 0s\n  requesttimeout: 2s");
        var cached = await setup.Upstream.Client.PushImageAsync("team/outage", "v1");
        var unseen = await setup.Upstream.Client.PushImageAsync("team/outage", "v2");
        await PullWholeImageAsync(setup.Mirror.Client, "team/outage", "v1", cached);

        setup.Injector.Fault = fault;

        await PullWholeImageAsync(setup.Mirror.Client, "team/outage", "v1", cached);
        using (var byDigest = await GetManifestAsync(setup.Mirror.Client, "team/outage", cached.Manifest.Digest))
        {
            Assert.Equal(cached.ManifestBytes, await byDigest.Content.ReadAsByteArrayAsync());
        }

        using var missing = await GetManifestAsync(setup.Mirror.Client, "team/outage", unseen.Manifest.Digest);
        var expected = fault == UpstreamFault.TooManyRequests ? HttpStatusCode.TooManyRequests
            : fault == UpstreamFault.ServiceUnavailable ? HttpStatusCode.BadGateway : HttpStatusCode.ServiceUnavailable;
        var errors = await OciAssert.ErrorAsync(missing, expected, fault == UpstreamFault.TooManyRequests ? "TOOMANYREQUESTS" : "UNAVAILABLE");
        Assert.Contains("upstream", errors[0].GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpstreamAnswering429_WithRetryAfter_IsNotAskedAgainUntilThen()
    {
        await using var setup = await ProxySetup.StartAsync();
        var image = await setup.Upstream.Client.PushImageAsync("team/limited", "v1");
        setup.Injector.Fault = UpstreamFault.TooManyRequests;
        setup.Injector.RetryAfterSeconds = 30;

        using (var first = await GetManifestAsync(setup.Mirror.Client, "team/limited", image.Manifest.Digest))
        {
            await OciAssert.ErrorAsync(first, HttpStatusCode.TooManyRequests, "TOOMANYREQUESTS");
            Assert.InRange(int.Parse(first.Header("Retry-After")!, System.Globalization.CultureInfo.InvariantCulture), 28, 30);
        }

        setup.Injector.Fault = UpstreamFault.None;
        var asked = setup.Injector.Requests.Count;
        for (var i = 0; i < 5; i++)
        {
            using var again = await setup.Mirror.Client.SendAsync(HttpMethod.Get, $"/v2/team/limited/blobs/{image.Layer.Digest}");
            await OciAssert.ErrorAsync(again, HttpStatusCode.TooManyRequests, "TOOMANYREQUESTS");
        }

        Assert.Equal(asked, setup.Injector.Requests.Count);
    }

    [Fact]
    public async Task Writes_AreRefusedWith405Unsupported()
    {
        await using var setup = await ProxySetup.StartAsync();
        var content = Oci.RandomBytes(10);

        using var upload = await setup.Mirror.Client.SendAsync(HttpMethod.Post, $"/v2/team/app/blobs/uploads/?digest={Oci.DigestOf(content)}",
            RegistryClient.Bytes(content));
        await OciAssert.ErrorAsync(upload, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");

        using var put = await setup.Mirror.Client.PutManifestAsync("team/app", "v1", Oci.ImageManifest,
            Oci.Manifest(Oci.EmptyDescriptor, []));
        await OciAssert.ErrorAsync(put, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");

        using var delete = await setup.Mirror.Client.SendAsync(HttpMethod.Delete, $"/v2/team/app/manifests/{Oci.AbsentDigest()}");
        await OciAssert.ErrorAsync(delete, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
        Assert.Empty(setup.Injector.Requests);
    }

    [Fact]
    public async Task TagList_PassesThroughPageByPage_AndFallsBackToCachedTagsWhenUpstreamFails()
    {
        await using var setup = await ProxySetup.StartAsync();
        foreach (var tag in new[] { "a", "b", "c" })
        {
            await setup.Upstream.Client.PushImageAsync("team/tags", tag);
        }

        using (var page = await setup.Mirror.Client.SendAsync(HttpMethod.Get, "/v2/team/tags/tags/list?n=2"))
        {
            await OciAssert.StatusAsync(page, HttpStatusCode.OK);
            Assert.Equal(["a", "b"], TagsOf(await page.Content.ReadAsStringAsync()));
            Assert.Equal("</v2/team/tags/tags/list?n=2&last=b>; rel=\"next\"", page.Header("Link"));
        }

        using (var next = await setup.Mirror.Client.SendAsync(HttpMethod.Get, "/v2/team/tags/tags/list?n=2&last=b"))
        {
            Assert.Equal(["c"], TagsOf(await next.Content.ReadAsStringAsync()));
        }

        using (await GetManifestAsync(setup.Mirror.Client, "team/tags", "b"))
        {
        }

        setup.Injector.Fault = UpstreamFault.ServiceUnavailable;
        using var cached = await setup.Mirror.Client.SendAsync(HttpMethod.Get, "/v2/team/tags/tags/list");
        await OciAssert.StatusAsync(cached, HttpStatusCode.OK);
        Assert.Equal(["b"], TagsOf(await cached.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task Ttl_ExpiresCachedContent_AndTheNextPullFetchesItAgain_AcrossARestart()
    {
        await using var setup = await ProxySetup.StartAsync(proxyYaml: "  ttl: 8s");
        var image = await setup.Upstream.Client.PushImageAsync("team/ttl", "v1", layerSize: 4000);
        await PullWholeImageAsync(setup.Mirror.Client, "team/ttl", "v1", image);
        var layerFile = BlobFile(setup.MirrorStorage, image.Layer.Digest);
        await WaitUntilAsync(() => File.Exists(layerFile) && File.Exists(Path.Combine(setup.MirrorStorage,
            "docker/registry/v2/repositories/team/ttl/_layers/sha256", image.Layer.Digest["sha256:".Length..], "link")), "the layer is cached");

        // The schedule is registry:2's scheduler-state.json, written when the registry stops; the next one reads it.
        await setup.RestartMirrorAsync(proxyYaml: "  ttl: 8s");
        using (var state = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(setup.MirrorStorage, "scheduler-state.json"))))
        {
            Assert.Contains(state.RootElement.EnumerateObject(), e => e.Name == $"team/ttl@{image.Layer.Digest}"
                && e.Value.GetProperty("EntryType").GetInt32() == 0 && e.Value.TryGetProperty("ExpiryData", out _));
            Assert.Contains(state.RootElement.EnumerateObject(), e => e.Name == $"team/ttl@{image.Manifest.Digest}"
                && e.Value.GetProperty("EntryType").GetInt32() == 1);
        }

        await WaitUntilAsync(() => !File.Exists(layerFile), "the layer expires", TimeSpan.FromSeconds(30));
        await WaitUntilAsync(() => !Directory.Exists(Path.Combine(setup.MirrorStorage,
            "docker/registry/v2/repositories/team/ttl/_manifests/revisions/sha256", image.Manifest.Digest["sha256:".Length..])), "the manifest expires");

        setup.Injector.ClearLog();
        await PullWholeImageAsync(setup.Mirror.Client, "team/ttl", "v1", image);
        Assert.Equal(1, setup.Injector.Count("GET", $"/blobs/{image.Layer.Digest}"));
    }

    [Fact]
    public async Task ZeroTtl_LeavesAnOldScheduleAlone_AsRegistry2Does()
    {
        await using var setup = await ProxySetup.StartAsync(proxyYaml: "  ttl: 0s");
        var image = await setup.Upstream.Client.PushImageAsync("team/keep", "v1");
        await PullWholeImageAsync(setup.Mirror.Client, "team/keep", "v1", image);
        var layerFile = BlobFile(setup.MirrorStorage, image.Layer.Digest);
        await WaitUntilAsync(() => File.Exists(layerFile), "the layer is cached");

        // A schedule left by an earlier configuration, long due: with ttl 0 nothing runs it.
        await File.WriteAllTextAsync(Path.Combine(setup.MirrorStorage, "scheduler-state.json"),
            $$$"""{"team/keep@{{{image.Layer.Digest}}}":{"Key":"team/keep@{{{image.Layer.Digest}}}","ExpiryData":"2020-01-01T00:00:00Z","EntryType":0}}""");
        await setup.RestartMirrorAsync(proxyYaml: "  ttl: 0s");
        await Task.Delay(1500);

        Assert.True(File.Exists(layerFile));
        await PullWholeImageAsync(setup.Mirror.Client, "team/keep", "v1", image);
    }

    [Fact]
    public async Task IndexPull_CachesOnlyThePlatformPulled()
    {
        await using var setup = await ProxySetup.StartAsync();
        var amd64 = await setup.Upstream.Client.PushImageAsync("team/multi", null);
        var arm64 = await setup.Upstream.Client.PushImageAsync("team/multi", null);
        var index = Oci.Index([amd64.Manifest, arm64.Manifest]);
        await setup.Upstream.Client.PushManifestAsync("team/multi", "v1", Oci.ImageIndex, index);

        using (var listed = await GetManifestAsync(setup.Mirror.Client, "team/multi", "v1"))
        {
            Assert.Equal(index, await listed.Content.ReadAsByteArrayAsync());
        }

        await PullWholeImageAsync(setup.Mirror.Client, "team/multi", amd64.Manifest.Digest, amd64);

        var revisions = Path.Combine(setup.MirrorStorage, "docker/registry/v2/repositories/team/multi/_manifests/revisions/sha256");
        Assert.True(Directory.Exists(Path.Combine(revisions, amd64.Manifest.Digest["sha256:".Length..])));
        Assert.False(Directory.Exists(Path.Combine(revisions, arm64.Manifest.Digest["sha256:".Length..])));
        Assert.False(File.Exists(BlobFile(setup.MirrorStorage, arm64.Layer.Digest)));
    }

    [Fact]
    public async Task UnknownContent_Upstream404_Is404WithOciBody()
    {
        await using var setup = await ProxySetup.StartAsync();

        using var manifest = await GetManifestAsync(setup.Mirror.Client, "team/none", "v1");
        await OciAssert.ErrorAsync(manifest, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using var blob = await setup.Mirror.Client.SendAsync(HttpMethod.Get, $"/v2/team/none/blobs/{Oci.AbsentDigest()}");
        await OciAssert.ErrorAsync(blob, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        using var tags = await setup.Mirror.Client.SendAsync(HttpMethod.Get, "/v2/team/none/tags/list");
        await OciAssert.ErrorAsync(tags, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Fact]
    public async Task BlobOfAnotherRepository_IsLinkedOnlyWhenTheUpstreamRepositoryHasIt()
    {
        await using var setup = await ProxySetup.StartAsync();
        var image = await setup.Upstream.Client.PushImageAsync("team/one", "v1");
        using (var first = await setup.Mirror.Client.SendAsync(HttpMethod.Get, $"/v2/team/one/blobs/{image.Layer.Digest}"))
        {
            await OciAssert.StatusAsync(first, HttpStatusCode.OK);
        }

        await WaitUntilAsync(() => File.Exists(BlobFile(setup.MirrorStorage, image.Layer.Digest)), "the layer is cached");

        // team/two does not have the layer upstream: knowing its digest must not open it there.
        using var other = await setup.Mirror.Client.SendAsync(HttpMethod.Get, $"/v2/team/two/blobs/{image.Layer.Digest}");
        await OciAssert.ErrorAsync(other, HttpStatusCode.NotFound, "BLOB_UNKNOWN");

        // Once it does, the stored bytes are linked without fetching them again.
        using (var mount = await setup.Upstream.Client.SendAsync(HttpMethod.Post, $"/v2/team/two/blobs/uploads/?mount={image.Layer.Digest}&from=team/one"))
        {
            await OciAssert.StatusAsync(mount, HttpStatusCode.Created);
        }

        setup.Injector.ClearLog();
        using var linked = await setup.Mirror.Client.SendAsync(HttpMethod.Get, $"/v2/team/two/blobs/{image.Layer.Digest}");
        Assert.Equal(image.LayerBytes, await linked.Content.ReadAsByteArrayAsync());
        Assert.Equal(0, setup.Injector.Count("GET", "/blobs/"));
    }

    internal static async Task<HttpResponseMessage> GetManifestAsync(HttpClient client, string repository, string reference)
    {
        using var request = RegistryClient.Request(HttpMethod.Get, $"/v2/{repository}/manifests/{reference}");
        request.Headers.TryAddWithoutValidation("Accept", ManifestAccept);
        return await client.SendAsync(request);
    }

    internal static async Task PullWholeImageAsync(HttpClient client, string repository, string reference, PushedImage image, string query = "")
    {
        using var manifest = await GetManifestAsync(client, repository, reference + query);
        await OciAssert.StatusAsync(manifest, HttpStatusCode.OK);
        Assert.Equal(image.ManifestBytes, await manifest.Content.ReadAsByteArrayAsync());
        foreach (var (digest, bytes) in new[] { (image.Config.Digest, image.ConfigBytes), (image.Layer.Digest, image.LayerBytes) })
        {
            using var blob = await client.SendAsync(HttpMethod.Get, $"/v2/{repository}/blobs/{digest}{query}");
            await OciAssert.StatusAsync(blob, HttpStatusCode.OK);
            Assert.Equal(bytes, await blob.Content.ReadAsByteArrayAsync());
        }
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        Assert.True(await Eventually.TrueAsync(condition, timeout ?? TimeSpan.FromSeconds(10)), $"timed out waiting until {what}");

    internal static string BlobFile(string root, string digest)
    {
        var hex = digest["sha256:".Length..];
        return Path.Combine(root, "docker/registry/v2/blobs/sha256", hex[..2], hex, "data");
    }

    private static List<string> TagsOf(string json)
    {
        using var document = JsonDocument.Parse(json);
        return [.. document.RootElement.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!)];
    }
}
