using System.Diagnostics;
using Berth.Server.Tests.Configuration;
using Berth.Server.Tests.Security;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests;

/// <summary>
/// <c>berth config check</c> and <c>berth serve</c> agree: every configuration serve refuses before it listens, config
/// check refuses with the same line, and every configuration config check accepts, serve starts with and answers on.
/// Serve runs its real path (<see cref="ServeCommand"/>, which <c>berth serve</c> calls) on 127.0.0.1 with a port the
/// system picks, and is stopped once it answered.
/// </summary>
public sealed class ServeConfigCheckAgreementTests : IDisposable
{
    private const string RootAdvice = "choose another directory with REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=DIR or storage.filesystem.rootdirectory in config.yml";

    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    /// <summary>A configuration, the environment it is loaded with, and the start of the line both verbs must print.</summary>
    private sealed record Case(string Yaml, string ExpectedStart, IReadOnlyDictionary<string, string>? Environment = null);

    /// <summary>Both verbs' outcome: exit code, standard error, and for serve whether (and what) it answered.</summary>
    private sealed record Outcome(int ExitCode, string Error, IReadOnlyList<string>? ListenedOn = null, int? Status = null);

    private static string Yaml(string addr = "127.0.0.1:0", string http = "", string storage = "  inmemory: {}\n", string extra = "") =>
        $"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nhttp:\n  addr: {addr}\n  secret: agreement-tests\n{http}storage:\n{storage}{extra}";

    private static string Quoted(string path) => "'" + path.Replace("'", "''", StringComparison.Ordinal) + "'";

    private string Htpasswd(string name, string content)
    {
        var path = _pki.Path(name);
        File.WriteAllText(path, content);
        return path;
    }

    private static string HtpasswdLine(string user) => $"{user}:{BCrypt.Net.BCrypt.HashPassword("secret", 4)}\n";

    private string AFile()
    {
        var path = _pki.Path("a-regular-file");
        File.WriteAllText(path, "not a directory\n");
        return path;
    }

