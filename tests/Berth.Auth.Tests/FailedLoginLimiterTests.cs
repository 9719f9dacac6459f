using System.Net;
using Microsoft.AspNetCore.Http;

namespace Berth.Auth.Tests;

public sealed class FailedLoginLimiterTests
{
    private static readonly IPAddress Attacker = IPAddress.Parse("198.51.100.7");
    private static readonly IPAddress Bystander = IPAddress.Parse("198.51.100.8");

    private readonly ManualTimeProvider _time = new();

    private FailedLoginLimiter Limiter(int threshold = 3, int limit = 6, int windowSeconds = 60, int maxClients = 100_000) =>
        new(new FailedLoginLimits
        {
            Threshold = threshold,
            Limit = limit,
            Window = TimeSpan.FromSeconds(windowSeconds),
            MaxDelay = TimeSpan.FromSeconds(2),
            MaxClients = maxClients,
        }, _time);

    [Fact]
    public void Check_BelowThreshold_NoDelay()
    {
        var limiter = Limiter();
        limiter.RecordFailure(Attacker);
        limiter.RecordFailure(Attacker);

        Assert.Equal(default, limiter.Check(Attacker));
    }

    [Fact]
    public void Check_FromThreshold_DelaysDoublingUpToTheMaximum()
    {
        var limiter = Limiter(threshold: 2, limit: 20);
        for (var i = 0; i < 2; i++)
        {
            limiter.RecordFailure(Attacker);
        }

        var first = limiter.Check(Attacker).Delay;
        limiter.RecordFailure(Attacker);
        var second = limiter.Check(Attacker).Delay;
        for (var i = 0; i < 10; i++)
        {
            limiter.RecordFailure(Attacker);
        }

        Assert.Equal(TimeSpan.FromMilliseconds(250), first);
        Assert.Equal(TimeSpan.FromMilliseconds(500), second);
        Assert.Equal(TimeSpan.FromSeconds(2), limiter.Check(Attacker).Delay);
        Assert.False(limiter.Check(Attacker).Throttled);
    }

    [Fact]
    public void Check_AtLimit_ThrottlesWithRetryAfterAndOtherClientsAreUnaffected()
    {
        var limiter = Limiter(limit: 6, windowSeconds: 60);
        var reached = Enumerable.Range(0, 6).Select(_ => limiter.RecordFailure(Attacker)).ToList();

        var allowance = limiter.Check(Attacker);

        Assert.Equal([false, false, false, false, false, true], reached);
        Assert.True(allowance.Throttled);
        // One point leaks every 10 s.
        Assert.Equal(TimeSpan.FromSeconds(10), allowance.RetryAfter);
        Assert.Equal(default, limiter.Check(Bystander));
    }

    [Fact]
    public void Check_AfterTheWindow_FailuresHaveDecayed()
    {
        var limiter = Limiter(limit: 6, windowSeconds: 60);
        for (var i = 0; i < 6; i++)
        {
            limiter.RecordFailure(Attacker);
        }

        _time.Advance(TimeSpan.FromSeconds(11));
        Assert.False(limiter.Check(Attacker).Throttled);
        _time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(default, limiter.Check(Attacker));
    }

    [Fact]
    public void Refund_SuccessfulAttempt_TakesItsPointBack()
    {
        var limiter = Limiter(threshold: 1, limit: 2);
        limiter.RecordFailure(Attacker);
        limiter.Refund(Attacker);

        Assert.Equal(default, limiter.Check(Attacker));
    }

    [Fact]
    public void RecordFailure_Ipv6_CountsPerSlash64()
    {
        var limiter = Limiter(limit: 2);
        limiter.RecordFailure(IPAddress.Parse("2001:db8:1:2::1"));
        limiter.RecordFailure(IPAddress.Parse("2001:db8:1:2:ffff::9"));

        Assert.True(limiter.Check(IPAddress.Parse("2001:db8:1:2::77")).Throttled);
        Assert.False(limiter.Check(IPAddress.Parse("2001:db8:1:3::1")).Throttled);
    }

    [Fact]
    public void RecordFailure_Ipv4MappedAddress_CountsAsIpv4()
    {
        var limiter = Limiter(limit: 1);
        limiter.RecordFailure(Attacker.MapToIPv6());

        Assert.True(limiter.Check(Attacker).Throttled);
    }

    [Fact]
    public void RecordFailure_ManyAddresses_MemoryStaysBounded()
    {
        var limiter = Limiter(maxClients: 100);
        for (var i = 0; i < 1000; i++)
        {
            limiter.RecordFailure(new IPAddress([10, 0, (byte)(i >> 8), (byte)i]));
        }

        Assert.InRange(limiter.TrackedClients, 1, 100);
    }

    [Fact]
    public void RecordFailure_LimitZero_NeverThrottles()
    {
        var limiter = Limiter(threshold: 0, limit: 0);
        for (var i = 0; i < 50; i++)
        {
            limiter.RecordFailure(Attacker);
        }

        Assert.Equal(default, limiter.Check(Attacker));
    }

    [Fact]
    public void ClientAddress_BehindTrustedProxy_IsTheLastUntrustedForwardedHop()
    {
        var limiter = new FailedLoginLimiter(new FailedLoginLimits { TrustedProxies = [IPNetwork.Parse("10.0.0.0/8")] }, _time);
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse("10.1.1.1");
        context.Request.Headers["X-Forwarded-For"] = "203.0.113.9, 198.51.100.7, 10.2.2.2";

        Assert.Equal(IPAddress.Parse("198.51.100.7"), limiter.ClientAddress(context));

        context.Connection.RemoteIpAddress = IPAddress.Parse("192.0.2.1");
        Assert.Equal(IPAddress.Parse("192.0.2.1"), limiter.ClientAddress(context));
    }
}
