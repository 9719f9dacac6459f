using System.Globalization;
using System.Net;
using Berth.Server;
using Berth.Server.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Berth.Api.Tests.Infrastructure;

/// <summary>How a <see cref="BerthServer"/> is configured.</summary>
public sealed record BerthServerOptions
{
    /// <summary><c>storage.delete.enabled</c>.</summary>
    public bool DeleteEnabled { get; init; } = true;

    /// <summary><c>storage.maintenance.readonly.enabled</c>.</summary>
    public bool ReadOnly { get; init; }

    /// <summary><c>log.level</c>; <c>debug</c> also lets ASP.NET Core's request logs through to <see cref="BerthServer.Logs"/>.</summary>
    public string LogLevel { get; init; } = "warn";

    /// <summary>
    /// An existing storage root to serve (for example one filled by an earlier, writable server).
    /// Null means a fresh directory inside the server's sandbox. A root passed in is not deleted.
    /// </summary>
    public string? StorageRoot { get; init; }

    /// <summary>More keys under <c>storage</c> (for example <c>cache:</c>), one per line, indented relative to <c>storage</c>'s children.</summary>
    public IReadOnlyList<string> StorageYaml { get; init; } = [];

    /// <summary>More keys under <c>storage.maintenance</c>, one per line, without indentation.</summary>
    public IReadOnlyList<string> MaintenanceYaml { get; init; } = [];

    /// <summary>More top-level YAML sections (for example <c>notifications:</c>), appended verbatim.</summary>
    public string ExtraYaml { get; init; } = "";

    /// <summary>The environment the loader sees (<c>REGISTRY_*</c>, <c>OTEL_*</c>); empty by default.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>
/// A real Berth host, started in-process the way <c>berth serve</c> starts it: a registry:2-style
/// YAML file is written to a temporary sandbox, loaded by <see cref="ConfigurationLoader"/>, built by
/// <see cref="RegistryHost.Build"/> and served by Kestrel on 127.0.0.1 with a port the OS picks.
/// Disposing stops the host and deletes the sandbox (config file and, unless supplied, storage).
/// </summary>
public sealed class BerthServer : IAsyncDisposable
{
    public const string HttpSecret = "berth-api-tests-http-secret";

    private readonly WebApplication _app;
    private bool _disposed;

    private BerthServer(WebApplication app, LogCollector logs, string sandbox, string storageRoot, Uri baseAddress)
    {
        _app = app;
        Logs = logs;
        Sandbox = sandbox;
        StorageRoot = storageRoot;
        BaseAddress = baseAddress;
        Client = CreateClient(baseAddress);
    }

    /// <summary>The temporary directory holding the config file and (by default) the storage root.</summary>
    public string Sandbox { get; }

    /// <summary><c>storage.filesystem.rootdirectory</c>.</summary>
    public string StorageRoot { get; }

    /// <summary><c>http://127.0.0.1:&lt;port&gt;</c>, as Kestrel reports it after binding.</summary>
    public Uri BaseAddress { get; }

    /// <summary>What the server logged (at the configured level and above) since it started.</summary>
    public LogCollector Logs { get; }

    /// <summary>A client on <see cref="BaseAddress"/> that does not follow redirects.</summary>
    public HttpClient Client { get; }

    public static async Task<BerthServer> StartAsync(BerthServerOptions? options = null)
    {
        options ??= new BerthServerOptions();
        var sandbox = Path.Combine(Path.GetTempPath(), "berth-api-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(sandbox);
        var storageRoot = options.StorageRoot ?? Path.Combine(sandbox, "storage");
        Directory.CreateDirectory(storageRoot);

        WebApplication? app = null;
        try
        {
            var configPath = Path.Combine(sandbox, "config.yml");
            await File.WriteAllTextAsync(configPath, ConfigYaml(storageRoot, options));

            // Only the given environment: REGISTRY_* variables of the machine running the tests must not leak in.
            var loaded = ConfigurationLoader.Load(configPath, options.Environment);
            app = RegistryHost.Build(loaded.Configuration, loaded.Warnings);
            var logs = new LogCollector();
            app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
            await app.StartAsync();

            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
                ?? throw new InvalidOperationException("Kestrel reported no IServerAddressesFeature");
            var address = addresses.FirstOrDefault(a => a.StartsWith("http://127.0.0.1:", StringComparison.Ordinal))
                ?? throw new InvalidOperationException($"Kestrel is not listening on 127.0.0.1: {string.Join(", ", addresses)}");
            return new BerthServer(app, logs, sandbox, storageRoot, new Uri(address));
        }
        catch
        {
            if (app is not null)
            {
                await app.DisposeAsync();
            }

            TryDeleteDirectory(sandbox);
            throw;
        }
    }

    /// <summary>A second client, for tests that need their own connection pool.</summary>
    public HttpClient CreateClient() => CreateClient(BaseAddress);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Client.Dispose();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _app.StopAsync(timeout.Token);
        }
        finally
        {
            await _app.DisposeAsync();
            TryDeleteDirectory(Sandbox);
        }
    }

    private static string ConfigYaml(string storageRoot, BerthServerOptions options) =>
        string.Create(CultureInfo.InvariantCulture, $"""
            version: 0.1
            log:
              level: {options.LogLevel}
            storage:
              filesystem:
                rootdirectory: '{storageRoot.Replace("'", "''", StringComparison.Ordinal)}'
              delete:
                enabled: {Bool(options.DeleteEnabled)}
              maintenance:
                readonly:
                  enabled: {Bool(options.ReadOnly)}
            {string.Concat(options.MaintenanceYaml.Select(line => "    " + line + "\n"))}
            {string.Concat(options.StorageYaml.Select(line => "  " + line + "\n"))}
            http:
              addr: 127.0.0.1:0
              secret: {HttpSecret}
            {options.ExtraYaml}
            """);

    private static string Bool(bool value) => value ? "true" : "false";

    private static HttpClient CreateClient(Uri baseAddress) =>
        new(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
        })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // A file still held open by a dying connection; the OS cleans temp eventually.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
