using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Auth;

/// <summary>
/// Basic authentication against an htpasswd file of bcrypt entries (registry:2's <c>auth.htpasswd</c>), with
/// Berth's <see cref="AccessPolicy"/> deciding what each user, and anonymous clients, may do.
/// </summary>
/// <remarks>
/// <para>The file is checked for changes (its resolved target, modification time and size, so a Kubernetes
/// secret's symlink swap counts) on every request that carries credentials and re-read when it changed. A
/// changed file that does not parse is logged and the last good version stays in force.</para>
/// <para>bcrypt costs tens of milliseconds by design and clients send credentials on every request, so a
/// successful check is remembered for a few minutes under an HMAC of user and password keyed by a per-process
/// secret; a changed entry in the file invalidates it. Unknown users are checked against a dummy hash of the
/// file's highest cost so that response times do not reveal which users exist. Hashes are compared in
/// constant time, and bcrypt runs at most once per processor at a time.</para>
/// </remarks>
public sealed partial class HtpasswdAccessController : IAccessController, IBrowserSignIn, IDisposable
{
    private static readonly TimeSpan CacheLifetime = TimeSpan.FromMinutes(5);
    private const int CacheCapacity = 4096;

    private readonly string _path;
    private readonly string _challenge;
    private readonly AccessPolicy _policy;
    private readonly FailedLoginLimiter _limiter;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _bcryptSlots = new(Math.Max(1, Environment.ProcessorCount));
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, CachedLogin> _verified = new(StringComparer.Ordinal);
    private readonly Lock _reloadGate = new();
    private volatile Snapshot _current;
    private FileSignature? _rejectedSignature;

