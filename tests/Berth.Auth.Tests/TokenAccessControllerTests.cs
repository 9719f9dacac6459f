using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Auth.Tests;

public sealed class TokenAccessControllerTests : IDisposable
{
    private const string Realm = "https://auth.example.com/token";
    // Key generation dominates these tests; one token server serves them all.
    private static readonly TokenFactory SharedFactory = new();
    private readonly TokenFactory _factory = SharedFactory;
    private readonly ManualTimeProvider _time = new();
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private DateTimeOffset Now => _time.GetUtcNow();

    private TokenAccessController Controller(TokenSigningKeys? keys = null, bool autoRedirect = false) =>
        new(new TokenAuthSettings { Realm = Realm, Service = TokenFactory.Service, Issuer = TokenFactory.Issuer, AutoRedirect = autoRedirect },
            keys ?? TokenSigningKeys.FromCertificates([_factory.RsaCertificate, _factory.EcCertificate]), time: _time);

    private string RsaToken(JsonObject claims) => TokenFactory.Sign(_factory.Rsa, claims, TokenFactory.Kid(TokenFactory.LibtrustId(_factory.Rsa)));

    private async Task<AccessDecision> AuthorizeAsync(TokenAccessController controller, string? token, params AccessRequest[] requested) =>
        await controller.AuthorizeAsync(Requests.Context(token is null ? null : "Bearer " + token), requested, default);

    [Fact]
    public async Task Authorize_Rs256TokenWithLibtrustKid_GrantsWhatTheAccessClaimSays()
    {
        var token = RsaToken(TokenFactory.Claims(Now, TokenFactory.Repo("team/app", "pull", "push")));

        var decision = await AuthorizeAsync(Controller(), token, Requests.Push("team/app"));

        Assert.Equal(AccessOutcome.Granted, decision.Outcome);
        Assert.Equal("alice", decision.Subject);
        Assert.True(decision.Grant!.Allows(Requests.Pull("team/app")));
        Assert.False(decision.Grant.Allows(Requests.Pull("team/other")));
        Assert.False(decision.Grant.Allows(Requests.Delete("team/app")));
    }

