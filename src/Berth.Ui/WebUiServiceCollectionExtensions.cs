using Berth.Auth;
using Berth.Ui.Browsing;
using Berth.Ui.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Berth.Ui;

public static class WebUiServiceCollectionExtensions
{
    /// <summary>
    /// Registers the web UI. The stores come from <c>AddBerthStorage</c>, the access controller and API options from the
    /// host; an access controller that cannot sign a browser in (token authentication) leaves the UI saying it is off.
    /// </summary>
    public static IServiceCollection AddBerthWebUi(this IServiceCollection services, WebUiSettings settings)
    {
        services.AddRazorComponents();
        KeepDataProtectionInMemory(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(settings);
        services.TryAddSingleton<RegistryBrowser>();
        services.TryAddSingleton(sp => sp.GetRequiredService<IAccessController>() as IBrowserSignIn ?? NoBrowserSignIn.Instance);
        services.TryAddSingleton(sp => sp.GetRequiredService<IBrowserSignIn>() is NoBrowserSignIn
            ? null!
            : new UiSessions(sp.GetRequiredService<IBrowserSignIn>(), settings.SessionSecret, settings.SessionLifetime, sp.GetRequiredService<TimeProvider>(),
                sp.GetService<Berth.Api.RegistryApiOptions>()?.ExternalBaseUri));
        services.TryAddSingleton(sp => ActivatorUtilities.CreateInstance<WebUiEndpoints>(sp));
        return services;
    }

    /// <summary>
    /// Razor components bring ASP.NET Core's data protection, for antiforgery tokens the UI does not use (its forms post to
    /// its own endpoints and its sessions are signed with the registry's secret). By default it keeps its keys as files
    /// under the user's home directory, and its hosted service makes one at start when none is stored there (at every
    /// start in a container without a persistent home): an unencrypted key file outside the registry's storage, a warning
    /// about it in the start-up log, and the XML stack loaded (5 MiB of the idle process). Here its provider is in-memory
    /// and nothing makes a key until something asks for one.
    /// </summary>
    private static void KeepDataProtectionInMemory(IServiceCollection services)
    {
        services.AddDataProtection().UseEphemeralDataProtectionProvider();
        const string keyRingStarter = "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService";
        foreach (var descriptor in services.Where(d => d.ServiceType == typeof(IHostedService)
            && d.ImplementationType?.FullName == keyRingStarter).ToList())
        {
            services.Remove(descriptor);
        }
    }

    /// <summary>Maps the UI's pages at the root, beside <c>/v2</c>: <c>/</c>, <c>/r/…</c>, <c>/usage</c>, <c>/delete</c>, <c>/sign-in</c>, <c>/sign-out</c>, <c>/_ui/…</c>.</summary>
    public static IEndpointRouteBuilder MapBerthWebUi(this IEndpointRouteBuilder endpoints)
    {
        var ui = endpoints.ServiceProvider.GetRequiredService<WebUiEndpoints>();
        endpoints.MapGet("/", Handler(ui.RepositoriesAsync));
        endpoints.MapGet("/r/{**path}", (HttpContext context, string? path) => ui.RepositoryOrImageAsync(context, path));
        endpoints.MapGet("/usage", Handler(ui.UsageAsync));
        endpoints.MapGet("/delete", Handler(ui.ConfirmDeleteAsync));
        endpoints.MapPost("/delete", Handler(ui.DeleteAsync));
        endpoints.MapGet("/sign-in", (HttpContext context) => ui.SignInForm(context));
        endpoints.MapPost("/sign-in", (HttpContext context, IBrowserSignIn signIn) => ui.SignInAsync(context, signIn));
        endpoints.MapPost("/sign-out", Handler(ui.SignOutAsync));
        endpoints.MapGet("/_ui/{file}", (HttpContext context, string file) => WebUiEndpoints.Asset(context, file));
        return endpoints;
    }

    /// <summary>As a <see cref="Delegate"/>, so the endpoint writes the result (a <c>RequestDelegate</c> would discard it).</summary>
    private static Delegate Handler(Func<HttpContext, Task<IResult>> handler) => handler;

    /// <summary>Stands for an access controller browsers cannot sign in to.</summary>
    private sealed class NoBrowserSignIn : IBrowserSignIn
    {
        public static readonly NoBrowserSignIn Instance = new();

        public bool SignInNeeded => true;

        public ValueTask<SignInOutcome> SignInAsync(HttpContext context, string user, string password, CancellationToken cancellationToken) =>
            ValueTask.FromResult(SignInOutcome.Refused);

        public string? CredentialStamp(string user) => null;

        public IAccessGrant GrantFor(string? user) => NothingGrant.Instance;
    }

    private sealed class NothingGrant : IAccessGrant
    {
        public static readonly NothingGrant Instance = new();

        public string? Subject => null;

        public bool Allows(AccessRequest request) => false;
    }
}
