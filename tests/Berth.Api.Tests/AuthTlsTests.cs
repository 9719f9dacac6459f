using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

/// <summary>Berth serving HTTPS with htpasswd: the certificates are made by the test with .NET's certificate APIs.</summary>
public sealed class AuthTlsTests : IDisposable
{
    private readonly AuthSandbox _sandbox = new();
    private readonly AuthPki _pki = new();

    public void Dispose()
    {
        _pki.Dispose();
        _sandbox.Dispose();
    }

    private async Task<AuthTestServer> StartAsync(bool rsa = false, string tlsExtra = "")
    {
        _pki.WriteServerCertificate(_sandbox.Directory, "server", rsa);
        var htpasswd = _sandbox.WriteHtpasswd(("alice", "alice-pw"));
        return await _sandbox.StartAsync(
            $"auth:\n  htpasswd:\n    realm: TLS\n    path: '{htpasswd}'\n",
            $"  tls:\n    certificate: '{_sandbox.Combine("server.crt")}'\n    key: '{_sandbox.Combine("server.key")}'\n{tlsExtra}");
    }

    /// <summary>Opens a TLS connection and returns what was negotiated, or the failure.</summary>
    private async Task<(SslProtocols Protocol, SslApplicationProtocol Alpn, X509Certificate2 Certificate)> HandshakeAsync(
        AuthTestServer server, SslProtocols protocols = SslProtocols.None, X509Certificate2? clientCertificate = null)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, server.BaseAddress.Port);
        await using var ssl = new SslStream(tcp.GetStream());
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = protocols,
            ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
            RemoteCertificateValidationCallback = (_, certificate, _, _) => AuthPki.ChainsTo(certificate, _pki.Ca),
            ClientCertificates = clientCertificate is null ? null : [clientCertificate],
        };
        await ssl.AuthenticateAsClientAsync(options);
        // A handshake the server rejects after the fact (client certificates in TLS 1.3) surfaces on the first read.
        await ssl.WriteAsync("GET /v2/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"u8.ToArray());
        var buffer = new byte[64];
        var read = await ssl.ReadAsync(buffer);
        if (read == 0)
        {
            throw new IOException("the server closed the connection");
        }

        return (ssl.SslProtocol, ssl.NegotiatedApplicationProtocol, X509CertificateLoader.LoadCertificate(ssl.RemoteCertificate!.GetRawCertData()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Https_EcdsaAndRsaCertificates_ServeTheChainAndAuthenticate(bool rsa)
    {
        await using var server = await StartAsync(rsa);
        using var anonymous = server.Client(_pki.Ca);
        using var client = server.Client("alice", "alice-pw", _pki.Ca);

        using var challenged = await anonymous.GetAsync(new Uri("/v2/", UriKind.Relative));
        var image = await client.PushImageAsync(Oci.UniqueRepository("tls"), "v1");
        using var pulled = await client.GetAsync(new Uri($"/v2/{image.Repository}/blobs/{image.Layer.Digest}", UriKind.Relative));

        Assert.Equal("https", server.BaseAddress.Scheme);
        await OciAssert.ErrorAsync(challenged, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal(image.LayerBytes, await pulled.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Https_Http2ByAlpn_AndTls12Or13Only()
    {
        await using var server = await StartAsync();
        using var h2 = server.Client(_pki.Ca, version: HttpVersion.Version20);

        using var response = await h2.GetAsync(new Uri("/v2/", UriKind.Relative));
        var tls13 = await HandshakeAsync(server);
        var tls12 = await HandshakeAsync(server, SslProtocols.Tls12);

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(SslProtocols.Tls13, tls13.Protocol);
        Assert.Equal(SslApplicationProtocol.Http2, tls13.Alpn);
        Assert.Equal(SslProtocols.Tls12, tls12.Protocol);
    }

    [Fact]
    public async Task Https_MinimumTls13_RefusesTls12()
    {
        await using var server = await StartAsync(tlsExtra: "    minimumtls: tls1.3\n");

        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(server, SslProtocols.Tls12));
        Assert.Equal(SslProtocols.Tls13, (await HandshakeAsync(server)).Protocol);
    }

    [Fact]
    public async Task Https_Http2Disabled_NegotiatesHttp11()
    {
        _pki.WriteServerCertificate(_sandbox.Directory, "server");
        await using var server = await _sandbox.StartAsync("",
            $"  http2:\n    disabled: true\n  tls:\n    certificate: '{_sandbox.Combine("server.crt")}'\n    key: '{_sandbox.Combine("server.key")}'\n");

        Assert.Equal(SslApplicationProtocol.Http11, (await HandshakeAsync(server)).Alpn);
    }

    [Fact]
    public async Task Https_CertificateRenewedOnDisk_NewConnectionsGetItWithoutRestart()
    {
        await using var server = await StartAsync();
        using var client = server.Client("alice", "alice-pw", _pki.Ca);
        using var before = await client.GetAsync(new Uri("/v2/", UriKind.Relative));
        var first = (await HandshakeAsync(server)).Certificate;

        // As certbot or cert-manager would: a new certificate and key written over the old files.
        var renewed = _pki.WriteServerCertificate(_sandbox.Directory, "server");

        var served = first;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (served.Thumbprint == first.Thumbprint && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
            served = (await HandshakeAsync(server)).Certificate;
        }

        // The connection opened before the renewal keeps working.
        using var after = await client.GetAsync(new Uri("/v2/", UriKind.Relative));

        Assert.Equal(renewed.Thumbprint, served.Thumbprint);
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task Https_ClientCertificatesRequired_OnlyCertificatesOfTheClientCaGetIn()
    {
        using var clientCa = new AuthPki("CN=Berth Client CA");
        using var strangerCa = new AuthPki("CN=Stranger CA");
        var clientCas = _sandbox.Combine("client-ca.pem");
        await File.WriteAllTextAsync(clientCas, AuthPki.Pem(clientCa.Ca));
        _pki.WriteServerCertificate(_sandbox.Directory, "server");
        await using var server = await _sandbox.StartAsync("",
            $"  tls:\n    certificate: '{_sandbox.Combine("server.crt")}'\n    key: '{_sandbox.Combine("server.key")}'\n    clientcas: ['{clientCas}']\n");
        using var good = clientCa.ClientCertificate("CN=ci-runner");
        using var stranger = strangerCa.ClientCertificate("CN=intruder");

        using var withCertificate = server.Client(_pki.Ca, good);
        using var response = await withCertificate.GetAsync(new Uri("/v2/", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(server));
        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(server, clientCertificate: stranger));
    }

    [Fact]
    public async Task PlainHttp_ToTheTlsPort_IsRefusedWithoutAnAnswer()
    {
        await using var server = await StartAsync();

        await Assert.ThrowsAnyAsync<Exception>(() => RawHttp.SendAsync(new Uri($"http://127.0.0.1:{server.BaseAddress.Port}"), "GET", "/v2/"));
    }
}
