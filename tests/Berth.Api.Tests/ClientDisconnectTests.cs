using Berth.Api.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Berth.Api.Tests;

/// <summary>
/// A client that vanishes mid-body is not a server error (architecture "Errors"; style: "When the
/// client aborted, log at Information and skip the 5xx"; registry:2's copyFullPayload logs 499).
/// The server's own logs are the only witness, so these tests read them.
/// </summary>
public sealed class ClientDisconnectTests
{
    private const string HostingCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    public static TheoryData<string> Requests => ["single-post", "patch", "put-upload", "put-manifest"];

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task ClientDisconnectMidBody_IsNotLoggedAsErrorNorAnswered500(string request)
    {
        await using var server = await BerthServer.StartAsync(new BerthServerOptions { LogLevel = "debug" });
        var repository = Oci.UniqueRepository("disconnect");
        var full = Oci.RandomBytes(1000);
        var location = await server.Client.StartUploadAsync(repository);
        var (method, target, contentType) = request switch
        {
            "single-post" => ("POST", $"/v2/{repository}/blobs/uploads/?digest={Oci.DigestOf(full)}", Oci.OctetStream),
            "patch" => ("PATCH", location.PathAndQuery, Oci.OctetStream),
            "put-upload" => ("PUT", RegistryClient.WithDigest(location, Oci.DigestOf(full)).PathAndQuery, Oci.OctetStream),
            _ => ("PUT", $"/v2/{repository}/manifests/latest", Oci.ImageManifest),
        };
        var path = target.Split('?')[0];

        await RawHttp.SendTruncatedAsync(server.BaseAddress, method, target, full.Length, full[..10], ("Content-Type", contentType));

        var finished = await Eventually.TrueAsync(() => server.Logs.Entries.Any(e => IsRequestFinished(e, method, path)));
        Assert.True(finished, "the server never finished the truncated request");
        var status = server.Logs.Entries.Where(e => IsRequestFinished(e, method, path))
            .Select(e => Convert.ToInt32(e.Value("StatusCode"), System.Globalization.CultureInfo.InvariantCulture)).Single();
        var errors = server.Logs.Entries.Where(e => e.Level >= LogLevel.Error).ToList();
        Assert.True(errors.Count == 0, $"client disconnect (request finished with {status}) logged as error:\n" + string.Join("\n", errors));
        Assert.True(status < 500, $"the truncated {method} was answered {status}");
    }

    private static bool IsRequestFinished(LogEntry entry, string method, string path) =>
        entry.Category == HostingCategory && entry.EventId.Id == 2
        && string.Equals(entry.Value("Method") as string, method, StringComparison.Ordinal)
        && string.Equals((entry.Value("PathBase") as string) + (entry.Value("Path") as string), path, StringComparison.Ordinal);
}
