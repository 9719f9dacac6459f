using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Berth.LoadClient;

/// <summary>
/// The push ceiling: the least work a registry must do to accept a blob, with no framework in the
/// way. A blocking loopback socket server; for each PUT/POST with a Content-Length it receives the
/// body in reads of <c>--buffer-kib</c> (128 KiB by default, Berth's copy-buffer size; 1 MiB
/// measured slower here, the buffer no longer staying in cache between receive and hash) and, by path:
/// <list type="bullet">
/// <item><c>/full</c> (any other path): SHA-256s every byte and writes it to a new file, then fsyncs
/// the file and renames it to its digest before answering 201. Receiving, hashing and writing run
/// on three threads joined by bounded queues (16 buffers in flight), as a registry whose socket
/// reads overlap its hashing would; this is the ceiling.</item>
/// <item><c>/serial</c>: the same work in one loop on one thread (receive, hash, write, repeat).</item>
/// <item><c>/hash</c>: receive and SHA-256 only, in one loop.</item>
/// <item><c>/discard</c>: receive only, which measures the client and loopback.</item>
/// </list>
/// One connection at a time; the file is deleted after the answer. <c>GET</c> answers 200 (readiness).
/// </summary>
internal static class SinkCommand
{
    private const int DefaultBufferKib = 128;
    private const int MaxHeaderBytes = 64 * 1024;

    public static int Run(CommandOptions options)
    {
        var endpoint = IPEndPoint.Parse(options.Get("listen"));
        if (!IPAddress.IsLoopback(endpoint.Address))
        {
            throw new ArgumentException("the sink listens on loopback only");
        }

        var dir = options.Get("dir", Path.GetTempPath());
        Directory.CreateDirectory(dir);
        var deadline = Stopwatch.GetTimestamp() + (long)(options.GetDouble("max-seconds", 3600) * Stopwatch.Frequency);

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(endpoint);
        listener.Listen(16);
        Console.WriteLine($"listening={endpoint}");

        var bufferBytes = options.GetInt("buffer-kib", DefaultBufferKib) * 1024;
        var buffer = new byte[Math.Max(MaxHeaderBytes, bufferBytes)];
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (!listener.Poll(500_000, SelectMode.SelectRead))
            {
                continue;
            }

            using var socket = listener.Accept();
            socket.NoDelay = true;
            socket.ReceiveTimeout = 30_000;
            socket.SendTimeout = 30_000;
            try
            {
                Serve(socket, buffer, bufferBytes, dir);
            }
            catch (Exception ex) when (ex is SocketException or IOException or BenchmarkException)
            {
                Console.Error.WriteLine($"sink: {ex.Message}");
            }
        }

