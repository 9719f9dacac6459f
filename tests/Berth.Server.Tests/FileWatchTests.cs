using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Berth.Server.Tests;

/// <summary>
/// What the host watches for changes. ASP.NET Core watches its content root recursively, and by default that is the
/// working directory, which is "/" in the container image: a watch on every directory of the machine, the registry's
/// storage included. Checked on the real process by counting its inotify watches.
/// </summary>
public sealed class FileWatchTests : IDisposable
{
    private const int DirectoriesBelowTheWorkingDirectory = 300;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "berth-watch-tests-" + Guid.NewGuid().ToString("N"));

    public FileWatchTests() => Directory.CreateDirectory(_directory);

    [Fact]
    public async Task Serve_FromADirectoryWithManySubdirectories_DoesNotWatchThem()
    {
        Assert.True(OperatingSystem.IsLinux(), "inotify watches are counted through /proc");
        for (var i = 0; i < DirectoriesBelowTheWorkingDirectory; i++)
        {
            Directory.CreateDirectory(Path.Combine(_directory, "tree", $"d{i}"));
        }

        var port = FreePort();
        var config = Path.Combine(_directory, "config.yml");
        await File.WriteAllTextAsync(config, $"version: 0.1\nstorage:\n  inmemory:\nhttp:\n  addr: 127.0.0.1:{port}\n");
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath) ? hostPath : "dotnet";
        var start = new ProcessStartInfo(host)
        {
            WorkingDirectory = Path.Combine(_directory, "tree"),
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "berth.dll"));
        start.ArgumentList.Add("serve");
        start.ArgumentList.Add(config);
        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    using var response = await client.GetAsync(new Uri($"http://127.0.0.1:{port}/v2/"));
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        break;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && deadline.Elapsed < TimeSpan.FromSeconds(30))
                {
                }

                Assert.False(process.HasExited, "berth serve exited");
                await Task.Delay(100);
            }

            var watches = InotifyWatches(process.Id);
            Assert.True(watches < DirectoriesBelowTheWorkingDirectory / 2,
                $"berth watches {watches} directories; the working directory alone has {DirectoriesBelowTheWorkingDirectory}");
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>The inotify watches a process holds: one "inotify wd:" line per watch in the fdinfo of its inotify descriptors.</summary>
    private static int InotifyWatches(int processId)
    {
        var count = 0;
        foreach (var info in Directory.GetFiles($"/proc/{processId}/fdinfo"))
        {
            try
            {
                count += File.ReadLines(info).Count(line => line.StartsWith("inotify wd:", StringComparison.Ordinal));
            }
            catch (IOException)
            {
                // A descriptor closed while being read.
            }
        }

        return count;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