    private static readonly Dictionary<string, Func<ServeConfigCheckAgreementTests, Case>> BadCases = new(StringComparer.Ordinal)
    {
        ["http.addr is not an address"] = _ => new(Yaml(addr: "not-an-address"),
            "berth: configuration error: http.addr: expected host:port, got 'not-an-address'"),
        ["http.addr names a host"] = _ => new(Yaml(addr: "registry.example.com:5000"),
            "berth: configuration error: http.addr: 'registry.example.com' is not an IP address or localhost"),
        ["REGISTRY_HTTP_ADDR is not an address"] = _ => new(Yaml(),
            "berth: configuration error: http.addr: expected host:port, got ':port'", Environment(("REGISTRY_HTTP_ADDR", ":port"))),
        ["http.debug.addr is not an address"] = _ => new(Yaml(http: "  debug:\n    addr: nope\n"),
            "berth: configuration error: http.debug.addr: expected host:port, got 'nope'"),
        ["http.debug.addr takes the registry's port"] = _ => new(Yaml(addr: "127.0.0.1:5999", http: "  debug:\n    addr: :5999\n"),
            "berth: configuration error: http.debug.addr: ':5999' takes the port of http.addr"),
        ["TLS certificate file missing"] = t =>
        {
            var (_, key, _) = t._pki.Server("server");
            var missing = t._pki.Path("missing.crt");
            return new(Yaml(http: $"  tls:\n    certificate: {Quoted(missing)}\n    key: {Quoted(key)}\n"),
                $"berth: configuration error: http.tls.certificate: file not found: {missing}");
        },
        ["TLS key of another certificate"] = t =>
        {
            var (certificate, _, _) = t._pki.Server("one");
            var (_, otherKey, _) = t._pki.Server("two");
            return new(Yaml(http: $"  tls:\n    certificate: {Quoted(certificate)}\n    key: {Quoted(otherKey)}\n"),
                $"berth: configuration error: http.tls.key: the private key in {otherKey} does not belong to the certificate in {certificate}");
        },
        ["TLS client CA file missing"] = t =>
        {
            var (certificate, key, _) = t._pki.Server("server");
            var missing = t._pki.Path("missing-ca.crt");
            return new(Yaml(http: $"  tls:\n    certificate: {Quoted(certificate)}\n    key: {Quoted(key)}\n    clientcas: [{Quoted(missing)}]\n"),
                $"berth: configuration error: http.tls.clientcas.0: file not found: {missing}");
        },
        ["TLS cipher suite unknown"] = t =>
        {
            var (certificate, key, _) = t._pki.Server("server");
            return new(Yaml(http: $"  tls:\n    certificate: {Quoted(certificate)}\n    key: {Quoted(key)}\n    ciphersuites: [TLS_NOT_A_SUITE]\n"),
                "berth: configuration error: http.tls.ciphersuites.0: unknown cipher suite 'TLS_NOT_A_SUITE'");
        },
        ["TLS by ACME"] = _ => new(Yaml(http: "  tls:\n    letsencrypt:\n      cachefile: /tmp/le.cache\n"),
            "berth: configuration error: http.tls.letsencrypt.cachefile: ACME is not built into Berth"),
        ["htpasswd file missing"] = t =>
        {
            var missing = t._pki.Path("no-htpasswd");
            return new(Yaml(extra: $"auth:\n  htpasswd:\n    realm: Registry\n    path: {Quoted(missing)}\n"),
                $"berth: configuration error: auth.htpasswd.path: {missing}: the file does not exist; create it with `berth htpasswd -B -c {missing} USER`");
        },
        ["htpasswd line malformed"] = t =>
        {
            var path = t.Htpasswd("htpasswd", HtpasswdLine("alice") + "bob plaintext\n");
            return new(Yaml(extra: $"auth:\n  htpasswd:\n    realm: Registry\n    path: {Quoted(path)}\n"),
                $"berth: configuration error: auth.htpasswd.path: {path} line 2:");
        },
        ["token rootcertbundle missing"] = t =>
        {
            var missing = t._pki.Path("no-bundle.pem");
            return new(Yaml(extra: $"auth:\n  token:\n    realm: https://auth.example/token\n    service: registry\n    issuer: auth\n    rootcertbundle: {Quoted(missing)}\n"),
                "berth: configuration error: auth.token: ");
        },
        ["token signing algorithm unsupported"] = t => new(
            Yaml(extra: $"auth:\n  token:\n    realm: https://auth.example/token\n    service: registry\n    issuer: auth\n    rootcertbundle: {Quoted(t._pki.CaPath)}\n    signingalgorithms: [HS256]\n"),
            "berth: configuration error: auth.token.signingalgorithms: HS256 not supported"),
        ["storage root is a file"] = t =>
        {
            var file = t.AFile();
            return new(Yaml(storage: $"  filesystem:\n    rootdirectory: {Quoted(file)}\n"),
                $"berth: cannot use the storage root {file} (it is a file, not a directory); {RootAdvice}");
        },
        ["storage root under a file"] = t =>
        {
            var file = t.AFile();
            var root = Path.Combine(file, "registry");
            return new(Yaml(storage: $"  filesystem:\n    rootdirectory: {Quoted(root)}\n"),
                $"berth: cannot create the storage root {root} ({file} is a file, not a directory); {RootAdvice}");
        },
        ["REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY is a file"] = t =>
        {
            var file = t.AFile();
            return new(Yaml(storage: "  filesystem: {}\n"),
                $"berth: cannot use the storage root {file} (it is a file, not a directory); {RootAdvice}",
                Environment(("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", file)));
        },
        ["S3 without bucket"] = _ => new(Yaml(storage: "  s3:\n    region: us-east-1\n"),
            "berth: configuration error: storage.s3.bucket: required"),
        ["S3 without region or endpoint"] = _ => new(Yaml(storage: "  s3:\n    bucket: registry\n"),
            "berth: configuration error: storage.s3.region: required unless storage.s3.regionendpoint is set"),
        ["S3 endpoint not http"] = _ => new(Yaml(storage: "  s3:\n    bucket: registry\n    region: us-east-1\n    regionendpoint: ftp://127.0.0.1:9000\n"),
            "berth: configuration error: storage.s3.regionendpoint: 'ftp://127.0.0.1:9000' is not an http or https URL"),
        ["Azure without container"] = _ => new(Yaml(storage: "  azure:\n    accountname: registry\n    accountkey: a2V5\n"),
            "berth: configuration error: storage.azure.container: required"),
        ["Azure account key not base64"] = _ => new(Yaml(storage: "  azure:\n    accountname: registry\n    accountkey: '!!'\n    container: registry\n"),
            "berth: configuration error: storage.azure.accountkey: not a base64 account key"),
        ["Azure client secret without tenant"] = _ => new(
            Yaml(storage: "  azure:\n    accountname: registry\n    container: registry\n    credentials:\n      type: client_secret\n      clientid: c\n      secret: s\n"),
            "berth: configuration error: storage.azure.credentials.tenantid: required with client_secret credentials"),
        ["S3 user agent too long"] = _ => new(Yaml(storage: $"  s3:\n    bucket: registry\n    region: us-east-1\n    useragent: {new string('a', 51)}\n"),
            "berth: configuration error: storage.s3.useragent: at most 50 characters"),
        ["storage driver unknown"] = _ => new(Yaml(storage: "  gcs: {}\n"),
            "berth: configuration error: storage.gcs: the 'gcs' storage driver is not supported"),
        ["access rules without htpasswd"] = _ => new(Yaml(extra: "access:\n  rules:\n    - repositories: [\"public/**\"]\n      anonymous: [pull]\n"),
            "berth: configuration error: access: access rules need auth.htpasswd"),
        ["access rule with an unknown action"] = t =>
        {
            var path = t.Htpasswd("htpasswd", HtpasswdLine("alice"));
            return new(Yaml(extra: $"auth:\n  htpasswd:\n    realm: Registry\n    path: {Quoted(path)}\naccess:\n  rules:\n    - repositories: [\"team/**\"]\n      users: [alice]\n      actions: [fly]\n"),
                "berth: configuration error: access.rules.0.actions.0: 'fly' is not an action");
        },
        ["redis cache without redis"] = _ => new(Yaml(storage: "  inmemory: {}\n  cache:\n    blobdescriptor: redis\n"),
            "berth: configuration error: storage.cache.blobdescriptor: the redis cache needs a redis server"),
        ["redis root CA file missing"] = t =>
        {
            var missing = t._pki.Path("no-redis-ca.pem");
            return new(Yaml(storage: "  inmemory: {}\n  cache:\n    blobdescriptor: redis\n",
                    extra: $"redis:\n  addr: 127.0.0.1:1\n  tls:\n    rootcas: [{Quoted(missing)}]\n"),
                $"berth: configuration error: redis.tls.rootcas.0: file not found: {missing}");
        },
        ["proxy credential helper missing"] = t =>
        {
            var missing = t._pki.Path("docker-credential-none");
            return new(Yaml(extra: $"proxy:\n  remoteurl: http://127.0.0.1:1\n  exec:\n    command: {Quoted(missing)}\n"),
                $"berth: configuration error: proxy.exec.command: '{missing}' is not an executable file; install the credential helper or give its full path");
        },
        ["proxy credentials without an upstream"] = _ => new(Yaml(extra: "proxy:\n  username: mirror\n  password: secret\n"),
            "berth: configuration error: proxy.remoteurl: required when proxy.username, proxy.password or proxy.exec is set"),
        ["proxy upstreams with overlapping prefixes"] = _ => new(
            Yaml(extra: "proxy:\n  upstreams:\n    - prefix: hub\n      remoteurl: http://127.0.0.1:1\n    - prefix: hub/library\n      remoteurl: http://127.0.0.1:2\n"),
            "berth: configuration error: proxy.upstreams.1.prefix: 'hub/library' overlaps 'hub'; one repository must belong to one upstream"),
        ["value of the wrong type"] = _ => new(Yaml(storage: "  inmemory: {}\n  delete:\n    enabled: maybe\n"),
            "berth: configuration error: storage.delete.enabled: expected a boolean, got 'maybe'"),
    };

