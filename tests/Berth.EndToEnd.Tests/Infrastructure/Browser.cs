using System.Net;
using Microsoft.Playwright;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>
/// Debian's chromium (<c>/usr/bin/chromium</c>), headless, driven through Microsoft.Playwright: one browser process per
/// test class (<c>IClassFixture&lt;BrowserFixture&gt;</c>), a fresh <see cref="IBrowserContext"/> (cookies, storage,
/// clipboard permissions) per test through <see cref="NewSessionAsync(BrowserSessionOptions?)"/>.
/// </summary>
/// <remarks>
/// Playwright's own browser download (<c>playwright install</c>) is never run: it cannot work on these machines, and
/// the system browser is what a user of the distribution has. The package only brings its node driver, which the
/// build copies into bin/. A missing chromium fails every test of the class with one message naming the fix.
/// Headless chromium keeps one clipboard per browser process; tests of one class run one at a time, so a test that
/// checks what a "copy" button wrote sees its own text.
/// </remarks>
public sealed class BrowserFixture : IAsyncLifetime
{
    /// <summary>Where Debian's chromium package puts the browser.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>Playwright's default for every action and navigation is 30 s; a page of this registry answers in well under that.</summary>
    private const float DefaultTimeoutMilliseconds = 15_000;

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    /// <summary>The running browser (after the fixture started).</summary>
    public IBrowser Browser => _browser ?? throw new InvalidOperationException("The browser has not started.");

    /// <summary>What chromium reports as its version, for failure messages and logs.</summary>
    public string Version => Browser.Version;

    /// <summary>How long starting Playwright's driver and chromium took (the first test of a class waits for it).</summary>
    public TimeSpan LaunchTime { get; private set; }

    public async Task InitializeAsync()
    {
        EnsureChromiumInstalled(ChromiumPath);
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        _playwright = await Playwright.CreateAsync();
        var arguments = new List<string>
        {
            // /dev/shm is small in containers; chromium then crashes on large pages.
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
        };
        if (Environment.UserName == "root")
        {
            // chromium refuses to start as root with its sandbox on.
            arguments.Add("--no-sandbox");
        }

        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = arguments,
            Timeout = 60_000,
        });
        LaunchTime = stopwatch.Elapsed;
    }

    /// <summary>Throws the one message that names the fix when <paramref name="path"/> (the browser) does not exist.</summary>
    public static void EnsureChromiumInstalled(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidOperationException(
                $"The browser tests need Debian's chromium at {path}, which is missing: install chromium: sudo scripts/test.sh " +
                "(or apt-get install chromium). Playwright's own browser download is not used.");
        }
    }

    /// <summary>
    /// A fresh context (no cookies, no storage; clipboard-read and clipboard-write granted) and one page in it. Dispose it
    /// at the end of the test.
    /// </summary>
    public async Task<BrowserSession> NewSessionAsync(BrowserSessionOptions? options = null)
    {
        options ??= new BrowserSessionOptions();
        var contextOptions = new BrowserNewContextOptions
        {
            BaseURL = options.BaseAddress?.ToString(),
            ViewportSize = new ViewportSize { Width = options.ViewportWidth, Height = options.ViewportHeight },
            Locale = "en-US",
            TimezoneId = "UTC",
            StorageStatePath = options.StorageStatePath,
            IgnoreHTTPSErrors = options.IgnoreHttpsErrors,
        };
        if (options.Credentials is { } credentials)
        {
            contextOptions.HttpCredentials = new HttpCredentials
            {
                Username = credentials.UserName,
                Password = credentials.Password,
                // Sent only to this origin, as a browser would after a login prompt for it.
                Origin = options.BaseAddress?.GetLeftPart(UriPartial.Authority),
                Send = HttpCredentialsSend.Unauthorized,
            };
        }

        var context = await Browser.NewContextAsync(contextOptions);
        try
        {
            context.SetDefaultTimeout(DefaultTimeoutMilliseconds);
            context.SetDefaultNavigationTimeout(DefaultTimeoutMilliseconds);
            await context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"]);
            var page = await context.NewPageAsync();
            return new BrowserSession(context, page);
        }
        catch
        {
            await context.DisposeAsync();
            throw;
        }
    }

    /// <summary>A session on <paramref name="registry"/>'s origin: relative URLs in <c>GotoAsync</c> resolve against it.</summary>
    public Task<BrowserSession> NewSessionAsync(RegistryProcess registry, NetworkCredential? credentials = null) =>
        NewSessionAsync(new BrowserSessionOptions { BaseAddress = registry.BaseAddress, Credentials = credentials });

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}

/// <summary>
/// The test classes that share one chromium (<c>[Collection(BrowserCollection.Name)]</c> on the class, the fixture taken
/// in its constructor): one browser launch for all of them, and they run one after another (one clipboard).
/// </summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "Browser";
}

/// <summary>How <see cref="BrowserFixture.NewSessionAsync(BrowserSessionOptions?)"/> sets up a context.</summary>
public sealed record BrowserSessionOptions
{
    /// <summary>The origin relative URLs resolve against (and the only one HTTP credentials are sent to).</summary>
    public Uri? BaseAddress { get; init; }

    /// <summary>HTTP Basic credentials answered to a 401 from <see cref="BaseAddress"/>, as a browser's login prompt would.</summary>
    public NetworkCredential? Credentials { get; init; }

    /// <summary>A storage state (cookies, local storage) saved by <see cref="BrowserSession.SaveStorageStateAsync"/>, e.g. a signed-in session.</summary>
    public string? StorageStatePath { get; init; }

    /// <summary>Accept any server certificate (a registry over TLS with a test CA chromium does not trust).</summary>
    public bool IgnoreHttpsErrors { get; init; }

    public int ViewportWidth { get; init; } = 1280;

    public int ViewportHeight { get; init; } = 800;
}

/// <summary>One test's browser context and its first page; disposing closes the context.</summary>
public sealed class BrowserSession(IBrowserContext context, IPage page) : IAsyncDisposable
{
    public IBrowserContext Context { get; } = context;

    public IPage Page { get; } = page;

    /// <summary>Navigates and fails unless the answer's status is <paramref name="expectedStatus"/> (200 by default).</summary>
    public async Task<IResponse> GotoAsync(string url, int expectedStatus = 200)
    {
        var response = await Page.GotoAsync(url) ?? throw new InvalidOperationException($"Navigating to {url} gave no response.");
        Assert.True(response.Status == expectedStatus,
            $"GET {response.Url} answered {response.Status} {response.StatusText}, expected {expectedStatus}.");
        return response;
    }

    /// <summary>What <c>navigator.clipboard.readText()</c> gives on the current page (a secure origin such as http://127.0.0.1).</summary>
    public Task<string> ReadClipboardAsync() => Page.EvaluateAsync<string>("() => navigator.clipboard.readText()");

    /// <summary>Saves cookies and local storage to a file, for <see cref="BrowserSessionOptions.StorageStatePath"/> in another session.</summary>
    public Task<string> SaveStorageStateAsync(string path) => Context.StorageStateAsync(new BrowserContextStorageStateOptions { Path = path });

    public ValueTask DisposeAsync() => Context.DisposeAsync();
}
