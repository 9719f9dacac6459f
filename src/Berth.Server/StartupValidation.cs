using System.Net;
using Berth.Auth;
using Berth.Server.Caching;
using Berth.Server.Configuration;
using Berth.Server.Tls;
using StackExchange.Redis;

namespace Berth.Server;

/// <summary>Where a listener binds: an IP address and port (a null address is every interface), or a Unix socket.</summary>
internal sealed record ListenAddress(IPAddress? Address, int Port, string? UnixSocketPath = null);

/// <summary>What <see cref="StartupValidation.Validate"/> checked and loaded, for <see cref="RegistryHost.Build"/> to serve with.</summary>
/// <param name="Registry">The registry's listener (<c>http.addr</c>, <c>http.net</c>).</param>
/// <param name="Debug">The debug listener (<c>http.debug.addr</c>), or null for none.</param>
/// <param name="Tls">HTTPS with its certificate and client CAs loaded, or null for plain HTTP.</param>
/// <param name="TokenSigningKeys">The keys of <c>auth.token</c>, or null without token authentication.</param>
/// <param name="Redis">The Redis client's options (TLS files read) when the blob descriptor cache is <c>redis</c>.</param>
/// <param name="Warnings">What does not stop start-up but should be said (TLS versions raised to 1.2).</param>
internal sealed record StartupPlan(
    ListenAddress Registry,
    ListenAddress? Debug,
    TlsSetup? Tls,
    TokenSigningKeys? TokenSigningKeys,
    ConfigurationOptions? Redis,
    IReadOnlyList<string> Warnings);

/// <summary>
/// Everything <c>berth serve</c> checks between loading the configuration and listening, in one place:
/// <see cref="RegistryHost.Build"/> runs it before it builds anything, and <c>berth config check</c> runs it after
/// loading, so the two accept and refuse the same configurations with the same message.
/// </summary>
/// <remarks>
/// <para>Checked, in this order, the first problem reported: the listen addresses (<c>http.addr</c>,
/// <c>http.debug.addr</c>, which must not take the registry's own port); TLS (certificate and key files, that the key
/// belongs to the certificate, client CAs, client-auth mode, cipher suites, ACME refused); authentication (the htpasswd
/// file parses, the token keys load, the token algorithms are supported); storage (a filesystem root this user can
/// write, or create, nothing in the way; the S3 and Azure drivers' own option checks); the Redis client options when the cache
/// is <c>redis</c> (addresses, TLS files); the pull-through cache's credential helpers (<c>proxy.exec.command</c>) are
/// programs this user can run.</para>
/// <para>Files are read; nothing is created, bound or contacted. What only the network can tell (a port already
/// taken, an unreachable S3 endpoint or bucket, an Azure container that is missing (serve creates it), Redis down, notification endpoints) is not configuration: serve meets
/// it when it listens or at the first request, and a replica with Redis down still serves from storage.</para>
/// </remarks>
internal static class StartupValidation
{
    /// <summary>Checks <paramref name="config"/> as <c>serve</c> will use it.</summary>
    /// <param name="config">The loaded configuration.</param>
    /// <param name="access">The storage root's permission check; tests replace access(2) to play a user without rights.</param>
    /// <exception cref="ConfigurationException">A setting cannot be used; the message names the key.</exception>
    /// <exception cref="StartupException">The storage root cannot be used by this user on this machine.</exception>
    public static StartupPlan Validate(RegistryConfiguration config, StorageRootCheck.AccessProbe? access = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var warnings = new List<string>();
        var registry = RegistryAddress(config.Http);
        var debug = DebugAddress(config.Http, registry);
        var tls = TlsSetup.Create(config.Http, warnings);
        var tokenSigningKeys = CheckAuth(config);
        CheckStorage(config.Storage, access);
        CheckProxy(config.Proxy);
        var redis = config.Storage.Cache.BlobDescriptor == StorageCacheOptions.RedisCache
            ? BlobDescriptorCacheRegistration.ToConfigurationOptions(config.Redis)
            : null;
        return new StartupPlan(registry, debug, tls, tokenSigningKeys, redis, warnings);
    }

    /// <summary>Every credential helper the proxy names must be a program this user can run; its output is the upstream's business.</summary>
    private static void CheckProxy(ProxyOptions proxy)
    {
        var helpers = new List<(string Key, string Command)>();
        if (proxy.Exec is { } exec)
        {
            helpers.Add(("proxy.exec.command", exec.Command));
        }

        for (var i = 0; i < proxy.Upstreams.Count; i++)
        {
            if (proxy.Upstreams[i].Exec is { } upstreamExec)
            {
                helpers.Add(($"proxy.upstreams.{i}.exec.command", upstreamExec.Command));
            }
        }

        foreach (var (key, command) in helpers)
        {
            if (FindExecutable(command) is null)
            {
                throw ConfigurationException.ForKey(key,
                    $"'{command}' is not an executable file{(command.Contains('/', StringComparison.Ordinal) ? "" : " on PATH")}; install the credential helper or give its full path");
            }
        }
    }

