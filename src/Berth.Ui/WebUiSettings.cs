namespace Berth.Ui;

/// <summary>What the web UI needs from configuration (<c>ui</c>, <c>http.secret</c>, garbage collection), bound once at start-up.</summary>
public sealed record WebUiSettings
{
    /// <summary>Signs session cookies and form tokens; the same <c>http.secret</c> on every replica keeps sessions valid across them.</summary>
    public required byte[] SessionSecret { get; init; }

    /// <summary><c>ui.session.lifetime</c>: how long a sign-in lasts.</summary>
    public TimeSpan SessionLifetime { get; init; } = TimeSpan.FromHours(8);

    /// <summary>What the delete confirmation says about when space comes back (online collection, or the offline command).</summary>
    public required string GarbageCollectionNote { get; init; }
}
