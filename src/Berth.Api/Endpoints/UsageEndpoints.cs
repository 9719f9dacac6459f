using System.Text.Json;
using Berth.Auth;
using Berth.Core;
using Berth.Core.Errors;
using Berth.Storage.Maintenance;
using Microsoft.AspNetCore.Http;

namespace Berth.Api.Endpoints;

/// <summary>
/// <c>GET /api/v1/usage</c>: storage use as JSON, per repository and in total, filtered by what the caller may pull.
/// </summary>
/// <remarks>
/// <para>
/// The path is outside <c>/v2/</c> because the distribution API owns that prefix (clients, proxies and conformance suites
/// treat everything under it as registry resources); <c>/api/v1/</c> keeps Berth's own API versioned apart from both it
/// and the web UI's pages.
/// </para>
/// <para>
/// Access follows the catalog and the web UI: a repository the caller may not pull is absent, from the list and from the
/// totals (which are recomputed over the visible repositories, shared blobs counted once). Credentials are checked as
/// for <c>/v2/</c>; a request without an <c>Authorization</c> header sees what anonymous clients may pull under the
/// access rules (nothing, when authentication is on without rules). With token authentication there is no anonymous
/// view: the client presents a bearer token and sees the repositories it grants pull on.
/// </para>
/// </remarks>
public sealed class UsageEndpoints(StorageUsageService usage, IAccessController? accessController = null, RepositoryQuotas? quotas = null)
{
    private readonly IAccessController _access = accessController ?? AllowAllAccessController.Instance;

    /// <summary>Where the endpoint is mapped.</summary>
    public const string Path = "/api/v1/usage";

    /// <summary>How long a request waits for the first walk before answering 503.</summary>
    private static readonly TimeSpan FirstWalkWait = TimeSpan.FromSeconds(10);

    public async Task HandleAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        try
        {
            var grant = await GrantAsync(context, cancellationToken);
            var report = await usage.GetAsync(FirstWalkWait, cancellationToken);
            if (report is null)
            {
                throw new RegistryException(ErrorCode.Unavailable, "storage use is being measured; try again shortly")
                {
                    Headers = new Dictionary<string, string> { ["Retry-After"] = "5" },
                };
            }

            bool MayPull(RepositoryName name) => grant.Allows(AccessRequest.Repository(name.Value, AccessRequest.Pull));
            var visible = report.Repositories.Where(repository => MayPull(repository.Name)).ToList();
            var (bytes, blobs) = visible.Count == report.Repositories.Count
                ? (report.UniqueBytes, report.UniqueBlobs)
                : report.DeduplicatedTotal(MayPull);
            var statuses = await QuotaStatusesAsync(visible, cancellationToken);
            await WriteAsync(context, report, visible, bytes, blobs, statuses);
        }
        catch (RegistryException ex)
        {
            await ErrorResponses.WriteAsync(context, ex.Code, ex.Message, ex.Detail, ex.Headers);
        }
    }

    /// <summary>The anonymous grant for a request without credentials, else the access controller's verdict on them.</summary>
    private async Task<IAccessGrant> GrantAsync(HttpContext context, CancellationToken cancellationToken)
    {
        if (context.Request.Headers.Authorization.Count == 0 && _access is IBrowserSignIn signIn)
        {
            return signIn.GrantFor(null);
        }

        var decision = await _access.AuthorizeAsync(context, [], cancellationToken);
        return decision.Outcome == AccessOutcome.Granted && decision.Grant is not null
            ? decision.Grant
            : throw RegistryDispatcher.AccessError(decision, []);
    }

    private async Task<QuotaStatus?[]> QuotaStatusesAsync(IReadOnlyList<RepositoryUsage> visible, CancellationToken cancellationToken)
    {
        var statuses = new QuotaStatus?[visible.Count];
        if (quotas is null || quotas.Rules.Count == 0)
        {
            return statuses;
        }

        await Parallel.ForEachAsync(Enumerable.Range(0, visible.Count),
            new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (index, token) => statuses[index] = await quotas.StatusAsync(visible[index].Name, token));
        return statuses;
    }

    private static async Task WriteAsync(HttpContext context, StorageUsageReport report, IReadOnlyList<RepositoryUsage> visible, long bytes, int blobs,
        QuotaStatus?[] statuses)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, JsonBodies.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("takenAt", report.TakenAt);
            writer.WriteNumber("walkMilliseconds", Math.Round(report.Duration.TotalMilliseconds));
            writer.WriteStartObject("total");
            writer.WriteNumber("repositories", visible.Count);
            writer.WriteNumber("bytes", bytes);
            writer.WriteNumber("blobs", blobs);
            writer.WriteNumber("repositoryBytes", visible.Sum(repository => repository.Bytes));
            writer.WriteEndObject();
            writer.WriteStartArray("repositories");
            for (var i = 0; i < visible.Count; i++)
            {
                var repository = visible[i];
                writer.WriteStartObject();
                writer.WriteString("name", repository.Name.Value);
                writer.WriteNumber("bytes", repository.Bytes);
                writer.WriteNumber("blobs", repository.Blobs);
                writer.WriteNumber("exclusiveBytes", repository.ExclusiveBytes);
                writer.WriteNumber("exclusiveBlobs", repository.ExclusiveBlobs);
                if (statuses[i] is { } status)
                {
                    writer.WriteStartObject("quota");
                    writer.WriteString("rule", status.Rule.Key);
                    writer.WriteStartArray("repositories");
                    foreach (var pattern in status.Rule.Repositories)
                    {
                        writer.WriteStringValue(pattern);
                    }

                    writer.WriteEndArray();
                    writer.WriteNumber("limitBytes", status.Rule.LimitBytes);
                    writer.WriteNumber("usedBytes", status.UsedBytes);
                    writer.WriteString("checkedAt", status.CheckedAt);
                    writer.WriteEndObject();
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        response.ContentLength = buffer.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted);
        }
    }
}
