using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Berth.Auth;

/// <summary>How the <see cref="FailedLoginLimiter"/> treats a client address.</summary>
public sealed record FailedLoginLimits
{
    /// <summary>Failures (after decay) from which requests with credentials are slowed down.</summary>
    public int Threshold { get; init; } = 5;

    /// <summary>Failures (after decay) at which the address is answered 429; zero turns the limiter off.</summary>
    public int Limit { get; init; } = 10;

    /// <summary>The time in which <see cref="Limit"/> failures are forgotten again (they fade continuously).</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The longest a slowed-down request waits before its credentials are checked.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The most addresses remembered at once; beyond it the least suspicious are forgotten first.</summary>
    public int MaxClients { get; init; } = 100_000;

    /// <summary>
    /// Reverse proxies in front of the registry: for a request from one of them, the client is the last address
    /// in <c>X-Forwarded-For</c> that is not a trusted proxy. Empty: the connection's address is the client.
    /// </summary>
    public IReadOnlyList<IPNetwork> TrustedProxies { get; init; } = [];

    public bool Enabled => Limit > 0;
}

/// <summary>The limiter's verdict for a client about to present credentials.</summary>
public readonly record struct LoginAllowance(TimeSpan Delay, TimeSpan? RetryAfter)
{
    public bool Throttled => RetryAfter is not null;
}

/// <summary>
/// Counts failed logins per client address (IPv6 by /64, since one host owns the whole prefix) with a leaky
/// bucket: each failure adds one point and points leak at <see cref="FailedLoginLimits.Limit"/> per
/// <see cref="FailedLoginLimits.Window"/>. From <see cref="FailedLoginLimits.Threshold"/> points a client's
/// attempts are delayed (doubling per point, up to <see cref="FailedLoginLimits.MaxDelay"/>); at
/// <see cref="FailedLoginLimits.Limit"/> points they are refused with a Retry-After until the bucket drains
/// below the limit. Other addresses are not affected. Memory is bounded by <see cref="FailedLoginLimits.MaxClients"/>.
/// </summary>
public sealed class FailedLoginLimiter
{
    private static readonly TimeSpan BaseDelay = TimeSpan.FromMilliseconds(250);
    private readonly ConcurrentDictionary<IPAddress, Bucket> _buckets = new();
    private readonly FailedLoginLimits _limits;
    private readonly TimeProvider _time;
    private readonly double _leakPerSecond;
    private readonly Lock _sweepGate = new();
    private long _lastSweep;

    public FailedLoginLimiter(FailedLoginLimits limits, TimeProvider? time = null)
    {
        _limits = limits;
        _time = time ?? TimeProvider.System;
        _leakPerSecond = limits.Enabled ? limits.Limit / Math.Max(limits.Window.TotalSeconds, 0.001) : 0;
        _lastSweep = _time.GetTimestamp();
    }

    public FailedLoginLimits Limits => _limits;

    /// <summary>The number of addresses currently remembered.</summary>
    public int TrackedClients => _buckets.Count;

    /// <summary>Whether <paramref name="address"/> may try now, and how long it should wait first.</summary>
    public LoginAllowance Check(IPAddress? address)
    {
        if (!_limits.Enabled || address is null || !_buckets.TryGetValue(Key(address), out var bucket))
        {
            return default;
        }

        var score = bucket.Score(_time.GetTimestamp(), _leakPerSecond, _time);
        var failures = Failures(score);
        if (failures >= _limits.Limit)
        {
            // Until the bucket has drained to one failure below the limit.
            var seconds = Math.Ceiling((score - (_limits.Limit - 1)) / _leakPerSecond);
            return new LoginAllowance(TimeSpan.Zero, TimeSpan.FromSeconds(Math.Max(1, seconds)));
        }

        if (failures >= _limits.Threshold && _limits.Threshold > 0)
        {
            var doublings = Math.Min(16, failures - _limits.Threshold);
            var delay = TimeSpan.FromTicks(Math.Min(_limits.MaxDelay.Ticks, BaseDelay.Ticks << doublings));
            return new LoginAllowance(delay, null);
        }

        return default;
    }

