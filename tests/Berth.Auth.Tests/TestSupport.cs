using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Berth.Auth.Tests;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private DateTimeOffset _now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
    private long _timestamp = 1_000_000_000;

    public override DateTimeOffset GetUtcNow() => _now;

    public override long GetTimestamp() => _timestamp;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public void Advance(TimeSpan by)
    {
        _now += by;
        _timestamp += by.Ticks;
    }
}

/// <summary>Requests and files for the controller tests.</summary>
internal static class Requests
{
    public static DefaultHttpContext Context(string? authorization = null, string address = "192.0.2.10")
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Host = new HostString("registry.example.com");
        context.Connection.RemoteIpAddress = IPAddress.Parse(address);
        if (authorization is not null)
        {
            context.Request.Headers.Authorization = authorization;
        }

        return context;
    }

    public static string Basic(string user, string password) =>
        "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));

    public static AccessRequest Pull(string name) => AccessRequest.Repository(name, AccessRequest.Pull);

    public static AccessRequest Push(string name) => AccessRequest.Repository(name, AccessRequest.Pull, AccessRequest.Push);

    public static AccessRequest Delete(string name) => AccessRequest.Repository(name, AccessRequest.Delete);
}

/// <summary>A temporary directory deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "berth-auth-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>bcrypt hashes at the lowest cost, so the tests stay fast.</summary>
internal static class Hashes
{
    public static string Of(string password) => BCrypt.Net.BCrypt.HashPassword(password, 4);

    public static string Line(string user, string password) => $"{user}:{Of(password)}";
}
