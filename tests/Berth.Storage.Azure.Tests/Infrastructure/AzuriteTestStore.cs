using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Azure.Storage;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Storage.Azure.Tests.Infrastructure;

/// <summary>
/// Finds the Azurite blob service the Azure tests run against, once per test process:
/// <list type="number">
/// <item><c>AZURITE_BLOB_ENDPOINT</c> names a running one (the service URL with the account,
/// <c>http://127.0.0.1:PORT/devstoreaccount1</c>): what <c>scripts/test-prerequisites.sh</c> exports.</item>
/// <item>Otherwise an <c>azurite-blob</c> program (<c>BERTH_AZURITE_BIN</c>, else the cache the test script installs
/// into, else PATH) is started on a free port of 127.0.0.1, in memory, and stopped when the test process exits.</item>
/// <item>Otherwise every Azure test fails with a message saying so; they never pass without a service.</item>
/// </list>
/// The account is Azurite's development account with its published key.
/// </summary>
public static class AzuriteTestStore
{
    /// <summary>Azurite's development account.</summary>
    public const string AccountName = "devstoreaccount1";

    /// <summary>The published key of Azurite's development account (not a secret: every Azurite accepts it).</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>The container the driver tests share; each test works below a root directory of its own.</summary>
    public const string SharedContainer = "berth-tests";

    /// <summary>A prefix shared by this test process, so concurrent and repeated runs never see each other's blobs.</summary>
    public static readonly string RunPrefix = $"berth-tests/{DateTime.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid():N}";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static Uri? _serviceUrl;
    private static Exception? _failure;
    private static Process? _started;

    /// <summary>The service URL, found (or started) by the first caller; a failure is remembered and reported to every caller.</summary>
    public static async Task<Uri> GetAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_serviceUrl is null && _failure is null)
            {
                try
                {
                    _serviceUrl = await FindAsync();
                    await NewServiceClient(_serviceUrl).GetBlobContainerClient(SharedContainer).CreateIfNotExistsAsync();
                }
                catch (Exception ex)
                {
                    _failure = ex;
                }
            }

            return _serviceUrl ?? throw new InvalidOperationException(_failure!.Message, _failure);
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Driver options for the development account, a container and a root directory.</summary>
    public static AzureDriverOptions Options(Uri serviceUrl, string container, string? rootDirectory) => new()
    {
        AccountName = AccountName,
        AccountKey = AccountKey,
        Container = container,
        ServiceUrl = serviceUrl,
        RootDirectory = rootDirectory,
        CredentialsType = AzureCredentialsType.SharedKey,
    };

    /// <summary>A raw client, for looking at the container behind the driver's back.</summary>
    public static BlobServiceClient NewServiceClient(Uri serviceUrl) =>
        new(serviceUrl, new StorageSharedKeyCredential(AccountName, AccountKey));

    /// <summary>
    /// A raw client for a blob whose name may start with a slash (registry:2's names): built from the URL registry:2
    /// sends, because the SDK drops a leading slash from a name it is given.
    /// </summary>
    public static global::Azure.Storage.Blobs.Specialized.BlockBlobClient RawBlockBlob(BlobContainerClient container, string name) =>
        new(new Uri(container.Uri.AbsoluteUri + "/" + name), new StorageSharedKeyCredential(AccountName, AccountKey));

    /// <summary>Removes every blob whose name starts with <paramref name="prefix"/>.</summary>
    public static async Task DeletePrefixAsync(Uri serviceUrl, string container, string prefix)
    {
        var client = NewServiceClient(serviceUrl).GetBlobContainerClient(container);
        await foreach (var blob in client.GetBlobsAsync(new global::Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = prefix }))
        {
            await RawBlockBlob(client, blob.Name).DeleteIfExistsAsync();
        }
    }

    /// <summary>An <c>azurite-blob</c> program, or null.</summary>
    public static string? FindProgram()
    {
        if (Environment.GetEnvironmentVariable("BERTH_AZURITE_BIN") is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : null;
        }

        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        var candidates = new[] { Path.Combine(cache, "berth-test", "azurite", "node_modules", ".bin", "azurite-blob") }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                .Select(directory => Path.Combine(directory, "azurite-blob")));
        return candidates.FirstOrDefault(File.Exists);
    }

    private static async Task<Uri> FindAsync()
    {
        if (Environment.GetEnvironmentVariable("AZURITE_BLOB_ENDPOINT") is { Length: > 0 } endpoint)
        {
            var url = new Uri(endpoint.TrimEnd('/'));
            await CheckReachableAsync(url);
            return url;
        }

        var program = FindProgram() ?? throw new InvalidOperationException(
            "No Azurite for the Azure driver tests: set AZURITE_BLOB_ENDPOINT=http://127.0.0.1:PORT/devstoreaccount1 for a running "
            + "azurite-blob, or install it (npm install azurite) where BERTH_AZURITE_BIN, ~/.cache/berth-test/azurite or PATH finds it; "
            + "scripts/test.sh does both.");
        return await StartAsync(program);
    }

    private static async Task<Uri> StartAsync(string program)
    {
        var port = FreePort();
        var start = new ProcessStartInfo(program,
            ["--blobHost", "127.0.0.1", "--blobPort", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--disableTelemetry"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not run {program}");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _started = process;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => StopStarted();
        var url = new Uri($"http://127.0.0.1:{port}/{AccountName}");
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await CheckReachableAsync(url);
                return url;
            }
            catch (InvalidOperationException) when (deadline.Elapsed < TimeSpan.FromSeconds(30) && !process.HasExited)
            {
                await Task.Delay(200);
            }
        }
    }

    private static void StopStarted()
    {
        if (_started is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task CheckReachableAsync(Uri serviceUrl)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await NewServiceClient(serviceUrl).GetPropertiesAsync(timeout.Token);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"Azure tests: Azurite at {serviceUrl} does not answer: {ex.Message}", ex);
        }
    }
}

/// <summary>The Azurite service for a test class; xunit fails every test of the class when there is none.</summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private Uri? _serviceUrl;

    public Uri ServiceUrl => _serviceUrl ?? throw new InvalidOperationException("Azurite fixture not initialised");

    public async Task InitializeAsync() => _serviceUrl = await AzuriteTestStore.GetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>A driver over a root directory of the shared container (or another container), unwrapped.</summary>
    public AzureDriver CreateDriver(string? rootDirectory, string container = AzuriteTestStore.SharedContainer,
        Func<AzureDriverOptions, AzureDriverOptions>? configure = null)
    {
        var options = AzuriteTestStore.Options(ServiceUrl, container, rootDirectory);
        return AzureDriver.Create(configure is null ? options : configure(options), NullLogger<AzureDriver>.Instance);
    }
}
