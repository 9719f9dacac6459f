namespace Berth.Proxy;

/// <summary>Why an upstream could not answer.</summary>
public enum UpstreamFailure
{
    /// <summary>Connection refused or reset, a timeout, a 5xx, or an answer that is not what was asked for.</summary>
    Unavailable,

    /// <summary>429: the upstream asks Berth to wait (<see cref="UpstreamException.RetryAfter"/>).</summary>
    RateLimited,

    /// <summary>401 or 403 after signing in: the credentials are wrong or were revoked.</summary>
    Unauthorized,

    /// <summary>The upstream answered, but wrongly: a body cut short or not matching its digest, a manifest Berth cannot store.</summary>
    BadAnswer,
}

/// <summary>An upstream registry failed to answer a request Berth needed.</summary>
public sealed class UpstreamException : Exception
{
    public UpstreamException(string upstream, UpstreamFailure failure, string message, int? status = null, TimeSpan? retryAfter = null, Exception? inner = null)
        : base(message, inner)
    {
        Upstream = upstream;
        Failure = failure;
        Status = status;
        RetryAfter = retryAfter;
    }

    /// <summary>The upstream's name.</summary>
    public string Upstream { get; }

    /// <summary>What went wrong.</summary>
    public UpstreamFailure Failure { get; }

    /// <summary>The upstream's HTTP status, when it answered.</summary>
    public int? Status { get; }

    /// <summary>How long the upstream asked Berth to wait, for <see cref="UpstreamFailure.RateLimited"/>.</summary>
    public TimeSpan? RetryAfter { get; }
}
