namespace Berth.Api;

/// <summary>What the HTTP surface needs from configuration, bound once at start-up.</summary>
public sealed record RegistryApiOptions
{
    /// <summary>Key that signs upload state; must be the same on every replica behind one address.</summary>
    public required byte[] UploadStateSecret { get; init; }

    /// <summary><c>storage.delete.enabled</c>: DELETE of blobs and manifests (off by default, as registry:2).</summary>
    public bool DeleteEnabled { get; init; }

    /// <summary><c>storage.maintenance.readonly.enabled</c>: every write answers 405 UNSUPPORTED.</summary>
    public bool ReadOnly { get; init; }

    /// <summary><c>storage.redirect.disable</c>: serve blob bytes even when the driver could redirect.</summary>
    public bool RedirectDisabled { get; init; }

    /// <summary><c>http.relativeurls</c>: Location headers without scheme and host.</summary>
    public bool RelativeUrls { get; init; }

    /// <summary><c>http.host</c>: the externally visible base URL, when it differs from the request's.</summary>
    public Uri? ExternalBaseUri { get; init; }

    /// <summary><c>catalog.maxentries</c>: the largest page the catalog returns.</summary>
    public int CatalogMaxEntries { get; init; } = 1000;

    /// <summary>
    /// Mount a blob the registry already holds when a client asks to mount it without naming a
    /// source repository (OCI 1.1 "automatic content discovery").
    /// </summary>
    public bool AutomaticCrossMount { get; init; } = true;
}
