namespace Berth.Storage.Azure;

/// <summary>How the driver signs in to the storage account (<c>storage.azure.credentials.type</c>).</summary>
public enum AzureCredentialsType
{
    /// <summary><c>shared_key</c>: the account name and key (registry:2's only way, and the default when a key is given).</summary>
    SharedKey,

    /// <summary><c>client_secret</c>: a Microsoft Entra application (tenant id, client id, secret).</summary>
    ClientSecret,

    /// <summary><c>default_credentials</c>: the Azure SDK's default chain (environment, workload identity, managed identity, CLI).</summary>
    DefaultCredentials,
}

/// <summary>
/// The settings of <see cref="AzureDriver"/>: registry:2's <c>storage.azure</c> keys, Distribution 3's additions and
/// Berth's own, with their defaults. Call <see cref="Validate"/> (as <see cref="AzureDriver.Create"/> does) for the
/// problems, each naming its key.
/// </summary>
public sealed record AzureDriverOptions
{
    /// <summary>registry:2's default <c>realm</c>: the public Azure cloud.</summary>
    public const string DefaultRealm = "core.windows.net";

    /// <summary>
    /// The size of the blocks writers stage (and of each pooled write buffer). Azure takes blocks up to 4000 MiB; from
    /// 4 MiB on, block blobs use the service's high-throughput path, and 8 MiB keeps a 50,000-block blob at 390 GiB.
    /// </summary>
    public const int DefaultBlockSize = 8 * 1024 * 1024;

    /// <summary>How long a SAS redirect stays valid by default: registry:2's 20 minutes.</summary>
    public static readonly TimeSpan DefaultRedirectExpiry = TimeSpan.FromMinutes(20);

    /// <summary>The longest a user delegation key (the signing key of SAS URLs under Entra credentials) may live.</summary>
    public static readonly TimeSpan MaximumRedirectExpiry = TimeSpan.FromDays(7);

    /// <summary><c>accountname</c> (required): the storage account.</summary>
    public string AccountName { get; init; } = string.Empty;

    /// <summary><c>accountkey</c>: the account's primary or secondary key, base64; required for <see cref="AzureCredentialsType.SharedKey"/>.</summary>
    public string? AccountKey { get; init; }

    /// <summary><c>container</c> (required): the blob container the registry lives in.</summary>
    public string Container { get; init; } = string.Empty;

    /// <summary><c>realm</c>: the endpoint suffix of the Azure cloud (<c>core.windows.net</c>, <c>core.chinacloudapi.cn</c>...).</summary>
    public string Realm { get; init; } = DefaultRealm;

    /// <summary>
    /// <c>serviceurl</c> (Distribution 3): the Blob service endpoint, e.g. <c>http://127.0.0.1:10000/devstoreaccount1</c>
    /// for Azurite or a private endpoint. Without it, <c>https://&lt;accountname&gt;.blob.&lt;realm&gt;</c>.
    /// </summary>
    public Uri? ServiceUrl { get; init; }

    /// <summary><c>rootdirectory</c>: a name prefix for everything the registry stores in the container.</summary>
    public string? RootDirectory { get; init; }

    /// <summary><c>credentials.type</c>.</summary>
    public AzureCredentialsType CredentialsType { get; init; } = AzureCredentialsType.SharedKey;

    /// <summary><c>credentials.clientid</c> (client_secret).</summary>
    public string? ClientId { get; init; }

    /// <summary><c>credentials.tenantid</c> (client_secret).</summary>
    public string? TenantId { get; init; }

    /// <summary><c>credentials.secret</c> (client_secret).</summary>
    public string? Secret { get; init; }

    /// <summary>
    /// <c>copy_status_poll_max_retry</c> (Distribution 3's <c>max_retries</c>): how many times a server-side copy that
    /// did not finish at once is polled before it is aborted and the move fails; -1 fails a copy that is not complete
    /// in the first answer. Default 5.
    /// </summary>
    public int CopyStatusPollMaxRetry { get; init; } = 5;

    /// <summary><c>copy_status_poll_delay</c> (<c>retry_delay</c>): the wait before poll n is n times this. Default 100ms.</summary>
    public TimeSpan CopyStatusPollDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary><c>skipverify</c> (Distribution 3): do not verify the service's TLS certificate.</summary>
    public bool SkipVerify { get; init; }

