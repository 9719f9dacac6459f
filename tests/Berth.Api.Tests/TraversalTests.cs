using System.Text;
using System.Text.RegularExpressions;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>
/// Path traversal through every part of a request that ends up in a storage path: repository
/// name, tag, digest, upload id, mount source, pagination markers. Requests go over a raw socket
/// so that dot segments and escapes reach the server exactly as written. Afterwards nothing may
/// exist outside the storage root, and inside it nothing outside the registry layout.
/// </summary>
public sealed partial class TraversalTests
{
    private static string Marker() => "berth-escape-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Requests that try to escape, each naming <paramref name="marker"/> as the file or directory it would create.</summary>
    private static IEnumerable<(string Method, string Target, byte[]? Body, (string, string)[] Headers)> Attacks(string marker)
    {
        var deep = string.Concat(Enumerable.Repeat("..%2F", 16));
        var deepRaw = string.Concat(Enumerable.Repeat("../", 16));
        var deepDots = string.Concat(Enumerable.Repeat("%2e%2e/", 16));
        var blob = Encoding.UTF8.GetBytes("escape attempt " + marker);
        var digest = Oci.DigestOf(blob);
        var manifest = Oci.Manifest(Oci.EmptyDescriptor, []);
        (string, string)[] octet = [("Content-Type", Oci.OctetStream)];
        (string, string)[] json = [("Content-Type", Oci.ImageManifest)];
        var uploadId = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

        string[] names =
        [
            $"{deep}tmp%2F{marker}",
            $"{deepRaw}tmp/{marker}",
            $"{deepDots}tmp/{marker}",
            $"a/{deepDots}tmp/{marker}",
            $"..%2F{marker}",
            $"..%2F..%2F{marker}",
            $"..%2F..%2F..%2F{marker}",
            $"..%2F..%2F..%2F..%2F{marker}",
            $"..%2F..%2F..%2F..%2F..%2F{marker}",
            $"..%2F..%2F..%2F..%2F..%2F..%2F{marker}",
            $"%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f{marker}",
            $"..%5C..%5C..%5C..%5C..%5C{marker}",
            $"..\\..\\..\\..\\..\\{marker}",
            $"%2Ftmp%2F{marker}",
            $"{marker}%2F..%2F..%2F..%2F..%2F..%2F..%2F{marker}x",
            $"{marker}%00",
            $"{marker}/..%2F..%2F..%2F..%2F..",
        ];

        foreach (var name in names)
        {
            yield return ("POST", $"/v2/{name}/blobs/uploads/", [], octet);
            yield return ("POST", $"/v2/{name}/blobs/uploads/?digest={digest}", blob, octet);
            yield return ("PUT", $"/v2/{name}/manifests/latest", manifest, json);
            yield return ("PATCH", $"/v2/{name}/blobs/uploads/{uploadId}", blob, octet);
            yield return ("PUT", $"/v2/{name}/blobs/uploads/{uploadId}?digest={digest}", blob, octet);
            yield return ("DELETE", $"/v2/{name}/manifests/latest", null, []);
            yield return ("DELETE", $"/v2/{name}/blobs/{digest}", null, []);
            yield return ("GET", $"/v2/{name}/tags/list", null, []);
        }

        string[] tags = [$"..%2F..%2F..%2F..%2F{marker}", $"{deep}tmp%2F{marker}", $"..%5C..%5C{marker}", $"{marker}%2F..%2F..%2F..%2F..%2Fx"];
        foreach (var tag in tags)
        {
            yield return ("PUT", $"/v2/traversal/victim/manifests/{tag}", manifest, json);
            yield return ("DELETE", $"/v2/traversal/victim/manifests/{tag}", null, []);
        }

        string[] digests = [$"sha256:..%2F..%2F..%2F{marker}", $"sha256:{deep}{marker}", $"..%2F..%2F{marker}:abc", $"sha256%2F..%2F..%2F{marker}"];
        foreach (var bad in digests)
        {
            yield return ("GET", $"/v2/traversal/victim/blobs/{bad}", null, []);
            yield return ("DELETE", $"/v2/traversal/victim/blobs/{bad}", null, []);
            yield return ("PUT", $"/v2/traversal/victim/manifests/{bad}", manifest, json);
            yield return ("POST", $"/v2/traversal/victim/blobs/uploads/?digest={bad}", blob, octet);
            yield return ("GET", $"/v2/traversal/victim/referrers/{bad}", null, []);
        }

        string[] ids = [$"..%2F..%2F..%2F..%2F{marker}", $"{deep}tmp%2F{marker}", $"..%5C..%5C{marker}"];
        foreach (var id in ids)
        {
            yield return ("PATCH", $"/v2/traversal/victim/blobs/uploads/{id}", blob, octet);
            yield return ("PUT", $"/v2/traversal/victim/blobs/uploads/{id}?digest={digest}", blob, octet);
            yield return ("DELETE", $"/v2/traversal/victim/blobs/uploads/{id}", null, []);
            yield return ("GET", $"/v2/traversal/victim/blobs/uploads/{id}", null, []);
        }

        yield return ("POST", $"/v2/traversal/victim/blobs/uploads/?mount={digest}&from=..%2F..%2F..%2F..%2F{marker}", [], octet);
        yield return ("POST", $"/v2/traversal/victim/blobs/uploads/?mount=sha256:..%2F..%2F{marker}&from=traversal%2Fvictim", [], octet);
        yield return ("GET", $"/v2/traversal/victim/tags/list?n=10&last=..%2F..%2F..%2F..%2F{marker}", null, []);
        yield return ("GET", $"/v2/_catalog?n=10&last=..%2F..%2F..%2F..%2F{marker}", null, []);
        yield return ("GET", $"/v2/traversal/victim/referrers/{digest}?artifactType=..%2F..%2F{marker}", null, []);
    }

