using System.Collections.ObjectModel;

namespace Berth.Server.Configuration;

/// <summary><c>health</c>: checks that turn the registry unhealthy when they fail.</summary>
public sealed record HealthOptions
{
    /// <summary>Distribution's interval for a check that does not set one.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);

    /// <summary><c>health.storagedriver</c>.</summary>
    public StorageDriverHealthOptions StorageDriver { get; init; } = new();

    /// <summary><c>health.file</c>: unhealthy while any of these files exists.</summary>
    public IReadOnlyList<FileHealthCheckOptions> File { get; init; } = [];

    /// <summary><c>health.http</c>: unhealthy while any of these URLs answers with an unexpected status.</summary>
    public IReadOnlyList<HttpHealthCheckOptions> Http { get; init; } = [];

    /// <summary><c>health.tcp</c>: unhealthy while any of these addresses refuses connections.</summary>
    public IReadOnlyList<TcpHealthCheckOptions> Tcp { get; init; } = [];

    internal static HealthOptions Read(SectionReader section) => new()
    {
        StorageDriver = section["storagedriver"].AsSection(StorageDriverHealthOptions.Read),
        // Distribution's variables use the Go field names here: REGISTRY_HEALTH_FILECHECKERS_0_FILE and so on.
        File = section.Get("file", environmentName: "filecheckers").AsList(check => check.AsSection(FileHealthCheckOptions.Read)),
        Http = section.Get("http", environmentName: "httpcheckers").AsList(check => check.AsSection(HttpHealthCheckOptions.Read)),
        Tcp = section.Get("tcp", environmentName: "tcpcheckers").AsList(check => check.AsSection(TcpHealthCheckOptions.Read)),
    };

    internal static TimeSpan ReadInterval(SectionReader section)
    {
        var interval = section["interval"].AsDuration(DefaultInterval);
        return interval == TimeSpan.Zero ? DefaultInterval : interval;
    }
}

/// <summary><c>health.storagedriver</c>: periodically check that the storage driver answers.</summary>
public sealed record StorageDriverHealthOptions
{
    /// <summary><c>enabled</c>.</summary>
    public bool Enabled { get; init; }

    /// <summary><c>interval</c> (default 10s).</summary>
    public TimeSpan Interval { get; init; } = HealthOptions.DefaultInterval;

    /// <summary><c>threshold</c>: consecutive failures before unhealthy; 0 means the first failure.</summary>
    public int Threshold { get; init; }

    internal static StorageDriverHealthOptions Read(SectionReader section) => new()
    {
        Enabled = section["enabled"].AsBool(),
        Interval = HealthOptions.ReadInterval(section),
        Threshold = section["threshold"].AsInt32(0, minimum: 0),
    };
}

/// <summary>One <c>health.file</c> item.</summary>
public sealed record FileHealthCheckOptions
{
    /// <summary><c>file</c>: the path whose existence means unhealthy (required).</summary>
    public required string File { get; init; }

    /// <summary><c>interval</c> (default 10s).</summary>
    public TimeSpan Interval { get; init; } = HealthOptions.DefaultInterval;

    /// <summary><c>threshold</c>: consecutive failures before unhealthy.</summary>
    public int Threshold { get; init; }

    internal static FileHealthCheckOptions Read(SectionReader section) => new()
    {
        File = section["file"].AsRequiredString("required: the file to check"),
        Interval = HealthOptions.ReadInterval(section),
        Threshold = section["threshold"].AsInt32(0, minimum: 0),
    };
}

/// <summary>One <c>health.http</c> item.</summary>
public sealed record HttpHealthCheckOptions
{
    /// <summary><c>uri</c>: the URL to GET (required).</summary>
    public required Uri Uri { get; init; }

    /// <summary><c>headers</c>: headers sent with the request.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Headers { get; init; } = ReadOnlyDictionary<string, IReadOnlyList<string>>.Empty;

    /// <summary><c>statuscode</c>: the expected status (default 200).</summary>
    public int StatusCode { get; init; } = 200;

    /// <summary><c>timeout</c>: zero for no timeout, as in Distribution.</summary>
    public TimeSpan Timeout { get; init; }

    /// <summary><c>interval</c> (default 10s).</summary>
    public TimeSpan Interval { get; init; } = HealthOptions.DefaultInterval;

    /// <summary><c>threshold</c>: consecutive failures before unhealthy.</summary>
    public int Threshold { get; init; }

    internal static HttpHealthCheckOptions Read(SectionReader section)
    {
        var statusCode = section["statuscode"].AsInt32(0, 0, 599);
        return new HttpHealthCheckOptions
        {
            Uri = section["uri"].AsHttpUrl() ?? throw section["uri"].Invalid("required: the URL to check"),
            Headers = section["headers"].AsHeaders(),
            StatusCode = statusCode == 0 ? 200 : statusCode,
            Timeout = section["timeout"].AsDuration(TimeSpan.Zero),
            Interval = HealthOptions.ReadInterval(section),
            Threshold = section["threshold"].AsInt32(0, minimum: 0),
        };
    }
}

/// <summary>One <c>health.tcp</c> item.</summary>
public sealed record TcpHealthCheckOptions
{
    /// <summary><c>addr</c>: <c>host:port</c> to connect to (required).</summary>
    public required string Addr { get; init; }

    /// <summary><c>timeout</c>: zero for no timeout, as in Distribution.</summary>
    public TimeSpan Timeout { get; init; }

    /// <summary><c>interval</c> (default 10s).</summary>
    public TimeSpan Interval { get; init; } = HealthOptions.DefaultInterval;

    /// <summary><c>threshold</c>: consecutive failures before unhealthy.</summary>
    public int Threshold { get; init; }

    internal static TcpHealthCheckOptions Read(SectionReader section) => new()
    {
        Addr = section["addr"].AsRequiredString("required: the host:port to check"),
        Timeout = section["timeout"].AsDuration(TimeSpan.Zero),
        Interval = HealthOptions.ReadInterval(section),
        Threshold = section["threshold"].AsInt32(0, minimum: 0),
    };
}