    /// <summary>Loads <paramref name="path"/>.</summary>
    /// <exception cref="HtpasswdFormatException">The file is missing, unreadable or has a line that is not a bcrypt entry.</exception>
    public HtpasswdAccessController(string realm, string path, AccessPolicy? policy = null, FailedLoginLimiter? limiter = null,
        ILogger<HtpasswdAccessController>? logger = null, TimeProvider? time = null)
    {
        _path = path;
        _challenge = Challenges.Basic(realm);
        _policy = policy ?? AccessPolicy.Default;
        _limiter = limiter ?? new FailedLoginLimiter(new FailedLoginLimits { Limit = 0 });
        _logger = logger ?? NullLogger<HtpasswdAccessController>.Instance;
        _time = time ?? TimeProvider.System;
        FileSignature? signature;
        try
        {
            signature = FileSignature.Of(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            signature = null;
        }

        _current = new Snapshot(HtpasswdFile.Load(path), signature);
    }

    /// <summary>The users of the file in force.</summary>
    public IReadOnlyCollection<string> Users => _current.File.Users;

    public async ValueTask<AccessDecision> AuthorizeAsync(HttpContext context, IReadOnlyList<AccessRequest> requested, CancellationToken cancellationToken)
    {
        var credentials = BasicCredentials.Parse(context.Request.Headers.Authorization);
        string? subject = null;
        switch (credentials.Kind)
        {
            case CredentialsKind.None or CredentialsKind.Anonymous:
                break;
            case CredentialsKind.OtherScheme:
                return AccessDecision.Unauthenticated(_challenge, "this registry uses Basic authentication");
            case CredentialsKind.Malformed:
                return AccessDecision.Unauthenticated(_challenge, "malformed Authorization header");
            default:
                var (outcome, retryAfter) = await CheckPasswordAsync(context, credentials.User, credentials.Password, cancellationToken);
                switch (outcome)
                {
                    case SignInOutcome.Throttled:
                        return AccessDecision.Throttled(retryAfter);
                    case SignInOutcome.Refused:
                        return AccessDecision.Unauthenticated(_challenge, "invalid user name or password");
                }

                subject = credentials.User;
                break;
        }

        if (subject is null && requested.Count == 0)
        {
            // The version check, and the way clients learn which scheme to use: anonymous clients are challenged.
            return AccessDecision.Unauthenticated(_challenge);
        }

        foreach (var request in requested)
        {
            if (!_policy.Allows(subject, request))
            {
                if (subject is null)
                {
                    return AccessDecision.Unauthenticated(_challenge);
                }

                LogDenied(_logger, Printable(subject), request.Scope);
                return AccessDecision.Denied(subject, $"user {subject} may not {string.Join(',', request.Actions)} {request.Name}");
            }
        }

        return AccessDecision.Granted(new PolicyGrant(_policy, subject));
    }

    public bool SignInNeeded => true;

    public async ValueTask<SignInOutcome> SignInAsync(HttpContext context, string user, string password, CancellationToken cancellationToken) =>
        (await CheckPasswordAsync(context, user, password, cancellationToken)).Outcome;

    public string? CredentialStamp(string user)
    {
        var hash = Refresh().File.HashOf(user);
        return hash is null ? null : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(hash)))[..16];
    }

    public IAccessGrant GrantFor(string? user) => new PolicyGrant(_policy, user);

    /// <summary>
    /// The password check of an API request and of the web UI's sign-in form alike: throttled per client address,
    /// slowed down after repeated failures, bcrypt only when the pair is not remembered from a recent success.
    /// </summary>
    private async ValueTask<(SignInOutcome Outcome, TimeSpan RetryAfter)> CheckPasswordAsync(HttpContext context, string user, string password,
        CancellationToken cancellationToken)
    {
        var address = _limiter.ClientAddress(context);
        var allowance = _limiter.Check(address);
        if (allowance.Throttled)
        {
            LogThrottledRequest(_logger, Address(address));
            return (SignInOutcome.Throttled, allowance.RetryAfter!.Value);
        }

        var snapshot = Refresh();
        if (IsCached(snapshot, user, password))
        {
            return (SignInOutcome.SignedIn, TimeSpan.Zero);
        }

        if (allowance.Delay > TimeSpan.Zero)
        {
            await Task.Delay(allowance.Delay, _time, cancellationToken);
        }

        // Charged before bcrypt runs, refunded on success: parallel guesses count at once.
        var reachedLimit = _limiter.RecordFailure(address);
        if (!await VerifyWithBcryptAsync(snapshot, user, password, cancellationToken))
        {
            LogFailedLogin(_logger, Printable(user), Address(address));
            if (reachedLimit)
            {
                LogClientThrottled(_logger, Address(address), _limiter.Limits.Limit, _limiter.Limits.Window);
            }

            return (SignInOutcome.Refused, TimeSpan.Zero);
        }

        _limiter.Refund(address);
        return (SignInOutcome.SignedIn, TimeSpan.Zero);
    }

    /// <summary>Checks a user and password against the file in force (re-reading it when it changed).</summary>
    public async ValueTask<bool> VerifyAsync(string user, string password, CancellationToken cancellationToken)
    {
        var snapshot = Refresh();
        return IsCached(snapshot, user, password) || await VerifyWithBcryptAsync(snapshot, user, password, cancellationToken);
    }

    /// <summary>True when this user and password passed bcrypt recently and the user's entry has not changed since.</summary>
    private bool IsCached(Snapshot snapshot, string user, string password)
    {
        var hash = snapshot.File.HashOf(user);
        return hash is not null && _verified.TryGetValue(CacheKey(user, password), out var cached) && cached.Expires > _time.GetUtcNow()
            && string.Equals(cached.User, user, StringComparison.Ordinal)
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(cached.Hash), Encoding.ASCII.GetBytes(hash));
    }

    private async ValueTask<bool> VerifyWithBcryptAsync(Snapshot snapshot, string user, string password, CancellationToken cancellationToken)
    {
        var hash = snapshot.File.HashOf(user);
        await _bcryptSlots.WaitAsync(cancellationToken);
        bool valid;
        try
        {
            // An unknown user costs as much as a known one.
            valid = BcryptMatches(password, hash ?? snapshot.DummyHash) && hash is not null;
        }
        finally
        {
            _bcryptSlots.Release();
        }

        if (valid)
        {
            if (_verified.Count >= CacheCapacity)
            {
                _verified.Clear();
            }

            _verified[CacheKey(user, password)] = new CachedLogin(user, hash!, _time.GetUtcNow() + CacheLifetime);
        }

        return valid;
    }

    public void Dispose() => _bcryptSlots.Dispose();

    /// <summary>bcrypt of <paramref name="password"/> with the salt and cost of <paramref name="hash"/>, compared in constant time.</summary>
    internal static bool BcryptMatches(string password, string hash)
    {
        string computed;
        try
        {
            computed = BCrypt.Net.BCrypt.HashPassword(password, hash);
        }
        catch (Exception ex) when (ex is BCrypt.Net.SaltParseException or BCrypt.Net.BcryptAuthenticationException or ArgumentException)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(computed), Encoding.ASCII.GetBytes(hash));
    }

    private Snapshot Refresh()
    {
        var current = _current;
        FileSignature? signature;
        try
        {
            signature = FileSignature.Of(_path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            signature = null;
        }

        if (signature is null || signature == current.Signature)
        {
            if (signature is null && _rejectedSignature is not { Missing: true })
            {
                _rejectedSignature = FileSignature.MissingFile;
                LogFileMissing(_logger, _path);
            }

            return current;
        }

        lock (_reloadGate)
        {
            current = _current;
            if (signature == current.Signature || signature == _rejectedSignature)
            {
                return current;
            }

            try
            {
                var file = HtpasswdFile.Load(_path);
                var reloaded = new Snapshot(file, signature);
                _current = reloaded;
                _rejectedSignature = null;
                _verified.Clear();
                LogReloaded(_logger, _path, file.Users.Count);
                return reloaded;
            }
            catch (HtpasswdFormatException ex)
            {
                _rejectedSignature = signature;
                LogReloadFailed(_logger, ex.Message);
                return current;
            }
        }
    }

    private string CacheKey(string user, string password)
    {
        var input = Encoding.UTF8.GetBytes(user + "\0" + password);
        try
        {
            return Convert.ToBase64String(HMACSHA256.HashData(_cacheKey, input));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
        }
    }

    private static string Address(IPAddress? address) => address?.ToString() ?? "-";

    /// <summary>User names go into logs; keep them on one line and short.</summary>
    internal static string Printable(string text)
    {
        var builder = new StringBuilder(Math.Min(text.Length, 64));
        foreach (var c in text.Length > 64 ? text[..64] : text)
        {
            builder.Append(char.IsControl(c) ? '?' : c);
        }

        return builder.ToString();
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Failed login for user '{User}' from {Address}")]
    private static partial void LogFailedLogin(ILogger logger, string user, string address);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning,
        Message = "{Address} reached {Limit} failed logins within {Window}: its logins are refused with 429 until the count decays")]
    private static partial void LogClientThrottled(ILogger logger, string address, int limit, TimeSpan window);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Debug, Message = "Refused a login from {Address}: too many failed logins")]
    private static partial void LogThrottledRequest(ILogger logger, string address);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "User '{User}' was denied {Scope}")]
    private static partial void LogDenied(ILogger logger, string user, string scope);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Information, Message = "Reloaded htpasswd file {Path}: {Users} user(s)")]
    private static partial void LogReloaded(ILogger logger, string path, int users);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Error, Message = "The changed htpasswd file cannot be used, the previous version stays in force: {Problem}")]
    private static partial void LogReloadFailed(ILogger logger, string problem);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Error, Message = "The htpasswd file {Path} is gone or unreadable; the last version read stays in force")]
    private static partial void LogFileMissing(ILogger logger, string path);

    private sealed record CachedLogin(string User, string Hash, DateTimeOffset Expires);

    private sealed class Snapshot(HtpasswdFile file, FileSignature? signature)
    {
        private string? _dummyHash;

        public HtpasswdFile File { get; } = file;

        public FileSignature? Signature { get; } = signature;

        /// <summary>A hash of a random password at the file's highest cost, made on first use.</summary>
        public string DummyHash => _dummyHash ??= BCrypt.Net.BCrypt.HashPassword(Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)), File.MaxCost);
    }

    private sealed class PolicyGrant(AccessPolicy policy, string? subject) : IAccessGrant
    {
        public string? Subject => subject;

        public bool Allows(AccessRequest request) => policy.Allows(subject, request);
    }
}

