using Berth.Storage.Drivers;

namespace Berth.Storage.Tests.Drivers;

/// <summary>
/// The whole driver suite over a driver that implements only the required members (<see cref="ForwardingDriver"/>), so
/// that <see cref="IStorageDriver.DeleteFileAsync"/> and <see cref="IStorageDriver.ListFilesAsync"/> run their default
/// implementations (what a wrapping driver without its own gets).
/// </summary>
public sealed class DefaultDriverMethodsTests : StorageDriverSuite
{
    protected override IStorageDriver CreateDriver() => new ForwardingDriver(new InMemoryDriver());
}
