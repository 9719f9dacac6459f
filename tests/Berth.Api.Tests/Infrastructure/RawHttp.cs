using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Berth.Api.Tests.Infrastructure;

/// <summary>A response read off a raw socket.</summary>
public sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public override string ToString() => $"{Status} {BodyText}";
}

/// <summary>
/// HTTP/1.1 over a bare <see cref="TcpClient"/>, for requests HttpClient would refuse or rewrite:
/// request targets with dot segments or odd escapes, and bodies that end before their Content-Length.
/// </summary>
public static class RawHttp
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Sends one request with <c>Connection: close</c> and reads the whole response.</summary>
    public static async Task<RawResponse> SendAsync(Uri baseAddress, string method, string target, byte[]? body = null,
        params (string Name, string Value)[] headers)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(baseAddress.Host, baseAddress.Port, timeout.Token);
        var stream = tcp.GetStream();

        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"{method} {target} HTTP/1.1\r\n");
        head.Append(CultureInfo.InvariantCulture, $"Host: {baseAddress.Authority}\r\n");
        head.Append("Connection: close\r\n");
        if (body is not null || method is "POST" or "PUT" or "PATCH")
        {
            head.Append(CultureInfo.InvariantCulture, $"Content-Length: {body?.Length ?? 0}\r\n");
        }

        foreach (var (name, value) in headers)
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        head.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), timeout.Token);
        if (body is { Length: > 0 })
        {
            await stream.WriteAsync(body, timeout.Token);
        }

        await stream.FlushAsync(timeout.Token);
        using var received = new MemoryStream();
        await stream.CopyToAsync(received, timeout.Token);
        return Parse(received.ToArray(), method);
    }

    /// <summary>
    /// Declares <paramref name="declaredLength"/> bytes of body, sends only <paramref name="sent"/>, and
    /// closes the socket without reading a response: a client that died mid-upload.
    /// </summary>
    public static async Task SendTruncatedAsync(Uri baseAddress, string method, string target, long declaredLength, byte[] sent,
        params (string Name, string Value)[] headers)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(baseAddress.Host, baseAddress.Port, timeout.Token);
            var stream = tcp.GetStream();
            var head = new StringBuilder();
            head.Append(CultureInfo.InvariantCulture, $"{method} {target} HTTP/1.1\r\n");
            head.Append(CultureInfo.InvariantCulture, $"Host: {baseAddress.Authority}\r\n");
            head.Append(CultureInfo.InvariantCulture, $"Content-Length: {declaredLength}\r\n");
            foreach (var (name, value) in headers)
            {
                head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
            }

            head.Append("\r\n");
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), timeout.Token);
            await stream.WriteAsync(sent, timeout.Token);
            await stream.FlushAsync(timeout.Token);

            // Let the server start reading the body before the connection goes away.
            await Task.Delay(200, timeout.Token);
            tcp.Client.Close(0);
        }
    }

    private static RawResponse Parse(byte[] data, string method)
    {
        var end = IndexOf(data, "\r\n\r\n"u8);
        if (end < 0)
        {
            throw new Xunit.Sdk.XunitException($"incomplete HTTP response ({data.Length} bytes): {Encoding.ASCII.GetString(data)}");
        }

        var lines = Encoding.ASCII.GetString(data, 0, end).Split("\r\n");
        var statusParts = lines[0].Split(' ', 3);
        var status = int.Parse(statusParts[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            headers[name] = headers.TryGetValue(name, out var previous) ? previous + ", " + value : value;
        }

        var body = method == "HEAD" ? [] : data[(end + 4)..];
        if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = Dechunk(body);
        }
        else if (headers.TryGetValue("Content-Length", out var lengthText) && int.TryParse(lengthText, out var length) && length < body.Length)
        {
            body = body[..length];
        }

        return new RawResponse(status, headers, body);
    }

    private static byte[] Dechunk(byte[] body)
    {
        using var output = new MemoryStream();
        var position = 0;
        while (position < body.Length)
        {
            var lineEnd = IndexOf(body.AsSpan(position), "\r\n"u8);
            if (lineEnd < 0)
            {
                break;
            }

            var sizeText = Encoding.ASCII.GetString(body, position, lineEnd).Split(';')[0];
            var size = int.Parse(sizeText, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            position += lineEnd + 2;
            if (size == 0)
            {
                break;
            }

            output.Write(body, position, Math.Min(size, body.Length - position));
            position += size + 2;
        }

        return output.ToArray();
    }

    private static int IndexOf(ReadOnlySpan<byte> data, ReadOnlySpan<byte> pattern) => data.IndexOf(pattern);
}
