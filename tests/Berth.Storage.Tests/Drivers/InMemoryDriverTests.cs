using Berth.Storage.Drivers;

namespace Berth.Storage.Tests.Drivers;

public sealed class InMemoryDriverTests : StorageDriverSuite
{
    protected override IStorageDriver CreateDriver() => new InMemoryDriver();

    [Fact]
    public void Name_IsInMemory()
    {
        Assert.Equal("inmemory", Driver.Name);
    }
}
