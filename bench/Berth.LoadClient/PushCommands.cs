using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Berth.LoadClient;

/// <summary>
/// Large-blob pushes. Every push sends the file with its first 8 bytes replaced by
/// <c>--salt</c>, so each push is new content: a content-addressed store skips work for content
/// it already holds, and a benchmark must not measure that shortcut by accident. The digest is
/// computed before the clock starts.
/// </summary>
internal static class PushCommands
{
    /// <summary>The client's read/send unit; large so the client costs little CPU per byte.</summary>
    private const int BufferSize = 1024 * 1024;

    /// <summary>
    /// The registry protocol: POST, then either one PUT with the body (monolithic) or PATCHes of
    /// <c>--chunk-bytes</c> with Content-Range followed by an empty PUT. Timed from the POST to the 201.
    /// </summary>
    public static async Task<int> PushBlobAsync(CommandOptions options)
    {
        var registry = new Uri(options.Get("registry"));
        var repo = options.Get("repo");
        var file = options.Get("file");
        var chunk = options.GetLong("chunk-bytes", 0);
        var salt = options.GetLong("salt", 0);
        var length = new FileInfo(file).Length;
        var digest = await ComputeDigestAsync(file, length, salt);

        using var handler = Output.Handler(1);
        using var client = new HttpClient(handler) { Timeout = options.GetSeconds("timeout", 600) };
        var start = Stopwatch.GetTimestamp();

        using (var post = await client.PostAsync(new Uri(registry, $"/v2/{repo}/blobs/uploads/"), content: null))
        {
            await ExpectAsync(post, HttpStatusCode.Accepted, "POST upload");
            var location = NextLocation(registry, post);
            if (chunk <= 0)
            {
                using var put = await client.PutAsync(WithDigest(location, digest), new FileSliceContent(file, 0, length, salt));
                await ExpectAsync(put, HttpStatusCode.Created, "PUT upload");
            }
            else
            {
                var patches = 0;
                for (long offset = 0; offset < length; offset += chunk)
                {
                    var size = Math.Min(chunk, length - offset);
                    var content = new FileSliceContent(file, offset, size, salt);
                    // registry:2's form (no "bytes " unit), which HttpClient's typed header would reject.
                    content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + size - 1}");
                    using var request = new HttpRequestMessage(HttpMethod.Patch, location) { Content = content };
                    using var patch = await client.SendAsync(request);
                    await ExpectAsync(patch, HttpStatusCode.Accepted, $"PATCH chunk {patches}");
                    location = NextLocation(registry, patch);
                    patches++;
                }

                using var put = await client.PutAsync(WithDigest(location, digest), new ByteArrayContent([]));
                await ExpectAsync(put, HttpStatusCode.Created, "PUT (finish) upload");
            }
        }

        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Output.Line(("bytes", length), ("seconds", Output.F(seconds, 3)), ("mbps", Output.F(length / seconds / 1e6)), ("digest", digest));
        return 0;
    }

    /// <summary>One PUT of the (salted) file to a plain URL: the sink ceilings.</summary>
    public static async Task<int> PushRawAsync(CommandOptions options)
    {
        var url = new Uri(options.Get("url"));
        var file = options.Get("file");
        var salt = options.GetLong("salt", 0);
        var length = new FileInfo(file).Length;

        using var handler = Output.Handler(1);
        using var client = new HttpClient(handler) { Timeout = options.GetSeconds("timeout", 600) };
        var start = Stopwatch.GetTimestamp();
        using var response = await client.PutAsync(url, new FileSliceContent(file, 0, length, salt));
        await ExpectAsync(response, HttpStatusCode.Created, "PUT");
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var digest = response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.First() : "none";
        Output.Line(("bytes", length), ("seconds", Output.F(seconds, 3)), ("mbps", Output.F(length / seconds / 1e6)), ("digest", digest));
        return 0;
    }

    public static async Task ExpectAsync(HttpResponseMessage response, HttpStatusCode status, string what)
    {
        if (response.StatusCode != status)
        {
            string body;
            try
            {
                body = await response.Content.ReadAsStringAsync();
            }
            catch (HttpRequestException)
            {
                body = "";
            }

            throw new BenchmarkException($"{what}: expected {(int)status}, got {(int)response.StatusCode} {body[..Math.Min(body.Length, 300)]}");
        }
    }

    public static Uri NextLocation(Uri registry, HttpResponseMessage response) =>
        response.Headers.Location is { } location
            ? new Uri(registry, location)
            : throw new BenchmarkException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: no Location header");

    public static Uri WithDigest(Uri location, string digest) =>
        new(location + (string.IsNullOrEmpty(location.Query) ? "?" : "&") + "digest=" + Uri.EscapeDataString(digest));

    private static async Task<string> ComputeDigestAsync(string file, long length, long salt)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var handle = File.OpenHandle(file);
        var buffer = new byte[BufferSize];
        for (long offset = 0; offset < length;)
        {
            var read = await FileSliceContent.ReadSaltedAsync(handle, buffer, offset, salt);
            if (read == 0)
            {
                throw new BenchmarkException($"{file} shrank while being read");
            }

            hash.AppendData(buffer, 0, read);
            offset += read;
        }

        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>A byte range of a file, sent with a known Content-Length in 1 MiB writes.</summary>
    private sealed class FileSliceContent : HttpContent
    {
        private readonly string _path;
        private readonly long _offset;
        private readonly long _length;
        private readonly long _salt;

        public FileSliceContent(string path, long offset, long length, long salt)
        {
            _path = path;
            _offset = offset;
            _length = length;
            _salt = salt;
            Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            Headers.ContentLength = length;
        }

        /// <summary>Reads at <paramref name="offset"/>, with the salt laid over bytes 0-7 of the file.</summary>
        public static async ValueTask<int> ReadSaltedAsync(SafeFileHandle handle, Memory<byte> buffer, long offset, long salt)
        {
            var read = await RandomAccess.ReadAsync(handle, buffer, offset);
            if (offset < sizeof(long) && read > 0)
            {
                Span<byte> saltBytes = stackalloc byte[sizeof(long)];
                BinaryPrimitives.WriteInt64LittleEndian(saltBytes, salt);
                var count = (int)Math.Min(sizeof(long) - offset, read);
                saltBytes.Slice((int)offset, count).CopyTo(buffer.Span);
            }

            return read;
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            using var handle = File.OpenHandle(_path);
            var buffer = new byte[BufferSize];
            for (long sent = 0; sent < _length;)
            {
                var want = (int)Math.Min(buffer.Length, _length - sent);
                var read = await ReadSaltedAsync(handle, buffer.AsMemory(0, want), _offset + sent, _salt);
                if (read == 0)
                {
                    throw new BenchmarkException($"{_path} shrank while being sent");
                }

                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                sent += read;
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _length;
            return true;
        }
    }
}
