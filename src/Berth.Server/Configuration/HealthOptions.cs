namespace Berth.Server.Configuration;

/// <summary><c>health</c>: checks that turn the registry unhealthy when they fail.</summary>
public sealed record HealthOptions
{
    /// <summary>Distribution's interval for a check that does not set one.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);

    /// <summary><c>health.storagedriver</c>.</summary>
    public StorageDriverHealthOptions StorageDriver { get; init; } = new();

    internal static HealthOptions Read(SectionReader section)
    {
        // registry:2 turns /debug/health unhealthy when one of these fails, which load balancers use to take a
        // replica out of rotation (a file check is the usual way to drain one). Ignoring them would keep a
        // replica in rotation that its operator meant to take out. Distribution's variables use the Go field
        // names here: REGISTRY_HEALTH_FILECHECKERS_0_FILE and so on.
        RefuseChecks(section.Get("file", environmentName: "filecheckers"));
        RefuseChecks(section.Get("http", environmentName: "httpcheckers"));
        RefuseChecks(section.Get("tcp", environmentName: "tcpcheckers"));
        return new HealthOptions { StorageDriver = section["storagedriver"].AsSection(StorageDriverHealthOptions.Read) };
    }

    internal static TimeSpan ReadInterval(SectionReader section)
    {
        var interval = section["interval"].AsDuration(DefaultInterval);
        return interval == TimeSpan.Zero ? DefaultInterval : interval;
    }

    private static void RefuseChecks(ConfigValue checks)
    {
        if (checks.HasContent)
        {
            checks.Refuse(
                "Berth's health checks cover the storage driver only (health.storagedriver); check files, URLs and ports from the load balancer or orchestrator instead, and remove the key");
        }

        checks.Overrides?.MarkAllUsed();
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
