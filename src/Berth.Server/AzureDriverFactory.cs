using Berth.Server.Configuration;
using Berth.Storage.Azure;
using Berth.Storage.Drivers;

namespace Berth.Server;

/// <summary>Builds the Azure driver from <c>storage.azure</c>, key for key, and readies its container before serving.</summary>
internal static partial class AzureDriverFactory
{
    /// <summary>How long start-up waits for the Blob service (the SDK retries a refused connection for longer) before serving anyway.</summary>
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);

    public static AzureDriver Create(AzureStorageOptions azure, ILogger<AzureDriver> logger)
    {
        var options = Validate(azure);
        try
        {
            return AzureDriver.Create(options, logger);
        }
        catch (ArgumentException ex)
        {
            // Validate has checked what AzureDriver.Create checks; this is only a net for a check added there later.
            throw ConfigurationException.ForKey("storage.azure", ex.Message, innerException: ex);
        }
    }

    /// <summary>
    /// The driver's options with the driver's own checks applied, the first failure naming its key. Builds no client
    /// and sends no request.
    /// </summary>
    public static AzureDriverOptions Validate(AzureStorageOptions azure)
    {
        var options = new AzureDriverOptions
        {
            AccountName = azure.AccountName,
            AccountKey = azure.AccountKey,
            Container = azure.Container,
            Realm = azure.Realm,
            ServiceUrl = azure.ServiceUrl,
            RootDirectory = azure.RootDirectory,
            CredentialsType = azure.CredentialsType switch
            {
                AzureStorageOptions.ClientSecretCredentials => AzureCredentialsType.ClientSecret,
                AzureStorageOptions.DefaultCredentials => AzureCredentialsType.DefaultCredentials,
                _ => AzureCredentialsType.SharedKey,
            },
            ClientId = azure.ClientId,
            TenantId = azure.TenantId,
            Secret = azure.Secret,
            CopyStatusPollMaxRetry = azure.CopyStatusPollMaxRetry,
            CopyStatusPollDelay = azure.CopyStatusPollDelay,
            SkipVerify = azure.SkipVerify,
            LegacyRootPrefix = azure.LegacyRootPrefix,
            RedirectExpiry = azure.RedirectExpiry,
        };
        if (options.Validate() is [var first, ..])
        {
            // The driver's errors read "key: problem" ("redirect expiry" is redirectexpiry).
            var colon = first.IndexOf(": ", StringComparison.Ordinal);
            throw colon > 0
                ? ConfigurationException.ForKey("storage.azure." + first[..colon].Replace(" ", "", StringComparison.Ordinal), first[(colon + 2)..])
                : ConfigurationException.ForKey("storage.azure", first);
        }

        return options;
    }

    /// <summary>
    /// Before listening: creates a missing container (as registry:2 did; a read-only registry only checks), and settles
    /// the blob naming. A container that is missing and cannot be created stops start-up; a service that does not answer
    /// within 10 s is logged and the registry serves anyway (as with S3, storage that is down is met per request).
    /// </summary>
    public static async Task PrepareAsync(IStorageDriver driver, bool readOnly, ILogger logger, CancellationToken cancellationToken)
    {
        if ((driver is ValidatingDriver { Inner: var inner } ? inner : driver) is not AzureDriver azure)
        {
            return;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReadyTimeout);
        try
        {
            await azure.InitializeAsync(createContainer: !readOnly, timeout.Token);
        }
        catch (AzureContainerException ex)
        {
            throw new StartupException("storage.azure.container", ex.Message, ex);
        }
        catch (Exception ex) when (ex is global::Azure.RequestFailedException or AggregateException or IOException or HttpRequestException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            LogNotReady(logger, azure.Options.EffectiveServiceUrl, azure.Options.Container, ex);
        }
    }

    [LoggerMessage(EventId = 1090, Level = LogLevel.Warning,
        Message = "The Azure Blob service at {ServiceUrl} (container {Container}) could not be checked at start-up; serving anyway, storage requests will fail until it answers")]
    private static partial void LogNotReady(ILogger logger, Uri serviceUrl, string container, Exception exception);
}