    /// <summary>The file <paramref name="command"/> runs (a path, or a name looked up on PATH) when it is executable, else null.</summary>
    private static string? FindExecutable(string command)
    {
        var candidates = command.Contains('/', StringComparison.Ordinal)
            ? [command]
            : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                .Select(directory => Path.Combine(directory, command));
        return candidates.FirstOrDefault(IsExecutable);
    }

    private static bool IsExecutable(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        return OperatingSystem.IsWindows()
            || (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
    }

    /// <summary>The one line <c>serve</c> and <c>config check</c> print for a refused configuration, or null for another exception.</summary>
    public static string? FailureLine(Exception exception) => exception switch
    {
        ConfigurationException configuration => $"berth: configuration error: {configuration.Message}",
        StartupException startup => $"berth: {startup.Message}",
        _ => null,
    };

    /// <summary>An htpasswd file that cannot be used, as a problem with <c>auth.htpasswd.path</c>.</summary>
    public static ConfigurationException HtpasswdProblem(HtpasswdFormatException exception) =>
        ConfigurationException.ForKey("auth.htpasswd.path", exception.Message, innerException: exception);

    private static ListenAddress RegistryAddress(HttpOptions http)
    {
        if (string.Equals(http.Net, "unix", StringComparison.OrdinalIgnoreCase))
        {
            // Whether the socket can be created is known when it is bound, as a TCP port in use is.
            return new ListenAddress(null, 0, http.Addr);
        }

        var (address, port) = RegistryHost.ParseAddress(http.Addr);
        return new ListenAddress(address, port);
    }

    private static ListenAddress? DebugAddress(HttpOptions http, ListenAddress registry)
    {
        if (http.Debug.Addr is not { Length: > 0 } addr)
        {
            return null;
        }

        var (address, port) = RegistryHost.ParseAddress(addr, "http.debug.addr");
        var debug = new ListenAddress(address, port);

        // Kestrel would refuse the second bind as "address already in use", which reads like another process.
        if (registry.UnixSocketPath is null && port != 0 && port == registry.Port
            && (address is null || registry.Address is null || address.Equals(registry.Address)))
        {
            throw ConfigurationException.ForKey("http.debug.addr",
                $"'{addr}' takes the port of http.addr ('{http.Addr}'); the debug listener needs a port of its own");
        }

        return debug;
    }

    private static TokenSigningKeys? CheckAuth(RegistryConfiguration config)
    {
        switch (config.Auth.Type)
        {
            case AuthOptions.HtpasswdType:
                try
                {
                    // The controller reads the file again when serve builds it (and whenever it changes).
                    _ = HtpasswdFile.Load(config.Auth.Htpasswd!.Path);
                }
                catch (HtpasswdFormatException ex)
                {
                    throw HtpasswdProblem(ex);
                }

                return null;

            case AuthOptions.TokenType:
                var token = config.Auth.Token!;
                TokenSigningKeys keys;
                try
                {
                    keys = TokenSigningKeys.Load(token.RootCertBundle, token.Jwks);
                }
                catch (TokenKeyException ex)
                {
                    throw ConfigurationException.ForKey("auth.token", ex.Message, innerException: ex);
                }

                var unsupported = token.SigningAlgorithms.Where(a => !TokenAuthSettings.DefaultAlgorithms.Contains(a)).ToList();
                if (unsupported.Count > 0)
                {
                    throw ConfigurationException.ForKey("auth.token.signingalgorithms",
                        $"{string.Join(", ", unsupported)} not supported; Berth verifies {string.Join(", ", TokenAuthSettings.DefaultAlgorithms)}");
                }

                return keys;

            default:
                return null;
        }
    }

    private static void CheckStorage(StorageOptions storage, StorageRootCheck.AccessProbe? access)
    {
        switch (storage.Driver)
        {
            case StorageOptions.FilesystemDriver:
                StorageRootCheck.Check(storage.Filesystem.RootDirectory, storage.Maintenance.ReadOnly.Enabled, access);
                break;
            case StorageOptions.S3Driver:
                _ = S3DriverFactory.Validate(storage.S3!);
                break;
            case StorageOptions.AzureDriver:
                _ = AzureDriverFactory.Validate(storage.Azure!);
                break;
        }
    }
}