    private static readonly Dictionary<string, Func<ServeConfigCheckAgreementTests, Case>> GoodCases = new(StringComparer.Ordinal)
    {
        ["in memory"] = _ => new(Yaml(), ""),
        ["filesystem root that exists"] = t =>
        {
            var root = t._pki.Path("root");
            Directory.CreateDirectory(root);
            return new(Yaml(storage: $"  filesystem:\n    rootdirectory: {Quoted(root)}\n"), "");
        },
        ["filesystem root from the environment, not there yet"] = t =>
            new(Yaml(storage: "  filesystem: {}\n"), "", Environment(("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", t._pki.Path("new/root")))),
        ["debug listener with metrics"] = _ => new(Yaml(http: "  debug:\n    addr: 127.0.0.1:0\n    prometheus:\n      enabled: true\n"), ""),
        ["TLS with client CAs"] = t =>
        {
            var (certificate, key, _) = t._pki.Server("server");
            return new(Yaml(http: $"  tls:\n    certificate: {Quoted(certificate)}\n    key: {Quoted(key)}\n    clientcas: [{Quoted(t._pki.CaPath)}]\n    clientauth: verify-client-cert-if-given\n"), "");
        },
        ["htpasswd with access rules"] = t =>
        {
            var path = t.Htpasswd("htpasswd", HtpasswdLine("alice") + HtpasswdLine("bob"));
            return new(Yaml(extra: $"auth:\n  htpasswd:\n    realm: Registry\n    path: {Quoted(path)}\naccess:\n  groups:\n    devs: [alice, bob]\n  rules:\n    - repositories: [\"team/**\"]\n      groups: [devs]\n      actions: [pull, push]\n"), "");
        },
        ["token with a root certificate bundle"] = t => new(
            Yaml(extra: $"auth:\n  token:\n    realm: https://auth.example/token\n    service: registry\n    issuer: auth\n    rootcertbundle: {Quoted(t._pki.CaPath)}\n"), ""),
        // Nothing listens at these endpoints: neither verb needs S3, Redis or a webhook to be reachable to start.
        ["S3 endpoint out of reach"] = _ => new(
            Yaml(storage: "  s3:\n    bucket: registry\n    region: us-east-1\n    regionendpoint: http://127.0.0.1:1\n    accesskey: AKIAEXAMPLEEXAMPLE12\n    secretkey: example-secret\n"), ""),
        ["Azure service out of reach"] = _ => new(
            Yaml(storage: "  azure:\n    accountname: devstoreaccount1\n    accountkey: a2V5\n    container: registry\n    serviceurl: http://127.0.0.1:1/devstoreaccount1\n"), ""),
        ["redis cache with redis down"] = _ => new(
            Yaml(storage: "  inmemory: {}\n  cache:\n    blobdescriptor: redis\n", extra: "redis:\n  addr: 127.0.0.1:1\n  dialtimeout: 200ms\n"), ""),
        ["notification endpoint out of reach"] = _ => new(
            Yaml(extra: "notifications:\n  endpoints:\n    - name: audit\n      url: http://127.0.0.1:1/events\n"), ""),
        ["unix socket"] = t => new(Yaml(addr: Quoted(t._pki.Path("registry.sock")), http: "  net: unix\n"), ""),
        // The upstream need not be reachable to start: cached content is served when it is not.
        ["pull-through cache of an upstream out of reach"] = _ => new(Yaml(extra: "proxy:\n  remoteurl: http://127.0.0.1:1\n  ttl: 24h\n"), ""),
        ["mirrors beside local repositories"] = _ => new(
            Yaml(extra: "proxy:\n  upstreams:\n    - prefix: hub\n      remoteurl: http://127.0.0.1:1\n      hosts: [docker.io]\n    - prefix: ghcr\n      remoteurl: http://127.0.0.1:2\n"), ""),
    };

