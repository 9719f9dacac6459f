namespace Berth.Server;

/// <summary>
/// The configuration is well formed but this machine, as this user, cannot run it: the storage root cannot be
/// written (permissions, a read-only filesystem) or a file stands where its directory must be. Unlike a
/// <see cref="Configuration.ConfigurationException"/> the same file may be right elsewhere, so the message says
/// what to change rather than calling the configuration wrong. It is one line meant for the operator.
/// </summary>
public sealed class StartupException : Exception
{
    /// <summary>Creates an exception with a generic message.</summary>
    public StartupException()
        : base("The registry cannot start on this machine.")
    {
    }

    /// <summary>Creates an exception with a one-line message for the operator.</summary>
    public StartupException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a one-line message for the operator and its cause.</summary>
    public StartupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception about the setting <paramref name="key"/>.</summary>
    public StartupException(string key, string message, Exception? innerException)
        : base(message, innerException)
    {
        Key = key;
    }

    /// <summary>The dotted configuration key that chooses what could not be used (<c>storage.filesystem.rootdirectory</c>).</summary>
    public string? Key { get; }
}