        return 0;
    }

    private static void Serve(Socket socket, byte[] buffer, int bufferBytes, string dir)
    {
        // Headers: read until the blank line; whatever follows it is the start of the body.
        var filled = 0;
        int headerEnd;
        while ((headerEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (filled >= MaxHeaderBytes)
            {
                throw new BenchmarkException("request header too large");
            }

            var n = socket.Receive(buffer.AsSpan(filled, MaxHeaderBytes - filled));
            if (n == 0)
            {
                return;
            }

            filled += n;
        }

        var lines = Encoding.ASCII.GetString(buffer, 0, headerEnd).Split("\r\n");
        var requestLine = lines[0].Split(' ');
        var method = requestLine[0];
        var mode = requestLine.Length > 1 ? requestLine[1].TrimStart('/') switch { "hash" => "hash", "discard" => "discard", "serial" => "serial", _ => "full" } : "full";
        long? contentLength = null;
        var expectContinue = false;
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                contentLength = long.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);
            }
            else if (name.Equals("Expect", StringComparison.OrdinalIgnoreCase) && value.Equals("100-continue", StringComparison.OrdinalIgnoreCase))
            {
                expectContinue = true;
            }
        }

        if (method is "GET" or "HEAD")
        {
            Respond(socket, "200 OK", "");
            return;
        }

        if (contentLength is not { } length)
        {
            Respond(socket, "411 Length Required", "");
            return;
        }

        if (expectContinue)
        {
            socket.Send("HTTP/1.1 100 Continue\r\n\r\n"u8);
        }

        var tempPath = Path.Combine(dir, $"upload-{Environment.ProcessId}-{Guid.NewGuid():N}");
        string? finalPath = null;
        try
        {
            var first = buffer.AsSpan(headerEnd + 4, filled - headerEnd - 4);
            if (first.Length > length)
            {
                throw new BenchmarkException("body longer than Content-Length");
            }

            // The header buffer may be larger than one read; body reads use the configured size.
            var readSize = Math.Min(buffer.Length, bufferBytes);
            string digest;
            if (mode == "full")
            {
                digest = ReceivePipelined(socket, first, length, readSize, tempPath);
            }
            else
            {
                using var hash = mode == "discard" ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                using var file = mode == "serial" ? NewFile(tempPath) : null;
                var received = 0L;
                var pending = first;
                while (true)
                {
                    if (pending.Length > 0)
                    {
                        hash?.AppendData(pending);
                        file?.Write(pending);
                        received += pending.Length;
                    }

                    if (received == length)
                    {
                        break;
                    }

                    pending = buffer.AsSpan(0, Receive(socket, buffer.AsSpan(0, (int)Math.Min(readSize, length - received)), received, length));
                }

                digest = hash is null ? "none" : "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
                file?.Flush(flushToDisk: true);
            }

            if (mode is "full" or "serial")
            {
                finalPath = Path.Combine(dir, digest.Replace(':', '-'));
                File.Move(tempPath, finalPath, overwrite: true);
            }

            Respond(socket, "201 Created", $"Docker-Content-Digest: {digest}\r\n");
        }
        finally
        {
            File.Delete(tempPath);
            if (finalPath is not null)
            {
                File.Delete(finalPath);
            }
        }
    }

    /// <summary>
    /// Receive on this thread; hash and write on two others, each buffer released when both are
    /// done with it. Returns the digest once the file is written and fsynced.
    /// </summary>
    private static string ReceivePipelined(Socket socket, ReadOnlySpan<byte> first, long length, int readSize, string tempPath)
    {
        const int InFlight = 16;
        using var free = new BlockingCollection<byte[]>(InFlight);
        for (var i = 0; i < InFlight; i++)
        {
            free.Add(new byte[readSize]);
        }

        using var toHash = new BlockingCollection<Chunk>(InFlight);
        using var toWrite = new BlockingCollection<Chunk>(InFlight);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var file = NewFile(tempPath);
        Exception? failure = null;

        void Release(Chunk chunk)
        {
            if (Interlocked.Decrement(ref chunk.Pending) == 0)
            {
                free.Add(chunk.Buffer);
            }
        }

        Thread Stage(BlockingCollection<Chunk> queue, Action<Chunk> work) => new(() =>
        {
            try
            {
                foreach (var chunk in queue.GetConsumingEnumerable())
                {
                    work(chunk);
                    Release(chunk);
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
                failure ??= ex;
                foreach (var chunk in queue.GetConsumingEnumerable())
                {
                    Release(chunk);
                }
            }
        }) { IsBackground = true };

        var hasher = Stage(toHash, chunk => hash.AppendData(chunk.Buffer, 0, chunk.Length));
        var writer = Stage(toWrite, chunk => file.Write(chunk.Buffer, 0, chunk.Length));
        hasher.Start();
        writer.Start();
        try
        {
            var received = 0L;
            var pendingFirst = first.Length;
            while (received < length)
            {
                var buffer = free.Take();
                int n;
                if (pendingFirst > 0)
                {
                    n = Math.Min(pendingFirst, buffer.Length);
                    first.Slice(first.Length - pendingFirst, n).CopyTo(buffer);
                    pendingFirst -= n;
                }
                else
                {
                    n = Receive(socket, buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - received)), received, length);
                }

                received += n;
                var chunk = new Chunk(buffer, n);
                toHash.Add(chunk);
                toWrite.Add(chunk);
            }
        }
        finally
        {
            toHash.CompleteAdding();
            toWrite.CompleteAdding();
            hasher.Join();
            writer.Join();
        }

        if (failure is not null)
        {
            throw new IOException("sink pipeline failed", failure);
        }

        file.Flush(flushToDisk: true);
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static int Receive(Socket socket, Span<byte> buffer, long received, long length)
    {
        var n = socket.Receive(buffer);
        return n > 0 ? n : throw new BenchmarkException($"client closed after {received} of {length} bytes");
    }

    private static FileStream NewFile(string path) =>
        new(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);

    private sealed class Chunk(byte[] buffer, int length)
    {
        public int Pending = 2;

        public byte[] Buffer { get; } = buffer;

        public int Length { get; } = length;
    }

    private static void Respond(Socket socket, string status, string headers) =>
        socket.Send(Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n{headers}\r\n"));
}