/// <summary>
/// What identifies a version of a file: its real path (every symlink along the way resolved, so a Kubernetes secret
/// whose <c>..data</c> link is swapped counts as a new file), modification time, size and a hash of its content. The
/// hash is what catches a rewrite of the same size within one tick of the filesystem's clock (a renewed key of a
/// fixed-size algorithm written right after the certificate); the files watched (keys, certificates, htpasswd) are small.
/// </summary>
public sealed record FileSignature(string Target, DateTime LastWriteUtc, long Length, string ContentHash = "", bool Missing = false)
{
    private const int MaxLinks = 40;
    private const long MaxHashedBytes = 16 * 1024 * 1024;

    public static readonly FileSignature MissingFile = new("", default, -1, Missing: true);

    /// <summary>The signature of <paramref name="path"/>, or null when it does not exist.</summary>
    public static FileSignature? Of(string path)
    {
        var target = new FileInfo(RealPath(path));
        if (!target.Exists)
        {
            return null;
        }

        var hash = target.Length <= MaxHashedBytes
            ? Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(target.FullName)))
            : "";
        return new FileSignature(target.FullName, target.LastWriteTimeUtc, target.Length, hash);
    }

    /// <summary>The path with every symbolic link resolved, component by component (as realpath(3)).</summary>
    internal static string RealPath(string path)
    {
        var remaining = new Stack<string>(Path.GetFullPath(path).Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        var current = "/";
        var links = 0;
        while (remaining.Count > 0)
        {
            var part = remaining.Pop();
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? "/";
                continue;
            }

            var candidate = Path.Combine(current, part);
            var link = new FileInfo(candidate).LinkTarget;
            if (link is null || ++links > MaxLinks)
            {
                current = candidate;
                continue;
            }

            // Resolve the link's text relative to its directory, then walk what it names before the rest.
            var segments = Path.Combine(current, link).Split('/', StringSplitOptions.RemoveEmptyEntries);
            for (var i = segments.Length - 1; i >= 0; i--)
            {
                remaining.Push(segments[i]);
            }

            current = "/";
        }

        return current;
    }
}