    /// <summary>
    /// <c>legacyrootprefix</c> (Berth; GitLab's registry has the same key): true names every blob with a leading
    /// <c>/</c> as registry:2 (Distribution 2.x) does, false without one as Distribution 3 does, null (the key absent)
    /// looks at the container once and follows what it holds (see <see cref="AzureDriver"/>).
    /// </summary>
    public bool? LegacyRootPrefix { get; init; }

    /// <summary>How long SAS redirect URLs stay valid (default 20 minutes, at most 7 days).</summary>
    public TimeSpan RedirectExpiry { get; init; } = DefaultRedirectExpiry;

    /// <summary>The size of staged blocks and of each write buffer (default 8 MiB; 64 KiB to 256 MiB).</summary>
    public int BlockSize { get; init; } = DefaultBlockSize;

    /// <summary>The service URL the driver talks to: <see cref="ServiceUrl"/>, or the public endpoint of the account.</summary>
    public Uri EffectiveServiceUrl =>
        ServiceUrl ?? new Uri($"https://{AccountName}.blob.{(string.IsNullOrWhiteSpace(Realm) ? DefaultRealm : Realm)}");

    /// <summary>The problems with these options, each naming its key; empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(AccountName))
        {
            errors.Add("accountname: required");
        }

        if (!IsContainerName(Container))
        {
            errors.Add($"container: '{Container}' is not a container name (3 to 63 lower-case letters, digits and single hyphens, "
                + "starting and ending with a letter or digit)");
        }

        if (ServiceUrl is not null && (!ServiceUrl.IsAbsoluteUri || (ServiceUrl.Scheme != Uri.UriSchemeHttp && ServiceUrl.Scheme != Uri.UriSchemeHttps)
            || ServiceUrl.Query.Length > 0))
        {
            errors.Add($"serviceurl: '{ServiceUrl}' is not an http or https URL without a query");
        }

        if (ServiceUrl is null && Uri.CheckHostName($"{AccountName}.blob.{Realm}") != UriHostNameType.Dns)
        {
            errors.Add($"realm: '{Realm}' with accountname '{AccountName}' does not make a host name");
        }

        switch (CredentialsType)
        {
            case AzureCredentialsType.SharedKey:
                if (string.IsNullOrWhiteSpace(AccountKey))
                {
                    errors.Add("accountkey: required with shared_key credentials");
                }
                else if (!IsBase64(AccountKey))
                {
                    errors.Add("accountkey: not a base64 account key");
                }

                break;
            case AzureCredentialsType.ClientSecret:
                foreach (var (key, value) in new[] { ("clientid", ClientId), ("tenantid", TenantId), ("secret", Secret) })
                {
                    if (string.IsNullOrWhiteSpace(value))
                    {
                        errors.Add($"credentials.{key}: required with client_secret credentials");
                    }
                }

                break;
        }

        if (CopyStatusPollMaxRetry < -1)
        {
            errors.Add($"copy_status_poll_max_retry: must be -1 or more, not {CopyStatusPollMaxRetry}");
        }

        if (CopyStatusPollDelay < TimeSpan.Zero || CopyStatusPollDelay > TimeSpan.FromMinutes(10))
        {
            errors.Add($"copy_status_poll_delay: must be between 0 and 10m, not {CopyStatusPollDelay}");
        }

        if (RedirectExpiry <= TimeSpan.Zero || RedirectExpiry > MaximumRedirectExpiry)
        {
            errors.Add($"redirect expiry: must be more than zero and at most 7 days, not {RedirectExpiry}");
        }

        if (BlockSize < 64 * 1024 || BlockSize > 256 * 1024 * 1024)
        {
            errors.Add($"block size: must be between 64 KiB and 256 MiB, not {BlockSize}");
        }

        return errors;
    }

    /// <summary>Azure's container naming rule.</summary>
    public static bool IsContainerName(string? name)
    {
        if (name is null || name.Length is < 3 or > 63 || name[0] == '-' || name[^1] == '-' || name.Contains("--", StringComparison.Ordinal))
        {
            return false;
        }

        // The root container of an account has this reserved name; registry data never lives there in registry:2 either.
        return name == "$root" || name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-');
    }

    private static bool IsBase64(string text)
    {
        var buffer = new byte[text.Length];
        return Convert.TryFromBase64String(text, buffer, out var written) && written > 0;
    }
}