    [Fact]
    public async Task TraversalAttempts_WriteNothingOutsideTheStorageRoot()
    {
        await using var server = await BerthServer.StartAsync();
        await server.Client.PushImageAsync("traversal/victim", "v1");
        var marker = Marker();
        var before = SnapshotOutsideStorage(server);

        foreach (var (method, target, body, headers) in Attacks(marker))
        {
            await RawHttp.SendAsync(server.BaseAddress, method, target, body, headers);
        }

        Assert.Equal(before, SnapshotOutsideStorage(server));
        AssertNoMarkerOutside(server, marker);
    }

    [Fact]
    public async Task TraversalAttempts_NeverCauseServerErrors()
    {
        await using var server = await BerthServer.StartAsync();
        await server.Client.PushImageAsync("traversal/victim", "v1");
        var failures = new List<string>();

        foreach (var (method, target, body, headers) in Attacks(Marker()))
        {
            var response = await RawHttp.SendAsync(server.BaseAddress, method, target, body, headers);
            if (response.Status >= 500)
            {
                failures.Add($"{method} {target} -> {response.Status} {response.BodyText}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task TraversalAttempts_NeverSucceedAsWrites()
    {
        // A write whose name, tag, digest or id held a traversal must not be accepted.
        await using var server = await BerthServer.StartAsync();
        await server.Client.PushImageAsync("traversal/victim", "v1");
        var accepted = new List<string>();

        foreach (var (method, target, body, headers) in Attacks(Marker()))
        {
            var response = await RawHttp.SendAsync(server.BaseAddress, method, target, body, headers);
            if (method != "GET" && response.Status is >= 200 and < 300 && !target.Contains("mount=", StringComparison.Ordinal))
            {
                accepted.Add($"{method} {target} -> {response.Status}");
            }
        }

        Assert.True(accepted.Count == 0, "writes accepted:\n" + string.Join("\n", accepted));
    }

    [Fact]
    public async Task TraversalAttempts_LeaveOnlyRegistryLayoutInsideTheRoot()
    {
        await using var server = await BerthServer.StartAsync();
        await server.Client.PushImageAsync("traversal/victim", "v1");

        foreach (var (method, target, body, headers) in Attacks(Marker()))
        {
            await RawHttp.SendAsync(server.BaseAddress, method, target, body, headers);
        }

        var layoutRoot = Path.Combine(server.StorageRoot, "docker", "registry", "v2");
        // The filesystem driver's own scratch space for atomic writes is the one other entry allowed.
        var staging = Path.Combine(server.StorageRoot, Berth.Storage.Drivers.FilesystemDriver.StagingDirectoryName);
        foreach (var entry in Directory.EnumerateFileSystemEntries(server.StorageRoot, "*", SearchOption.AllDirectories))
        {
            var full = Path.GetFullPath(entry);
            Assert.True(full == Path.Combine(server.StorageRoot, "docker") || full == Path.Combine(server.StorageRoot, "docker", "registry")
                || full == layoutRoot || full.StartsWith(layoutRoot + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                || full == staging || full.StartsWith(staging + Path.DirectorySeparatorChar, StringComparison.Ordinal),
                $"{full} is outside the registry layout");
        }

        var repositories = Path.Combine(layoutRoot, "repositories");
        foreach (var directory in Directory.EnumerateDirectories(repositories, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(repositories, directory);
            var repositoryPart = relative.Split(Path.DirectorySeparatorChar).TakeWhile(c => !c.StartsWith('_')).ToArray();
            foreach (var component in repositoryPart)
            {
                Assert.True(NameComponent().IsMatch(component), $"repository directory component '{component}' in {relative} is not a valid name component");
            }
        }
    }

    /// <summary>Everything in the server's sandbox except the storage root, plus the sandbox's siblings in the temp directory named like a marker.</summary>
    private static string[] SnapshotOutsideStorage(BerthServer server) =>
        [.. Directory.EnumerateFileSystemEntries(server.Sandbox, "*", SearchOption.AllDirectories)
            .Where(e => !Path.GetFullPath(e).StartsWith(server.StorageRoot, StringComparison.Ordinal))
            .Select(e => Path.GetRelativePath(server.Sandbox, e))
            .Order(StringComparer.Ordinal)];

    private static void AssertNoMarkerOutside(BerthServer server, string marker)
    {
        string[] places = ["/", "/tmp", Path.GetTempPath(), Path.GetDirectoryName(server.Sandbox)!, server.Sandbox, Environment.CurrentDirectory, AppContext.BaseDirectory];
        foreach (var place in places.Where(Directory.Exists).Distinct())
        {
            var found = Directory.EnumerateFileSystemEntries(place, "*" + marker + "*", SearchOption.TopDirectoryOnly).ToList();
            Assert.True(found.Count == 0, $"traversal escaped: {string.Join(", ", found)}");
        }

        // Shallow escapes land between the storage root and the sandbox.
        var escaped = Directory.EnumerateFileSystemEntries(server.Sandbox, "*" + marker + "*", SearchOption.AllDirectories)
            .Where(e => !Path.GetFullPath(e).StartsWith(Path.Combine(server.StorageRoot, "docker", "registry", "v2", "repositories") + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .ToList();
        Assert.True(escaped.Count == 0, $"traversal escaped the repositories tree: {string.Join(", ", escaped)}");
    }

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")]
    private static partial Regex NameComponent();
}