    public static TheoryData<string> BadConfigs => Names(BadCases);

    public static TheoryData<string> GoodConfigs => Names(GoodCases);

    private static TheoryData<string> Names(Dictionary<string, Func<ServeConfigCheckAgreementTests, Case>> cases)
    {
        var names = new TheoryData<string>();
        foreach (var name in cases.Keys)
        {
            names.Add(name);
        }

        return names;
    }

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public async Task ServeAndCheck_BadConfig_BothRefuseWithTheSameLine(string name)
    {
        var @case = BadCases[name](this);
        using var file = new TemporaryConfigFile(@case.Yaml);
        var environment = @case.Environment ?? NoEnvironment;

        var check = await CheckAsync(file.Path, environment);
        var serve = await ServeAsync(file.Path, environment);

        Assert.Equal(1, check.ExitCode);
        Assert.Equal(1, serve.ExitCode);
        Assert.Null(serve.ListenedOn);
        Assert.StartsWith(@case.ExpectedStart, check.Error, StringComparison.Ordinal);
        Assert.Equal(check.Error, serve.Error);
        Assert.Single(check.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [MemberData(nameof(GoodConfigs))]
    public async Task ServeAndCheck_GoodConfig_CheckAcceptsAndServeAnswers(string name)
    {
        var @case = GoodCases[name](this);
        using var file = new TemporaryConfigFile(@case.Yaml);
        var environment = @case.Environment ?? NoEnvironment;

        var check = await CheckAsync(file.Path, environment);
        var serve = await ServeAsync(file.Path, environment);

        Assert.Equal(0, check.ExitCode);
        Assert.Contains($"berth: {file.Path}: configuration is valid", check.Error, StringComparison.Ordinal);
        Assert.Equal("", serve.Error);
        Assert.Equal(0, serve.ExitCode);
        Assert.NotNull(serve.ListenedOn);
        Assert.NotEmpty(serve.ListenedOn);
        if (serve.Status is { } status)
        {
            // 401 where authentication is on: the registry answered all the same.
            Assert.Contains(status, new[] { 200, 401 });
        }
        else
        {
            Assert.StartsWith("http://unix:", Assert.Single(serve.ListenedOn), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ServeAndCheck_RootMissingUnderWritableParent_CheckCreatesNothingServeCreatesIt()
    {
        var root = _pki.Path("data/registry");
        using var file = new TemporaryConfigFile(Yaml(storage: $"  filesystem:\n    rootdirectory: {Quoted(root)}\n"));

        var check = await CheckAsync(file.Path, NoEnvironment);
        Assert.Equal(0, check.ExitCode);
        Assert.False(Directory.Exists(_pki.Path("data")));

        var serve = await ServeAsync(file.Path, NoEnvironment);
        Assert.Equal(0, serve.ExitCode);
        Assert.Equal(200, serve.Status);
        Assert.True(Directory.Exists(root));
    }

    [Fact]
    public async Task ServeAndCheck_AsProcesses_RefuseWithOneLineOnStandardErrorAndNoStackTrace()
    {
        var file = AFile();
        var root = Path.Combine(file, "registry");
        using var config = new TemporaryConfigFile(Yaml(storage: $"  filesystem:\n    rootdirectory: {Quoted(root)}\n"));
        var expected = $"berth: cannot create the storage root {root} ({file} is a file, not a directory); {RootAdvice}\n";

        var serve = await RunBerthAsync("serve", config.Path);
        var check = await RunBerthAsync("config", "check", config.Path);

        Assert.Equal((1, "", expected), serve);
        Assert.Equal((1, "", expected), check);
    }

    [Fact]
    public void Validate_RootNotWritableForThisUser_SaysSoAndHowToChooseAnother()
    {
        // Tests run as root, whom permission bits do not stop: access(2) is replaced to answer as for another user.
        var root = _pki.Path("root");
        Directory.CreateDirectory(root);
        var config = LoadYaml(Yaml(storage: $"  filesystem:\n    rootdirectory: {Quoted(root)}\n")).Configuration;

        var exception = Assert.Throws<StartupException>(() => StartupValidation.Validate(config, DenyWrites));

        Assert.Equal("storage.filesystem.rootdirectory", exception.Key);
        Assert.Equal($"berth: cannot write the storage root {root} (permission denied); {RootAdvice}", StartupValidation.FailureLine(exception));
    }

    [Fact]
    public void Validate_DefaultRootUnderAParentThisUserCannotWrite_SaysWhichDirectoryRefuses()
    {
        var parent = _pki.Path("var-lib");
        Directory.CreateDirectory(parent);
        var root = Path.Combine(parent, "registry");
        var config = LoadYaml(Yaml(storage: $"  filesystem:\n    rootdirectory: {Quoted(root)}\n")).Configuration;

        var exception = Assert.Throws<StartupException>(() => StartupValidation.Validate(config, DenyWrites));

        Assert.Equal($"berth: cannot create the storage root {root} ({parent}: permission denied); {RootAdvice}", StartupValidation.FailureLine(exception));
        Assert.False(Directory.Exists(root));
    }

    [Fact]
    public void Validate_ReadOnlyModeOnARootThisUserCannotWrite_Accepts()
    {
        // A read-only registry over a read-only volume: only reading is needed once the driver's staging directory exists.
        var root = _pki.Path("root");
        Directory.CreateDirectory(Path.Combine(root, Berth.Storage.Drivers.FilesystemDriver.StagingDirectoryName));
        var config = LoadYaml(Yaml(storage: $"  filesystem:\n    rootdirectory: {Quoted(root)}\n  maintenance:\n    readonly:\n      enabled: true\n")).Configuration;

        var plan = StartupValidation.Validate(config, DenyWrites);

        Assert.NotNull(plan);
    }

    [Fact]
    public void Validate_StagingDirectoryLeftByAnotherUser_NamesIt()
    {
        var root = _pki.Path("root");
        var staging = Path.Combine(root, Berth.Storage.Drivers.FilesystemDriver.StagingDirectoryName);
        Directory.CreateDirectory(staging);
        var config = LoadYaml(Yaml(storage: $"  filesystem:\n    rootdirectory: {Quoted(root)}\n")).Configuration;

        var exception = Assert.Throws<StartupException>(() =>
            StartupValidation.Validate(config, (path, access) => path == staging && access.HasFlag(StorageRootCheck.Access.Write) ? EACCES : 0));

        Assert.Equal($"cannot write the storage root {root} ({staging}: permission denied); {RootAdvice}", exception.Message);
    }

    [Fact]
    public void Validate_RootOnAReadOnlyFilesystem_SaysSo()
    {
        var root = _pki.Path("root");
        Directory.CreateDirectory(root);
        var config = LoadYaml(Yaml(storage: $"  filesystem:\n    rootdirectory: {Quoted(root)}\n")).Configuration;

        var exception = Assert.Throws<StartupException>(() => StartupValidation.Validate(config, (_, access) => access.HasFlag(StorageRootCheck.Access.Write) ? EROFS : 0));

        Assert.Equal($"cannot write the storage root {root} (read-only file system); {RootAdvice}", exception.Message);
    }

    private const int EACCES = 13;
    private const int EROFS = 30;

    private static int DenyWrites(string path, StorageRootCheck.Access access) => access.HasFlag(StorageRootCheck.Access.Write) ? EACCES : 0;

    private static async Task<Outcome> CheckAsync(string path, IReadOnlyDictionary<string, string> environment)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await ConfigCheckCommand.RunAsync(["check", path], environment, output, error, CancellationToken.None);
        return new Outcome(exitCode, error.ToString());
    }

    /// <summary>Runs serve; once it listens, asks <c>GET /v2/</c> on its first address and stops it.</summary>
    private static async Task<Outcome> ServeAsync(string path, IReadOnlyDictionary<string, string> environment)
    {
        using var error = new StringWriter();
        using var stop = new CancellationTokenSource();
        var listening = new TaskCompletionSource<IReadOnlyList<string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var serve = ServeCommand.RunAsync(path, environment, error, stop.Token, addresses => listening.TrySetResult(addresses));

        var first = await Task.WhenAny(serve, listening.Task).WaitAsync(TimeSpan.FromSeconds(60));
        IReadOnlyList<string>? addresses = null;
        int? status = null;
        if (first == listening.Task)
        {
            addresses = await listening.Task;
            try
            {
                status = await StatusOfV2Async(addresses[0]);
            }
            finally
            {
                await stop.CancelAsync();
            }
        }

        var exitCode = await serve.WaitAsync(TimeSpan.FromSeconds(60));
        return new Outcome(exitCode, error.ToString(), addresses, status);
    }

    private static async Task<int?> StatusOfV2Async(string address)
    {
        if (address.StartsWith("http://unix:", StringComparison.Ordinal))
        {
            return null;
        }

        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        using var response = await client.GetAsync(new Uri(new Uri(address), "/v2/"));
        return (int)response.StatusCode;
    }

    /// <summary>The real <c>berth</c> executable of this build, with no <c>REGISTRY_*</c> variable of the machine.</summary>
    private static async Task<(int ExitCode, string Output, string Error)> RunBerthAsync(params string[] arguments)
    {
        var host = System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath) ? hostPath : "dotnet";
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "berth.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var variable in start.Environment.Keys.Where(name => name.StartsWith("REGISTRY_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(variable);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await output, await error);
    }
}