    [Fact]
    public async Task Authorize_Es256TokenWithJwkThumbprintKid_IsAccepted()
    {
        var token = TokenFactory.Sign(_factory.Ec, TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull")), TokenFactory.Kid(TokenFactory.Thumbprint(_factory.Ec)));

        var decision = await AuthorizeAsync(Controller(), token, Requests.Pull("a"));

        Assert.Equal(AccessOutcome.Granted, decision.Outcome);
    }

    [Fact]
    public async Task Authorize_TokenWithoutKeyHint_VerifiesAgainstTheTrustedKeys()
    {
        var token = TokenFactory.Sign(_factory.Ec, TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull")), []);

        Assert.Equal(AccessOutcome.Granted, (await AuthorizeAsync(Controller(), token, Requests.Pull("a"))).Outcome);
    }

    [Fact]
    public async Task Authorize_JwksKey_IsAcceptedByItsKid()
    {
        using var rsa = RSA.Create(2048);
        var jwks = _directory.Combine("jwks.json");
        await File.WriteAllTextAsync(jwks, TokenFactory.Jwks("signing-key-1", rsa));
        var token = TokenFactory.Sign(rsa, TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull")), TokenFactory.Kid("signing-key-1"));

        var decision = await AuthorizeAsync(Controller(TokenSigningKeys.Load(null, jwks)), token, Requests.Pull("a"));

        Assert.Equal(AccessOutcome.Granted, decision.Outcome);
    }

    [Fact]
    public async Task Authorize_X5cChainToABundleCertificate_IsAccepted()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var ca = TokenFactory.SelfSigned("CN=token-ca", new CertificateRequest("CN=token-ca", caKey, HashAlgorithmName.SHA384));
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=token-signer", leafKey, HashAlgorithmName.SHA256);
        using var leaf = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(10), [1, 2, 3, 4]);
        var header = new JsonObject { ["x5c"] = new JsonArray(Convert.ToBase64String(leaf.RawData)) };
        var token = TokenFactory.Sign(leafKey, TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull")), header);

        var trusted = await AuthorizeAsync(Controller(TokenSigningKeys.FromCertificates([ca])), token, Requests.Pull("a"));
        var untrusted = await AuthorizeAsync(Controller(), token, Requests.Pull("a"));

        Assert.Equal(AccessOutcome.Granted, trusted.Outcome);
        Assert.Equal(AccessOutcome.Unauthenticated, untrusted.Outcome);
    }

    [Fact]
    public async Task Authorize_PullOnlyTokenPushing_IsChallengedForTheWiderScope()
    {
        var token = RsaToken(TokenFactory.Claims(Now, TokenFactory.Repo("team/app", "pull")));

        var decision = await AuthorizeAsync(Controller(), token, Requests.Push("team/app"));

        // registry:2 answers 401 so that the client asks the token server for push; 403 would end the push.
        Assert.Equal(AccessOutcome.Unauthenticated, decision.Outcome);
        Assert.Equal(
            $"Bearer realm=\"{Realm}\",service=\"{TokenFactory.Service}\",scope=\"repository:team/app:pull,push\",error=\"insufficient_scope\"",
            decision.Challenge);
    }

    [Fact]
    public async Task Authorize_NoToken_ChallengesWithRealmServiceAndScope()
    {
        var decision = await AuthorizeAsync(Controller(), null, Requests.Pull("a/b"), AccessRequest.Repository("c", "pull"));

        Assert.Equal(AccessOutcome.Unauthenticated, decision.Outcome);
        Assert.Equal($"Bearer realm=\"{Realm}\",service=\"{TokenFactory.Service}\",scope=\"repository:a/b:pull repository:c:pull\"", decision.Challenge);
    }

    [Fact]
    public async Task Authorize_VersionCheckWithAnyValidToken_IsGranted()
    {
        var token = RsaToken(TokenFactory.Claims(Now));

        Assert.Equal(AccessOutcome.Granted, (await AuthorizeAsync(Controller(), token)).Outcome);
        Assert.Equal(AccessOutcome.Unauthenticated, (await AuthorizeAsync(Controller(), null)).Outcome);
    }

    [Fact]
    public async Task Authorize_CatalogToken_GrantsTheCatalog()
    {
        var token = RsaToken(TokenFactory.Claims(Now, ("registry", "catalog", ["*"])));

        Assert.Equal(AccessOutcome.Granted, (await AuthorizeAsync(Controller(), token, AccessRequest.Catalog())).Outcome);
    }

    [Fact]
    public async Task Authorize_StarActions_GrantEveryAction()
    {
        var token = RsaToken(TokenFactory.Claims(Now, TokenFactory.Repo("a", "*")));

        Assert.Equal(AccessOutcome.Granted, (await AuthorizeAsync(Controller(), token, AccessRequest.Repository("a", "pull", "push", "delete"))).Outcome);
    }

    [Theory]
    [InlineData(-120, false)]
    [InlineData(-30, true)]
    public async Task Authorize_Expiry_AllowsSixtySecondsOfSkew(int expiresInSeconds, bool accepted)
    {
        var claims = TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull"))
            .With("exp", Now.AddSeconds(expiresInSeconds).ToUnixTimeSeconds())
            .With("nbf", Now.AddMinutes(-10).ToUnixTimeSeconds());

        var decision = await AuthorizeAsync(Controller(), RsaToken(claims), Requests.Pull("a"));

        Assert.Equal(accepted ? AccessOutcome.Granted : AccessOutcome.Unauthenticated, decision.Outcome);
        if (!accepted)
        {
            Assert.Contains("error=\"invalid_token\"", decision.Challenge, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(120, false)]
    [InlineData(30, true)]
    public async Task Authorize_NotBefore_AllowsSixtySecondsOfSkew(int notBeforeInSeconds, bool accepted)
    {
        var claims = TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull")).With("nbf", Now.AddSeconds(notBeforeInSeconds).ToUnixTimeSeconds());

        Assert.Equal(accepted ? AccessOutcome.Granted : AccessOutcome.Unauthenticated, (await AuthorizeAsync(Controller(), RsaToken(claims), Requests.Pull("a"))).Outcome);
    }

    [Fact]
    public async Task Authorize_TokenExpiresWhileTheClockMoves_IsRefused()
    {
        var controller = Controller();
        var token = RsaToken(TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull")));
        Assert.Equal(AccessOutcome.Granted, (await AuthorizeAsync(controller, token, Requests.Pull("a"))).Outcome);

        _time.Advance(TimeSpan.FromMinutes(7));

        Assert.Equal(AccessOutcome.Unauthenticated, (await AuthorizeAsync(controller, token, Requests.Pull("a"))).Outcome);
    }

    [Theory]
    [InlineData("iss", "https://evil.example.com")]
    [InlineData("aud", "other-registry")]
    public async Task Authorize_WrongIssuerOrAudience_IsRefused(string claim, string value)
    {
        var claims = TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull")).With(claim, value);

        Assert.Equal(AccessOutcome.Unauthenticated, (await AuthorizeAsync(Controller(), RsaToken(claims), Requests.Pull("a"))).Outcome);
    }

    [Fact]
    public async Task Authorize_AudienceList_IncludingTheService_IsAccepted()
    {
        var claims = TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull")).With("aud", new JsonArray("other", TokenFactory.Service));

        Assert.Equal(AccessOutcome.Granted, (await AuthorizeAsync(Controller(), RsaToken(claims), Requests.Pull("a"))).Outcome);
    }

    [Fact]
    public async Task Authorize_NoExpiry_IsRefused()
    {
        var claims = TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull"));
        claims.Remove("exp");

        Assert.Equal(AccessOutcome.Unauthenticated, (await AuthorizeAsync(Controller(), RsaToken(claims), Requests.Pull("a"))).Outcome);
    }

    [Fact]
    public async Task Authorize_SignedByAnotherKeyUnderATrustedKid_IsRefused()
    {
        using var forger = RSA.Create(2048);
        var token = TokenFactory.Sign(forger, TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull")), TokenFactory.Kid(TokenFactory.LibtrustId(_factory.Rsa)));

        Assert.Equal(AccessOutcome.Unauthenticated, (await AuthorizeAsync(Controller(), token, Requests.Pull("a"))).Outcome);
    }

    [Fact]
    public async Task Authorize_PayloadTamperedAfterSigning_IsRefused()
    {
        var token = RsaToken(TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull")));
        var parts = token.Split('.');
        var forged = TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull", "push", "delete"));
        var tampered = $"{parts[0]}.{TokenFactory.Encode(forged)}.{parts[2]}";

        Assert.Equal(AccessOutcome.Unauthenticated, (await AuthorizeAsync(Controller(), tampered, Requests.Push("a"))).Outcome);
    }

    [Fact]
    public async Task Authorize_AlgNone_IsRefused()
    {
        var header = new JsonObject { ["alg"] = "none", ["typ"] = "JWT" };
        var token = $"{TokenFactory.Encode(header)}.{TokenFactory.Encode(TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull")))}.";

        Assert.Equal(AccessOutcome.Unauthenticated, (await AuthorizeAsync(Controller(), token, Requests.Pull("a"))).Outcome);
    }

    [Fact]
    public async Task Authorize_Hs256WithThePublicKeyAsSecret_IsRefused()
    {
        // The classic algorithm-confusion forgery: HMAC keyed with the verifier's public key.
        var header = new JsonObject { ["alg"] = "HS256", ["typ"] = "JWT", ["kid"] = TokenFactory.LibtrustId(_factory.Rsa) };
        var input = $"{TokenFactory.Encode(header)}.{TokenFactory.Encode(TokenFactory.Claims(Now, TokenFactory.Repo("a", "pull")))}";
        var secret = Encoding.ASCII.GetBytes(PemEncoding.WriteString("PUBLIC KEY", _factory.Rsa.ExportSubjectPublicKeyInfo()));
        var token = input + "." + Base64UrlEncoder.Encode(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input)));

        Assert.Equal(AccessOutcome.Unauthenticated, (await AuthorizeAsync(Controller(), token, Requests.Pull("a"))).Outcome);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("a.b.c")]
    [InlineData("....")]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.e30.AAAA")]
    [InlineData("eyJ4NWMiOlsiISEhIl0sImFsZyI6IlJTMjU2In0.e30.AAAA")]
    [InlineData("eyJ4NWMiOiJub3QtYS1saXN0IiwiYWxnIjoiUlMyNTYifQ.e30.AAAA")]
    [InlineData("eyJqd2siOnsia2lkIjo1fSwiYWxnIjoiUlMyNTYifQ.e30.AAAA")]
    public async Task Authorize_GarbageTokens_AreChallengedNeverThrown(string token)
    {
        var decision = await AuthorizeAsync(Controller(), token, Requests.Pull("a"));

        Assert.Equal(AccessOutcome.Unauthenticated, decision.Outcome);
    }

    [Fact]
    public async Task Authorize_MalformedAccessClaim_IsRefused()
    {
        var claims = TokenFactory.Claims(Now).With("access", "everything");

        Assert.Equal(AccessOutcome.Unauthenticated, (await AuthorizeAsync(Controller(), RsaToken(claims), Requests.Pull("a"))).Outcome);
    }

    [Fact]
    public async Task Authorize_BasicCredentials_AreAskedForAToken()
    {
        var decision = await Controller().AuthorizeAsync(Requests.Context(Requests.Basic("alice", "pw")), [Requests.Pull("a")], default);

        Assert.Equal(AccessOutcome.Unauthenticated, decision.Outcome);
        Assert.StartsWith("Bearer realm=", decision.Challenge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authorize_AutoRedirect_BuildsTheRealmFromTheRequestHost()
    {
        var decision = await AuthorizeAsync(Controller(autoRedirect: true), null, Requests.Pull("a"));

        Assert.StartsWith("Bearer realm=\"https://registry.example.com/auth/token\"", decision.Challenge, StringComparison.Ordinal);
    }

    [Fact]
    public void LibtrustKeyId_MatchesDockerLibtrust()
    {
        // Computed independently (SHA-256 of the DER key, first 30 bytes, base32, groups of four).
        const string Pem = """
            -----BEGIN PUBLIC KEY-----
            MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE5EoXO4nYoBPE6vy4xVe8VeV2UDw7
            +hLQtoo0FNuys79HaGkWqX53EyWVrKC5pCb4NoV7lMK+e9cNSZBRYhXN3g==
            -----END PUBLIC KEY-----
            """;
        using var key = ECDsa.Create();
        key.ImportFromPem(Pem);

        Assert.Equal("TD22:SBXR:JTTL:R7SR:OMKS:ZFRK:CV7C:2DLX:EVN2:Y222:3RSD:4GQP", TokenSigningKeys.LibtrustKeyId(key.ExportSubjectPublicKeyInfo()));
    }

    [Fact]
    public void Load_MissingOrEmptyFiles_FailNamingTheFile()
    {
        var missing = _directory.Combine("missing.pem");
        var empty = _directory.Combine("empty.pem");
        File.WriteAllText(empty, "not a certificate\n");
        var privateJwks = _directory.Combine("private.json");
        File.WriteAllText(privateJwks, """{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}""");

        Assert.Contains(missing, Assert.Throws<TokenKeyException>(() => TokenSigningKeys.Load(missing, null)).Message, StringComparison.Ordinal);
        Assert.Contains(empty, Assert.Throws<TokenKeyException>(() => TokenSigningKeys.Load(empty, null)).Message, StringComparison.Ordinal);
        Assert.Contains("oct", Assert.Throws<TokenKeyException>(() => TokenSigningKeys.Load(null, privateJwks)).Message, StringComparison.Ordinal);
    }
}
