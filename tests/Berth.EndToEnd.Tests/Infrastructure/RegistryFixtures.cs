namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>A registry shared by the tests of one class; each test uses its own repository names.</summary>
public interface IRegistryFixture
{
    RegistryProcess Registry { get; }
}

/// <summary>Starts one registry of <paramref name="kind"/> over a temp root directory for a test class.</summary>
public abstract class RegistryFixture(RegistryKind kind) : IRegistryFixture, IAsyncLifetime
{
    private TemporaryDirectory? _root;
    private RegistryProcess? _registry;

    public RegistryProcess Registry => _registry ?? throw new InvalidOperationException($"{kind} has not started.");

    public async Task InitializeAsync()
    {
        _root = TemporaryDirectory.Create($"{kind.ToString().ToLowerInvariant()}-root");
        _registry = await RegistryProcess.StartAsync(kind, _root.Path);
    }

    public async Task DisposeAsync()
    {
        if (_registry is not null)
        {
            await _registry.DisposeAsync();
        }

        _root?.Dispose();
    }
}

/// <summary>A Berth server, the implementation under test.</summary>
public sealed class BerthFixture() : RegistryFixture(RegistryKind.Berth);

/// <summary>
/// Distribution 2.8.2, the reference: the same client tests run against it, so a test that fails only against Berth
/// points at Berth, not at the test or the client.
/// </summary>
public sealed class DistributionFixture() : RegistryFixture(RegistryKind.Distribution);