    /// <summary>
    /// Counts an attempt about to be checked as failed until <see cref="Refund"/> says it succeeded, so that many
    /// attempts in parallel are limited as surely as attempts one after the other. Returns true when this attempt
    /// reached the limit.
    /// </summary>
    public bool RecordFailure(IPAddress? address)
    {
        if (!_limits.Enabled || address is null)
        {
            return false;
        }

        var now = _time.GetTimestamp();
        SweepIfDue(now);
        var bucket = _buckets.GetOrAdd(Key(address), static (_, start) => new Bucket(start), now);
        var failures = Failures(bucket.Add(now, _leakPerSecond, _time));
        return failures == _limits.Limit;
    }

    /// <summary>
    /// The failures a score stands for: a failure counts in full until it has completely leaked away, so that the
    /// limit means "this many failures", not "this many minus the little that leaked while they were made".
    /// </summary>
    private static int Failures(double score) => (int)Math.Ceiling(score - 1e-6);

    /// <summary>The client a request comes from: the connection's address, or behind a trusted proxy the forwarded one.</summary>
    public IPAddress? ClientAddress(Microsoft.AspNetCore.Http.HttpContext context)
    {
        var remote = context.Connection.RemoteIpAddress;
        if (remote is null || _limits.TrustedProxies.Count == 0 || !IsTrusted(remote))
        {
            return remote;
        }

        var forwarded = context.Request.Headers["X-Forwarded-For"];
        var hops = string.Join(',', forwarded.ToArray()).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        for (var i = hops.Length - 1; i >= 0; i--)
        {
            if (!IPAddress.TryParse(hops[i], out var hop))
            {
                // Garbage in the header: the last trustworthy address is the one we have.
                return remote;
            }

            if (!IsTrusted(hop))
            {
                return hop;
            }

            remote = hop;
        }

        return remote;
    }

    private bool IsTrusted(IPAddress address)
    {
        var normalized = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        foreach (var network in _limits.TrustedProxies)
        {
            if (network.Contains(normalized))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Takes back the point of an attempt that succeeded.</summary>
    public void Refund(IPAddress? address)
    {
        if (_limits.Enabled && address is not null && _buckets.TryGetValue(Key(address), out var bucket))
        {
            bucket.Add(_time.GetTimestamp(), _leakPerSecond, _time, -1);
        }
    }

    /// <summary>IPv4-mapped addresses as IPv4; IPv6 reduced to its /64 prefix.</summary>
    internal static IPAddress Key(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            Span<byte> bytes = stackalloc byte[16];
            address.TryWriteBytes(bytes, out _);
            bytes[8..].Clear();
            return new IPAddress(bytes);
        }

        return address;
    }

    private void SweepIfDue(long now)
    {
        var overFull = _buckets.Count >= _limits.MaxClients;
        if (!overFull && _time.GetElapsedTime(Interlocked.Read(ref _lastSweep), now) < TimeSpan.FromSeconds(30))
        {
            return;
        }

        if (!_sweepGate.TryEnter())
        {
            return;
        }

        try
        {
            Interlocked.Exchange(ref _lastSweep, now);
            foreach (var (key, bucket) in _buckets)
            {
                if (bucket.Score(now, _leakPerSecond, _time) <= 0)
                {
                    _buckets.TryRemove(key, out _);
                }
            }

            if (_buckets.Count >= _limits.MaxClients)
            {
                // Still full of live entries: forget the least suspicious half rather than grow without bound.
                var keep = _limits.MaxClients / 2;
                var victims = _buckets
                    .Select(entry => (entry.Key, Score: entry.Value.Score(now, _leakPerSecond, _time)))
                    .OrderBy(entry => entry.Score)
                    .Take(Math.Max(1, _buckets.Count - keep))
                    .ToList();
                foreach (var (key, _) in victims)
                {
                    _buckets.TryRemove(key, out _);
                }
            }
        }
        finally
        {
            _sweepGate.Exit();
        }
    }

    private sealed class Bucket(long start)
    {
        private readonly Lock _gate = new();
        private double _score;
        private long _updated = start;

        public double Score(long now, double leakPerSecond, TimeProvider time)
        {
            lock (_gate)
            {
                return Leak(now, leakPerSecond, time);
            }
        }

        public double Add(long now, double leakPerSecond, TimeProvider time, double points = 1)
        {
            lock (_gate)
            {
                _score = Math.Max(0, Leak(now, leakPerSecond, time) + points);
                _updated = now;
                return _score;
            }
        }

        private double Leak(long now, double leakPerSecond, TimeProvider time)
        {
            var elapsed = time.GetElapsedTime(_updated, now).TotalSeconds;
            return Math.Max(0, _score - (Math.Max(0, elapsed) * leakPerSecond));
        }
    }
}
