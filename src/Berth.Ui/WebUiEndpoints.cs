using System.Globalization;
using System.Reflection;
using Berth.Api;
using Berth.Api.Notifications;
using Berth.Auth;
using Berth.Core;
using Berth.Proxy;
using Berth.Storage;
using Berth.Storage.Maintenance;
using Berth.Ui.Browsing;
using Berth.Ui.Components;
using Berth.Ui.Security;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;

namespace Berth.Ui;

/// <summary>
/// The web UI's pages and forms. Every page asks the registry's access controller what the visitor may pull, so a
/// repository the visitor may not pull answers exactly as one that does not exist, and lists and counts leave it out.
/// </summary>
public sealed partial class WebUiEndpoints(
    RegistryBrowser browser,
    TagStore tags,
    ManifestStore manifests,
    RegistryApiOptions apiOptions,
    WebUiSettings settings,
    RegistryEvents events,
    CollectionRequests collections,
    ILogger<WebUiEndpoints> logger,
    UiSessions? sessions = null,
    PullThroughCache? proxy = null,
    Berth.Storage.Lifecycle.ImmutableTagPolicy? immutableTags = null)
{
    internal const int RepositoriesPerPage = 50;
    internal const int TagsPerPage = 100;
    internal const int UsageRowsPerPage = 100;

    /// <summary>How long the repository list waits for a first storage-use walk before rendering without sizes.</summary>
    private static readonly TimeSpan UsageWait = TimeSpan.FromMilliseconds(150);

    private const string ContentSecurityPolicy =
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    public async Task<IResult> RepositoriesAsync(HttpContext context)
    {
        if (Start(context) is not { } page)
        {
            return Off(context);
        }

        var cancellationToken = context.RequestAborted;
        var filter = Query(context, "q");
        var visible = await browser.VisibleRepositoriesAsync(page.Viewer.Grant, filter, cancellationToken);
        var pageCount = Math.Max(1, (visible.Count + RepositoriesPerPage - 1) / RepositoriesPerPage);
        var pageNumber = Math.Clamp(PageNumber(context), 1, pageCount);
        var names = visible.Skip((pageNumber - 1) * RepositoriesPerPage).Take(RepositoriesPerPage).ToList();
        var usage = await browser.UsageAsync(UsageWait, cancellationToken);
        var usageByName = usage?.Repositories.ToDictionary(repository => repository.Name.Value, StringComparer.Ordinal);
        var rows = new RepositoryRow[names.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, names.Count), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
            async (index, token) =>
            {
                var name = names[index];
                var overview = RepositoryName.TryParse(name, out var parsed) ? await browser.OverviewAsync(parsed, token) : null;
                rows[index] = new RepositoryRow(name, overview?.Tags, overview?.LastPush, usageByName?.GetValueOrDefault(name));
            });

        var catalogEmpty = visible.Count == 0 && string.IsNullOrEmpty(filter);
        return Render<RepositoriesPage>(context, new RepositoriesModel(page, filter, pageNumber, pageCount, visible.Count, rows, usage, catalogEmpty));
    }

    /// <summary><c>/r/&lt;name&gt;</c>, <c>/r/&lt;name&gt;:&lt;tag&gt;</c> or <c>/r/&lt;name&gt;@&lt;digest&gt;</c>.</summary>
    public async Task<IResult> RepositoryOrImageAsync(HttpContext context, string? path)
    {
        if (Start(context) is not { } page)
        {
            return Off(context);
        }

        if (!TryParseTarget(path ?? "", out var name, out var tag, out var digest) || !page.Viewer.MayPull(name))
        {
            return NotFound(context, page, "No such repository, or you may not see it.");
        }

        return tag is null && digest is null
            ? await RepositoryAsync(context, page, name)
            : await ImageAsync(context, page, name, tag, digest);
    }

    public async Task<IResult> UsageAsync(HttpContext context)
    {
        if (Start(context) is not { } page)
        {
            return Off(context);
        }

        var report = await browser.UsageAsync(TimeSpan.FromSeconds(2), context.RequestAborted);
        var visible = report?.Repositories.Where(repository => page.Viewer.MayPull(repository.Name)).OrderByDescending(repository => repository.Bytes)
            .ThenBy(repository => repository.Name.Value, StringComparer.Ordinal).ToList() ?? [];
        var pageCount = Math.Max(1, (visible.Count + UsageRowsPerPage - 1) / UsageRowsPerPage);
        var pageNumber = Math.Clamp(PageNumber(context), 1, pageCount);
        var rows = visible.Skip((pageNumber - 1) * UsageRowsPerPage).Take(UsageRowsPerPage).ToList();
        var seesEverything = report is not null && visible.Count == report.Repositories.Count;
        var (visibleBytes, visibleBlobs) = report is null ? (0, 0)
            : seesEverything ? (report.UniqueBytes, report.UniqueBlobs)
            : report.DeduplicatedTotal(page.Viewer.MayPull);
        return Render<UsagePage>(context, new UsageModel(page, report, rows, visible.Count, pageNumber, pageCount, seesEverything, visibleBytes, visibleBlobs));
    }

    /// <summary>The confirmation page of a delete.</summary>
    public async Task<IResult> ConfirmDeleteAsync(HttpContext context)
    {
        if (Start(context) is not { } page)
        {
            return Off(context);
        }

        var target = await DeleteTargetAsync(context, page, Query(context, "repository"), Query(context, "tag"), Query(context, "digest"));
        if (target.Problem is { } problem)
        {
            return problem;
        }

        var (name, tag, digest) = (target.Name!, target.Tag, target.Digest!.Value);
        var going = await tags.TagsOfAsync(name, digest, context.RequestAborted);
        return Render<DeletePage>(context, new DeleteModel(page, name.Value, tag, digest, going, settings.GarbageCollectionNote, collections.Scheduled));
    }

    /// <summary>The delete itself: a form post from the confirmation page.</summary>
    public async Task<IResult> DeleteAsync(HttpContext context)
    {
        if (Start(context) is not { } page)
        {
            return Off(context);
        }

        var form = await ReadFormAsync(context);
        if (form is null || !sessions!.IsGenuineForm(context, form[UiSessions.CsrfField]))
        {
            return FormRefused(context, page);
        }

        var target = await DeleteTargetAsync(context, page, form["repository"], form["tag"], form["digest"]);
        if (target.Problem is { } problem)
        {
            return problem;
        }

        var (name, tag, digest) = (target.Name!, target.Tag, target.Digest!.Value);
        var cancellationToken = context.RequestAborted;
        var deleted = tag is not null
            ? await tags.DeleteAsync(name, tag, cancellationToken)
            : await manifests.DeleteAsync(name, digest, cancellationToken);
        if (deleted)
        {
            LogDeleted(logger, page.Viewer.User ?? "anonymous", name.Value, tag ?? digest.ToString());
            events.Publish(context, RegistryEvent.Delete, name, tag is null ? digest : null, null, 0, tag);
            if (form["collect"] == "now" && collections.Scheduled)
            {
                collections.Request();
            }
        }

        var notice = tag is not null ? "tag=" + Uri.EscapeDataString(tag) : "digest=" + Uri.EscapeDataString(digest.ToString());
        return Results.Redirect(page.RepositoryLink(name.Value) + "?deleted-" + notice, permanent: false, preserveMethod: false);
    }

    public IResult SignInForm(HttpContext context)
    {
        if (Start(context) is not { } page)
        {
            return Off(context);
        }

        if (!page.Viewer.SignInNeeded)
        {
            return Results.Redirect(page.Link("/"));
        }

        return Render<SignInPage>(context, new SignInModel(page, null, null, LocalReturn(Query(context, "return"))));
    }

    public async Task<IResult> SignInAsync(HttpContext context, IBrowserSignIn signIn)
    {
        if (Start(context) is not { } page)
        {
            return Off(context);
        }

        var form = await ReadFormAsync(context);
        if (form is null || !sessions!.IsGenuineForm(context, form[UiSessions.CsrfField]))
        {
            return FormRefused(context, page);
        }

        var returnTo = LocalReturn(form["return"]);

        var user = form["user"].ToString();
        var password = form["password"].ToString();
        var outcome = user.Length is 0 or > 256 || password.Length > 1024
            ? SignInOutcome.Refused
            : await signIn.SignInAsync(context, user, password, context.RequestAborted);
        switch (outcome)
        {
            case SignInOutcome.SignedIn:
                sessions.SignIn(context, user);
                return Results.Redirect(page.Base + returnTo);
            case SignInOutcome.Throttled:
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                return Render<SignInPage>(context, new SignInModel(page, user, "Too many failed sign-ins from this address; try again in a few minutes.", returnTo));
            default:
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return Render<SignInPage>(context, new SignInModel(page, user, "Wrong user name or password.", returnTo));
        }
    }

    public async Task<IResult> SignOutAsync(HttpContext context)
    {
        if (Start(context) is not { } page)
        {
            return Off(context);
        }

        var form = await ReadFormAsync(context);
        if (form is null || !sessions!.IsGenuineForm(context, form[UiSessions.CsrfField]))
        {
            return FormRefused(context, page);
        }

        sessions.SignOut(context);
        return Results.Redirect(page.Link("/"));
    }

    /// <summary>The stylesheet and script, from the assembly; cached by browsers for a day, revalidated by ETag.</summary>
    public static IResult Asset(HttpContext context, string file)
    {
        var contentType = Path.GetExtension(file) switch
        {
            ".css" => "text/css; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            _ => null,
        };
        var content = contentType is null ? null : Assets.Get(file);
        if (content is null)
        {
            return Results.NotFound();
        }

        context.Response.Headers.XContentTypeOptions = "nosniff";
        context.Response.Headers.CacheControl = "public, max-age=86400";
        var etag = new Microsoft.Net.Http.Headers.EntityTagHeaderValue(content.ETag);
        return Results.Bytes(content.Bytes, contentType, entityTag: etag);
    }

    private async Task<IResult> RepositoryAsync(HttpContext context, PageContext page, RepositoryName name)
    {
        var cancellationToken = context.RequestAborted;
        var view = await browser.TagsAsync(name, cancellationToken);
        if (view is null)
        {
            return NotFound(context, page, "No such repository, or you may not see it.");
        }

        var order = Query(context, "sort") == "newest" ? TagOrder.Newest : TagOrder.Name;
        var filter = Query(context, "q");
        var sorted = view.Sorted(order, filter);
        var pageCount = Math.Max(1, (sorted.Count + TagsPerPage - 1) / TagsPerPage);
        var pageNumber = Math.Clamp(PageNumber(context), 1, pageCount);
        var shown = sorted.Skip((pageNumber - 1) * TagsPerPage).Take(TagsPerPage).ToList();
        var summaries = await browser.TaggedSummariesAsync(name, shown, cancellationToken);
        var rows = shown.Select(row => new TagTableRow(row, summaries.GetValueOrDefault(row.Digest))).ToList();
        var usage = await browser.UsageAsync(TimeSpan.Zero, cancellationToken);
        var notice = DeletedNotice(context, view);
        return Render<RepositoryPage>(context, new RepositoryModel(page, name.Value, view, rows, order, filter, pageNumber, pageCount, sorted.Count,
            usage?.Repositories.FirstOrDefault(repository => repository.Name.Equals(name)), usage?.TakenAt,
            MayDelete(page.Viewer, name), DeleteUnavailable(page.Viewer, name), notice));
    }

    private async Task<IResult> ImageAsync(HttpContext context, PageContext page, RepositoryName name, string? tag, Digest? digest)
    {
        var cancellationToken = context.RequestAborted;
        digest ??= await tags.ResolveAsync(name, tag!, cancellationToken);
        if (digest is not { } resolved || await browser.SummaryAsync(name, resolved, cancellationToken) is not { } summary)
        {
            return NotFound(context, page, tag is not null ? $"{name.Value} has no tag {tag}." : $"{name.Value} holds no manifest {digest}.");
        }

        var config = await browser.ConfigAsync(summary, cancellationToken);
        var platforms = new List<PlatformRow>();
        if (summary.Manifest is { IsIndex: true } index)
        {
            var children = await browser.SummariesAsync(name, index.Manifests.Select(child => child.Digest), cancellationToken);
            platforms.AddRange(index.Manifests.Select(child => new PlatformRow(
                new PlatformEntry(ImageSummary.PlatformOf(child) ?? "unknown", child.Digest, child.MediaType, child.Size),
                children.GetValueOrDefault(child.Digest))));
        }

        var referrers = await browser.ReferrersAsync(name, resolved, cancellationToken);
        var tagsHere = await browser.TagsOfAsync(name, resolved, cancellationToken);
        return Render<ImagePage>(context, new ImageModel(page, name.Value, tag, summary, config, platforms, referrers, tagsHere,
            MayDelete(page.Viewer, name), DeleteUnavailable(page.Viewer, name)));
    }

    /// <summary>Checks a delete's target and the visitor's right to delete it; the problem is the page to answer instead.</summary>
    private async Task<(RepositoryName? Name, string? Tag, Digest? Digest, IResult? Problem)> DeleteTargetAsync(HttpContext context, PageContext page,
        string? repository, string? tag, string? digestText)
    {
        if (!RepositoryName.TryParse(repository ?? "", out var name) || !page.Viewer.MayPull(name))
        {
            return (null, null, null, NotFound(context, page, "No such repository, or you may not see it."));
        }

        if (DeleteUnavailable(page.Viewer, name) is { } unavailable)
        {
            return (null, null, null, Message(context, page, StatusCodes.Status405MethodNotAllowed, "Deleting is not possible", unavailable));
        }

        if (!MayDelete(page.Viewer, name))
        {
            return (null, null, null, Message(context, page, StatusCodes.Status403Forbidden, "Not allowed",
                page.Viewer.User is null ? $"Sign in as a user who may delete from {name.Value}." : $"{page.Viewer.User} may not delete from {name.Value}."));
        }

        var cancellationToken = context.RequestAborted;
        Digest? digest = null;
        if (!string.IsNullOrEmpty(tag))
        {
            if (!Tag.IsValid(tag))
            {
                return (null, null, null, NotFound(context, page, $"{name.Value} has no such tag."));
            }

            digest = await tags.ResolveAsync(name, tag, cancellationToken);
        }
        else if (Digest.TryParse(digestText ?? "", out var parsed) && await manifests.ExistsAsync(name, parsed, cancellationToken))
        {
            digest = parsed;
            tag = null;
        }

        if (digest is null)
        {
            return (null, null, null, NotFound(context, page, $"{name.Value} has no such tag or manifest."));
        }

        // The same refusal as the API's: an immutable tag is deleted neither by itself nor with the manifest it names.
        var named = string.IsNullOrEmpty(tag) ? await tags.TagsOfAsync(name, digest.Value, cancellationToken) : [tag];
        if (immutableTags is { IsEmpty: false } && named.Select(t => (Tag: t, Rule: immutableTags.RuleFor(name, t))).FirstOrDefault(x => x.Rule is not null) is
            { Rule: { } rule } immutable)
        {
            return (null, null, null, Message(context, page, StatusCodes.Status403Forbidden, "Immutable tag",
                $"{name.Value}:{immutable.Tag} is immutable ({rule.Describe()}); it cannot be deleted."));
        }

        return (name, string.IsNullOrEmpty(tag) ? null : tag, digest, null);
    }

    private bool MayDelete(Viewer viewer, RepositoryName name) => DeleteUnavailable(viewer, name) is null && viewer.MayDelete(name);

    /// <summary>Why nobody can delete here (configuration, not the visitor's rights), or null.</summary>
    private string? DeleteUnavailable(Viewer viewer, RepositoryName name)
    {
        _ = viewer;
        if (!apiOptions.DeleteEnabled)
        {
            return "Deleting is off on this registry (storage.delete.enabled).";
        }

        if (apiOptions.ReadOnly)
        {
            return "The registry is read-only for maintenance (storage.maintenance.readonly).";
        }

        if (proxy?.Router.Route(name, null) is { } mirrored)
        {
            return $"{name.Value} mirrors upstream {mirrored.Upstream.Options.Name}; its content expires on its own.";
        }

        return null;
    }

    /// <summary>"Tag x was deleted" after the redirect of a delete, said only when it is true now.</summary>
    private static string? DeletedNotice(HttpContext context, RepositoryTags view)
    {
        var tag = Query(context, "deleted-tag");
        if (!string.IsNullOrEmpty(tag) && Tag.IsValid(tag) && !view.Rows.ContainsKey(tag))
        {
            return $"Deleted tag {tag}.";
        }

        var digest = Query(context, "deleted-digest");
        return !string.IsNullOrEmpty(digest) && Digest.TryParse(digest, out var parsed) && view.Rows.Values.All(row => row.Digest != parsed)
            ? $"Deleted manifest {parsed}."
            : null;
    }

    /// <summary>The page context of a request, with the security headers every page carries; null when the UI is off.</summary>
    private PageContext? Start(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "same-origin";
        // Pages are per visitor and carry form tokens.
        headers.CacheControl = "no-store";
        if (sessions is null)
        {
            return null;
        }

        var viewer = sessions.Identify(context);
        var host = apiOptions.ExternalBaseUri?.Authority ?? context.Request.Host.Value ?? "localhost:5000";
        var path = context.Request.Path.Value + context.Request.QueryString.Value;
        return new PageContext(viewer, context.Request.PathBase.Value ?? "", host, path);
    }

    private static IResult Off(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Render<MessagePage>(context, new MessageModel(null, "The web UI is off",
            "This registry's authentication (auth.token, or the development-only auth.silly) leaves passwords to another service, "
            + "so Berth cannot sign a browser in. Browse with the token service's own UI or a registry client; the registry API "
            + "under /v2/ is unaffected."));
    }

    private static IResult NotFound(HttpContext context, PageContext page, string message) =>
        Message(context, page, StatusCodes.Status404NotFound, "Not found", message);

    private static IResult FormRefused(HttpContext context, PageContext page) =>
        Message(context, page, StatusCodes.Status403Forbidden, "Form refused",
            "This form did not come from this registry's own page (or the page is too old). Go back, reload it and try again.");

    private static IResult Message(HttpContext context, PageContext page, int status, string title, string message)
    {
        context.Response.StatusCode = status;
        return Render<MessagePage>(context, new MessageModel(page, title, message));
    }

    private static IResult Render<TPage>(HttpContext context, object model) where TPage : IComponent
    {
        var parameters = new Dictionary<string, object?> { ["Model"] = model };
        if (typeof(TPage).GetProperty("Now", BindingFlags.Public | BindingFlags.Instance) is not null)
        {
            parameters["Now"] = context.RequestServices.GetService(typeof(TimeProvider)) is TimeProvider provider ? provider.GetUtcNow() : DateTimeOffset.UtcNow;
        }

        return new RazorComponentResult<TPage>(parameters) { StatusCode = context.Response.StatusCode };
    }

    /// <summary>Splits <c>name</c>, <c>name:tag</c> or <c>name@digest</c>.</summary>
    internal static bool TryParseTarget(string path, out RepositoryName name, out string? tag, out Digest? digest)
    {
        tag = null;
        digest = null;
        name = null!;
        var text = path.TrimEnd('/');
        var at = text.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            if (!Digest.TryParse(text[(at + 1)..], out var parsed))
            {
                return false;
            }

            digest = parsed;
            text = text[..at];
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon > text.LastIndexOf('/'))
            {
                tag = text[(colon + 1)..];
                text = text[..colon];
                if (!Tag.IsValid(tag))
                {
                    return false;
                }
            }
        }

        if (!RepositoryName.TryParse(text, out var parsedName))
        {
            return false;
        }

        name = parsedName;
        return true;
    }

    /// <summary>The posted form, or null when the body is not one (another content type, or over the form limits): refused, not a 500.</summary>
    private static async Task<IFormCollection?> ReadFormAsync(HttpContext context)
    {
        if (!context.Request.HasFormContentType)
        {
            return null;
        }

        try
        {
            return await context.Request.ReadFormAsync(context.RequestAborted);
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    private static string? Query(HttpContext context, string key)
    {
        var value = context.Request.Query[key].ToString();
        return value.Length == 0 ? null : value.Length > 256 ? value[..256] : value;
    }

    private static int PageNumber(HttpContext context) =>
        int.TryParse(context.Request.Query["page"], NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : 1;

    /// <summary>A path on this site to return to after signing in; anything else (another host, a scheme) becomes the start page.</summary>
    /// <remarks>
    /// Control characters are refused anywhere: browsers drop tabs and newlines from a URL before resolving it, so
    /// <c>/&lt;TAB&gt;/evil.example</c> would lead to another host, and a CR or LF cannot go into a Location header.
    /// </remarks>
    internal static string LocalReturn(string? value) =>
        !string.IsNullOrEmpty(value) && value.StartsWith('/') && !value.StartsWith("//", StringComparison.Ordinal)
            && !value.StartsWith("/\\", StringComparison.Ordinal) && value.Length <= 2048 && !value.Any(char.IsControl)
            ? value
            : "/";

    [LoggerMessage(EventId = 8010, Level = LogLevel.Information, Message = "Web UI: {User} deleted {Repository} {Reference}")]
    private static partial void LogDeleted(ILogger logger, string user, string repository, string reference);
}
