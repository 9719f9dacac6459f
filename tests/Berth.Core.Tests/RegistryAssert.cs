using Berth.Core.Errors;

namespace Berth.Core.Tests;

/// <summary>Assertions on the registry error an operation raises.</summary>
internal static class RegistryAssert
{
    /// <summary>Runs <paramref name="action"/> and asserts it throws a <see cref="RegistryException"/> with <paramref name="expected"/>.</summary>
    public static RegistryException Throws(ErrorCode expected, Action action)
    {
        var exception = Assert.Throws<RegistryException>(action);
        Assert.Equal(expected.Code, exception.Code.Code);
        Assert.Equal(expected, exception.Code);
        return exception;
    }
}
