namespace Berth.Api.Tests.Infrastructure;

/// <summary>One writable Berth (delete enabled) shared by the tests of a class; tests use their own repositories.</summary>
public sealed class RegistryFixture : IAsyncLifetime
{
    private BerthServer? _server;

    public BerthServer Server => _server ?? throw new InvalidOperationException("the fixture is not initialised");

    public HttpClient Client => Server.Client;

    public async Task InitializeAsync() => _server = await BerthServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>A Berth with <c>storage.delete.enabled: false</c>, registry:2's default.</summary>
public sealed class DeleteDisabledRegistryFixture : IAsyncLifetime
{
    private BerthServer? _server;

    public BerthServer Server => _server ?? throw new InvalidOperationException("the fixture is not initialised");

    public HttpClient Client => Server.Client;

    public async Task InitializeAsync() => _server = await BerthServer.StartAsync(new BerthServerOptions { DeleteEnabled = false });

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>
/// A read-only Berth (<c>storage.maintenance.readonly.enabled: true</c>, delete enabled so that
/// only the read-only switch can refuse deletes) over storage filled beforehand by a writable
/// Berth: repository <see cref="Repository"/> holds <see cref="Image"/> tagged <see cref="Tag"/>.
/// </summary>
public sealed class ReadOnlyRegistryFixture : IAsyncLifetime
{
    public const string Repository = "readonly/seeded";
    public const string Tag = "v1";

    private readonly string _storageRoot = Path.Combine(Path.GetTempPath(), "berth-api-tests-ro-" + Guid.NewGuid().ToString("N"));
    private BerthServer? _server;
    private PushedImage? _image;

    public BerthServer Server => _server ?? throw new InvalidOperationException("the fixture is not initialised");

    public HttpClient Client => Server.Client;

    public PushedImage Image => _image ?? throw new InvalidOperationException("the fixture is not initialised");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_storageRoot);
        await using (var writable = await BerthServer.StartAsync(new BerthServerOptions { StorageRoot = _storageRoot }))
        {
            _image = await writable.Client.PushImageAsync(Repository, Tag);
        }

        _server = await BerthServer.StartAsync(new BerthServerOptions { StorageRoot = _storageRoot, ReadOnly = true, DeleteEnabled = true });
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (Directory.Exists(_storageRoot))
        {
            Directory.Delete(_storageRoot, recursive: true);
        }
    }
}
