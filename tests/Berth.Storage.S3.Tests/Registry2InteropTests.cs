using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Berth.Storage.Drivers;
using Berth.Storage.S3.Tests.Infrastructure;

namespace Berth.Storage.S3.Tests;

/// <summary>
/// Distribution 2.8.2 (Debian's <c>docker-registry</c>, the registry:2 baseline) and the S3 driver share
/// one bucket and root directory: what either writes, the other serves. This is the layout promise that
/// lets a registry:2 deployment on S3 switch to Berth without moving data.
/// </summary>
public sealed class Registry2InteropTests(S3Fixture fixture) : IClassFixture<S3Fixture>, IAsyncLifetime
{
    private const string Registry2Binary = "/usr/bin/docker-registry";
    private readonly string _root = $"{S3TestStore.RunPrefix}/{nameof(Registry2InteropTests)}/{Guid.NewGuid():N}";
    private readonly HttpClient _http = new(new HttpClientHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromMinutes(2) };
    private readonly string _configDirectory = Path.Combine(Path.GetTempPath(), "berth-registry2-" + Guid.NewGuid().ToString("N"));
    private Process? _registry;
    private StringBuilder? _registryLog;
    private S3Driver? _driver;

    private static CancellationToken Ct => CancellationToken.None;

    private IStorageDriver Driver => new ValidatingDriver(_driver ??= fixture.CreateDriver("/" + _root));

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(Registry2Binary), $"{Registry2Binary} (Debian's docker-registry, Distribution 2.8.2) is required: apt-get install docker-registry");
        var port = FreePort();
        var endpoint = fixture.Endpoint;
        Directory.CreateDirectory(_configDirectory);
        var config = Path.Combine(_configDirectory, "config.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              level: warn
              accesslog:
                disabled: true
            storage:
              s3:
                accesskey: {endpoint.AccessKey}
                secretkey: {endpoint.SecretKey}
                region: {endpoint.Region}
                regionendpoint: {endpoint.Url}
                bucket: {endpoint.Bucket}
                rootdirectory: /{_root}
                secure: false
                v4auth: true
                chunksize: 5242880
              redirect:
                disable: true
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{port}
            """, Ct);

        var start = new ProcessStartInfo(Registry2Binary, ["serve", config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // Distribution 2.8.2 crashes at start-up when AWS_CA_BUNDLE is set (../shared/tools/README.md).
        start.Environment.Remove("AWS_CA_BUNDLE");
        _registryLog = new StringBuilder();
        _registry = Process.Start(start)!;
        _registry.OutputDataReceived += (_, e) => Append(e.Data);
        _registry.ErrorDataReceived += (_, e) => Append(e.Data);
        _registry.BeginOutputReadLine();
        _registry.BeginErrorReadLine();
        _http.BaseAddress = new Uri($"http://127.0.0.1:{port}");

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var response = await _http.GetAsync(new Uri("/v2/", UriKind.Relative), Ct);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (!_registry.HasExited && DateTime.UtcNow < deadline)
            {
            }

            Assert.False(_registry.HasExited || DateTime.UtcNow >= deadline, "docker-registry did not start:\n" + RegistryLog());
            await Task.Delay(100, Ct);
        }
    }

    public async Task DisposeAsync()
    {
        if (_registry is { HasExited: false })
        {
            _registry.Kill();
            await _registry.WaitForExitAsync(Ct);
        }

        _registry?.Dispose();
        _http.Dispose();
        _driver?.Dispose();
        Directory.Delete(_configDirectory, recursive: true);
        await S3TestStore.DeletePrefixAsync(fixture.Endpoint, _root + "/");
    }

    [Fact]
    public async Task BlobsPushedToRegistry2_AreReadByTheDriverAtTheSamePaths()
    {
        var small = RandomBytes(1000, 1);
        var large = RandomBytes(13 * 1024 * 1024 + 17, 2);

        var smallDigest = await PushMonolithicAsync("interop/app", small);
        var largeDigest = await PushChunkedAsync("interop/app", large, 6 * 1024 * 1024);

        foreach (var (digest, content) in new[] { (smallDigest, small), (largeDigest, large) })
        {
            var hex = digest["sha256:".Length..];
            Assert.Equal(Encoding.ASCII.GetBytes(digest),
                await Driver.GetContentAsync($"/docker/registry/v2/repositories/interop/app/_layers/sha256/{hex}/link", 1000, Ct));
            await using var stream = await Driver.OpenReadAsync($"/docker/registry/v2/blobs/sha256/{hex[..2]}/{hex}/data", 0, Ct);
            Assert.Equal(SHA256.HashData(content), await SHA256.HashDataAsync(stream, Ct));
        }

        Assert.Equal(["/docker/registry/v2/repositories/interop/app"], await Driver.ListAsync("/docker/registry/v2/repositories/interop", Ct));
    }

    [Fact]
    public async Task BlobsWrittenByTheDriver_AreServedByRegistry2()
    {
        var content = RandomBytes(11 * 1024 * 1024 + 5, 3);
        var hex = Convert.ToHexStringLower(SHA256.HashData(content));
        var upload = "/docker/registry/v2/repositories/interop/berth/_uploads/0b0e5f6c-4a9e-4b83-9d4c-1d2f0e7a9c31/data";

        // As Berth's upload store does it: two append sessions, a server-side move, then the link.
        for (var (offset, i) = (0, 0); offset < content.Length; offset += 6 * 1024 * 1024, i++)
        {
            await using var writer = await Driver.OpenWriteAsync(upload, append: true, Ct);
            await writer.WriteAsync(content.AsMemory(offset, Math.Min(6 * 1024 * 1024, content.Length - offset)), Ct);
        }

        await Driver.MoveAsync(upload, $"/docker/registry/v2/blobs/sha256/{hex[..2]}/{hex}/data", Ct);
        await Driver.PutContentAsync($"/docker/registry/v2/repositories/interop/berth/_layers/sha256/{hex}/link", Encoding.ASCII.GetBytes("sha256:" + hex), Ct);

        using var response = await _http.GetAsync(new Uri($"/v2/interop/berth/blobs/sha256:{hex}", UriKind.Relative), Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync(Ct)}\n{RegistryLog()}");
        Assert.Equal(SHA256.HashData(content), SHA256.HashData(await response.Content.ReadAsByteArrayAsync(Ct)));
    }

    /// <summary>POST then one PUT with the whole body (registry:2 ignores a body on the POST).</summary>
    private Task<string> PushMonolithicAsync(string repository, byte[] content) => PushChunkedAsync(repository, content, int.MaxValue);

    private async Task<string> PushChunkedAsync(string repository, byte[] content, int chunkSize)
    {
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
        using var started = await _http.PostAsync(new Uri($"/v2/{repository}/blobs/uploads/", UriKind.Relative), null, Ct);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var location = started.Headers.Location!;
        var offset = 0;
        while (content.Length - offset > chunkSize)
        {
            using var chunk = new ByteArrayContent(content, offset, chunkSize) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } };
            // The distribution spec's "start-end" form, which .NET's typed header refuses.
            chunk.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + chunkSize - 1}");
            using var request = new HttpRequestMessage(HttpMethod.Patch, location) { Content = chunk };
            using var patched = await _http.SendAsync(request, Ct);
            Assert.True(patched.StatusCode == HttpStatusCode.Accepted, $"{patched.StatusCode}: {await patched.Content.ReadAsStringAsync(Ct)}\n{RegistryLog()}");
            location = patched.Headers.Location!;
            offset += chunkSize;
        }

        var separator = location.OriginalString.Contains('?', StringComparison.Ordinal) ? "&" : "?";
        using var last = new ByteArrayContent(content, offset, content.Length - offset) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } };
        using var finished = await _http.PutAsync(new Uri(location.OriginalString + separator + "digest=" + digest, UriKind.RelativeOrAbsolute), last, Ct);
        Assert.True(finished.StatusCode == HttpStatusCode.Created, $"{finished.StatusCode}: {await finished.Content.ReadAsStringAsync(Ct)}\n{RegistryLog()}");
        return digest;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_registryLog!)
            {
                _registryLog.AppendLine(line);
            }
        }
    }

    private string RegistryLog()
    {
        lock (_registryLog!)
        {
            return _registryLog.ToString();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
