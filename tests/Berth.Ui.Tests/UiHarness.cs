using System.Text;
using System.Text.Json.Nodes;
using Berth.Auth;
using Berth.Core;
using Berth.Storage;
using Berth.Storage.Drivers;
using Berth.Ui.Browsing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace Berth.Ui.Tests;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

/// <summary>
/// Accounts as htpasswd gives them to the UI: users with passwords whose entry stamps can change (a new password),
/// each user allowed to pull (and delete) the repositories listed for them.
/// </summary>
internal sealed class TestAccounts : IBrowserSignIn
{
    private readonly Dictionary<string, string> _passwords = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _generations = new(StringComparer.Ordinal);

    public bool SignInNeeded => true;

    public void Add(string user, string password)
    {
        _passwords[user] = password;
        _generations[user] = _generations.GetValueOrDefault(user) + 1;
    }

    public void Remove(string user) => _passwords.Remove(user);

    public ValueTask<SignInOutcome> SignInAsync(HttpContext context, string user, string password, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_passwords.TryGetValue(user, out var known) && known == password ? SignInOutcome.SignedIn : SignInOutcome.Refused);

    public string? CredentialStamp(string user) =>
        _passwords.ContainsKey(user) ? user + "#" + _generations[user].ToString(System.Globalization.CultureInfo.InvariantCulture) : null;

    public IAccessGrant GrantFor(string? user) => new AllowAllGrant(user);
}

/// <summary>The stores wired as the host wires them, over one in-memory driver, with a browser on top.</summary>
internal sealed class UiHarness : IDisposable
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";

    public UiHarness()
    {
        Driver = new ValidatingDriver(new InMemoryDriver());
        Blobs = new BlobStore(Driver);
        Tags = new TagStore(Driver);
        Referrers = new ReferrerStore(Driver);
        Manifests = new ManifestStore(Driver, Blobs, Tags, Referrers);
        Catalog = new CatalogStore(Driver);
        Browser = new RegistryBrowser(Driver, Catalog, Tags, Manifests, Referrers, Blobs, NullLogger<RegistryBrowser>.Instance);
    }

    public static CancellationToken Ct => CancellationToken.None;

    public IStorageDriver Driver { get; }

    public BlobStore Blobs { get; }

    public TagStore Tags { get; }

    public ReferrerStore Referrers { get; }

    public ManifestStore Manifests { get; }

    public CatalogStore Catalog { get; }

    public RegistryBrowser Browser { get; }

    public static RepositoryName Name(string value) => RepositoryName.Parse(value);

    public static byte[] Random(int length) => System.Security.Cryptography.RandomNumberGenerator.GetBytes(length);

    /// <summary>A unique image config for <paramref name="architecture"/>, created at <paramref name="created"/>.</summary>
    public static byte[] Config(string architecture = "amd64", string created = "2026-01-02T03:04:05Z") =>
        Encoding.UTF8.GetBytes(new JsonObject
        {
            ["architecture"] = architecture,
            ["os"] = "linux",
            ["created"] = created,
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray() },
            ["config"] = new JsonObject { ["Labels"] = new JsonObject { ["unique"] = Guid.NewGuid().ToString("N") } },
        }.ToJsonString());

    /// <summary>Stores <paramref name="content"/> and links it into <paramref name="name"/>, as a finished upload does.</summary>
    public async Task<(Digest Digest, long Size)> PutBlobAsync(RepositoryName name, byte[] content)
    {
        var digest = Digest.Compute(content);
        await Blobs.PutContentAsync(digest, content, Ct);
        await Blobs.LinkAsync(name, digest, Ct);
        return (digest, content.Length);
    }

    public static byte[] ImageManifest((Digest Digest, long Size) config, params (Digest Digest, long Size)[] layers) =>
        Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciManifest,
            ["config"] = Descriptor(OciConfig, config),
            ["layers"] = new JsonArray([.. layers.Select(layer => (JsonNode)Descriptor(OciLayer, layer))]),
        }.ToJsonString());

    public static byte[] Index(params (Digest Digest, long Size, string Architecture)[] children) =>
        Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciIndex,
            ["manifests"] = new JsonArray([.. children.Select(child =>
            {
                var node = Descriptor(OciManifest, (child.Digest, child.Size));
                node["platform"] = new JsonObject { ["os"] = "linux", ["architecture"] = child.Architecture };
                return (JsonNode)node;
            })]),
        }.ToJsonString());

    /// <summary>Pushes a manifest as the API does (by tag or digest) and returns its digest and length.</summary>
    public async Task<(Digest Digest, long Size)> PutManifestAsync(RepositoryName name, string reference, byte[] content, string mediaType)
    {
        var (digest, _) = await Manifests.PutAsync(name, Reference.Parse(reference), content, mediaType, Ct);
        await Catalog.NoteWrittenAsync(name, Ct);
        return (digest, content.Length);
    }

    public void Dispose() => Browser.Dispose();

    private static JsonObject Descriptor(string mediaType, (Digest Digest, long Size) blob) => new()
    {
        ["mediaType"] = mediaType,
        ["digest"] = blob.Digest.ToString(),
        ["size"] = blob.Size,
    };
}
