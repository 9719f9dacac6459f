namespace Berth.Server.Configuration;

/// <summary>
/// The configuration file or a <c>REGISTRY_*</c> variable holds a value Berth cannot start with.
/// The message names the offending key (<c>storage.delete.enabled: expected a boolean, got 'maybe'</c>)
/// and, when known, where the value came from (a file line or an environment variable).
/// </summary>
public sealed class ConfigurationException : Exception
{
    /// <summary>Creates an exception with a generic message.</summary>
    public ConfigurationException()
        : base("The registry configuration is invalid.")
    {
    }

    /// <summary>Creates an exception that is not tied to one key (an unreadable file, a YAML syntax error).</summary>
    public ConfigurationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception that is not tied to one key and wraps its cause.</summary>
    public ConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    private ConfigurationException(string key, string message, Exception? innerException)
        : base(message, innerException)
    {
        Key = key;
    }

    /// <summary>
    /// The dotted configuration key the problem is about (<c>http.tls.key</c>), or null when the problem is
    /// with the file as a whole.
    /// </summary>
    public string? Key { get; }

    /// <summary>Builds the exception for one key; <paramref name="origin"/> is appended in parentheses when given.</summary>
    internal static ConfigurationException ForKey(string key, string detail, string? origin = null, Exception? innerException = null)
    {
        var message = origin is null ? $"{key}: {detail}" : $"{key}: {detail} ({origin})";
        return new ConfigurationException(key, message, innerException);
    }
}
