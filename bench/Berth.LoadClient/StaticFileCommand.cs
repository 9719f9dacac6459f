using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Berth.LoadClient;

/// <summary>
/// The framework's own ceiling for a small GET: a bare ASP.NET Core (Kestrel) app that answers every GET with one file,
/// opened and read on each request as nginx does without its open-file cache, and nothing else (no routing, no
/// logging, no auth). Whatever a Kestrel-based registry adds to a manifest GET sits on top of this rate, so a
/// registry's share of it says how much of the gap to nginx is Berth's and how much is the framework's.
/// bench/run.sh starts it with Berth's runtime settings (server GC, tiered compilation), not the load client's.
/// </summary>
internal static class StaticFileCommand
{
    public static async Task<int> RunAsync(CommandOptions options)
    {
        var endpoint = IPEndPoint.Parse(options.Get("listen"));
        if (!IPAddress.IsLoopback(endpoint.Address))
        {
            throw new ArgumentException("the static-file server listens on loopback only");
        }

        var file = Path.GetFullPath(options.Get("file"));
        var maxSeconds = options.GetDouble("max-seconds", 3600);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(endpoint);
        });
        await using var app = builder.Build();
        app.Run(async context =>
        {
            var content = await File.ReadAllBytesAsync(file, context.RequestAborted);
            context.Response.ContentType = "application/octet-stream";
            context.Response.ContentLength = content.Length;
            if (!HttpMethods.IsHead(context.Request.Method))
            {
                await context.Response.Body.WriteAsync(content, context.RequestAborted);
            }
        });

        await app.StartAsync();
        Console.WriteLine($"listening={endpoint}");
        using var lifetime = new CancellationTokenSource(TimeSpan.FromSeconds(maxSeconds));
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, lifetime.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await app.StopAsync();
        return 0;
    }
}
