using System.Net;
using System.Text.Json;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// Last-pull times over real HTTP: a manifest GET is remembered in memory, written to the replica's own object under
/// <c>_berth_pulltimes</c> by the periodic flush and at shutdown, and read back by the next process on the same storage.
/// </summary>
public sealed class PullTimeTests : IDisposable
{
    private readonly string _storage = Directory.CreateTempSubdirectory("berth-pulltimes-").FullName;

    public void Dispose() => Directory.Delete(_storage, recursive: true);

    private string ObjectPath(string replica) => Path.Combine(_storage, "docker", "registry", "v2", "_berth_pulltimes", replica + ".json");

    private Task<BerthServer> StartAsync(string replica, string flushInterval) => BerthServer.StartAsync(new BerthServerOptions
    {
        StorageRoot = _storage,
        ExtraYaml = $"retention:\n  rules:\n    - repositories: [\"**\"]\n      keep:\n        pulledwithin: 720h\n  pulltimes:\n    replica: {replica}\n    flushinterval: {flushInterval}\n",
    });

    private static async Task PullAsync(HttpClient client, string repository, string reference)
    {
        using var response = await client.SendAsync(HttpMethod.Get, $"/v2/{repository}/manifests/{reference}", null, ("Accept", ManifestKinds.AcceptAll));
        await OciAssert.StatusAsync(response, HttpStatusCode.OK);
    }

    private Dictionary<string, DateTimeOffset> TimesOf(string replica, string repository)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(ObjectPath(replica)));
        return document.RootElement.GetProperty("repositories").TryGetProperty(repository, out var entries)
            ? entries.EnumerateObject().ToDictionary(e => e.Name, e => e.Value.GetDateTimeOffset())
            : [];
    }

    [Fact]
    public async Task Pull_IsWrittenAtShutdownAndKeptByTheNextProcess()
    {
        var repository = Oci.UniqueRepository("pulls");
        PushedImage first, second;
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await using (var server = await StartAsync("replica-a", "1h"))
        {
            first = await server.Client.PushImageAsync(repository, "v1");
            second = await server.Client.PushImageAsync(repository, "v2");
            await PullAsync(server.Client, repository, "v1");
            using var head = await server.Client.SendAsync(HttpMethod.Head, $"/v2/{repository}/manifests/v2", null, ("Accept", ManifestKinds.AcceptAll));
            await OciAssert.StatusAsync(head, HttpStatusCode.OK);

            // An hour's flush interval: nothing is written while serving.
            Assert.False(File.Exists(ObjectPath("replica-a")));
        }

        var afterFirst = TimesOf("replica-a", repository);
        Assert.Equal([first.Manifest.Digest], afterFirst.Keys);
        Assert.InRange(afterFirst[first.Manifest.Digest], before, DateTimeOffset.UtcNow);

        await using (var server = await StartAsync("replica-a", "1h"))
        {
            await PullAsync(server.Client, repository, second.Manifest.Digest);
        }

        var afterRestart = TimesOf("replica-a", repository);
        Assert.Equal(afterFirst[first.Manifest.Digest], afterRestart[first.Manifest.Digest]);
        Assert.True(afterRestart.ContainsKey(second.Manifest.Digest));
    }

    [Fact]
    public async Task Pull_IsWrittenByThePeriodicFlushWhileServing()
    {
        var repository = Oci.UniqueRepository("pulls");
        await using var server = await StartAsync("replica-b", "200ms");
        var image = await server.Client.PushImageAsync(repository, "v1");

        await PullAsync(server.Client, repository, "v1");

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!File.Exists(ObjectPath("replica-b")) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.True(TimesOf("replica-b", repository).ContainsKey(image.Manifest.Digest));
        Assert.False(Directory.Exists(Path.Combine(_storage, "docker", "registry", "v2", "repositories", "_berth_pulltimes")));
    }

    [Fact]
    public async Task NoRuleReadsPullTimes_PullsAreNotRecorded()
    {
        var repository = Oci.UniqueRepository("pulls");
        await using (var server = await BerthServer.StartAsync(new BerthServerOptions
        {
            StorageRoot = _storage,
            ExtraYaml = "retention:\n  rules:\n    - repositories: [\"**\"]\n      keep:\n        latest: 5\n  pulltimes:\n    replica: unread\n    flushinterval: 100ms\n",
        }))
        {
            await server.Client.PushImageAsync(repository, "v1");
            await PullAsync(server.Client, repository, "v1");
            await Task.Delay(500);
        }

        Assert.False(Directory.Exists(Path.GetDirectoryName(ObjectPath("unread"))));
    }

    [Fact]
    public async Task ReadOnlyRegistry_WritesNoPullTimes()
    {
        var repository = Oci.UniqueRepository("pulls");
        await using (var writable = await StartAsync("writer", "1h"))
        {
            await writable.Client.PushImageAsync(repository, "v1");
        }

        await using (var readOnly = await BerthServer.StartAsync(new BerthServerOptions
        {
            StorageRoot = _storage,
            ReadOnly = true,
            ExtraYaml = "retention:\n  rules:\n    - repositories: [\"**\"]\n      keep:\n        pulledwithin: 720h\n  pulltimes:\n    replica: reader\n    flushinterval: 100ms\n",
        }))
        {
            await PullAsync(readOnly.Client, repository, "v1");
        }

        Assert.False(File.Exists(ObjectPath("reader")));
    }
}
