using System.Globalization;
using System.Text.RegularExpressions;
using Berth.Server.Configuration;
using YamlDotNet.RepresentationModel;
using static Berth.Server.Tests.Configuration.ConfigurationTestFiles;

namespace Berth.Server.Tests.Configuration;

/// <summary>
/// docs/registry2-configuration-keys.md is true: each row's example gives the row's verdict when loaded, the counts
/// at the top match the rows, and every key the configuration binders read is on the page.
/// </summary>
public sealed partial class Registry2KeyVerdictTests
{
    private const string PagePath = "docs/registry2-configuration-keys.md";

    // Distribution registers its S3 driver as both s3 and s3aws.
    private const string S3AliasPrefix = "storage.s3aws.";

    // Keys a section needs before the row's key can be judged on its own: a storage driver, access controller or
    // list item with its required keys. Applied in this order, each when the row's key starts with its prefix;
    // the row's example is set last, over them.
    private static readonly (string Prefix, string Yaml)[] Prerequisites =
    [
        ("storage.s3.", "storage: {s3: {region: us-east-1, bucket: registry}}"),
        ("storage.azure.", "storage: {azure: {accountname: registry, accountkey: a2V5, container: registry}}"),
        ("storage.azure.credentials.", "storage: {azure: {credentials: {type: client_secret, clientid: c, tenantid: t, secret: s}}}"),
        ("auth.htpasswd.", "auth: {htpasswd: {realm: Registry, path: /auth/htpasswd}}"),
        ("auth.silly.", "auth: {silly: {realm: Registry, service: registry}}"),
        ("auth.token.", "auth: {token: {realm: 'https://auth.example.com/token', service: registry, issuer: auth.example.com, rootcertbundle: /certs/token.pem}}"),
        ("http.tls.certificate", "http: {tls: {key: /certs/registry.key}}"),
        ("http.tls.key", "http: {tls: {certificate: /certs/registry.crt}}"),
        ("notifications.endpoints[].", "notifications: {endpoints: [{name: audit, url: 'https://hooks.example.com/registry'}]}"),
        ("health.file[].", "health: {file: [{file: /srv/out-of-rotation}]}"),
        ("health.http[].", "health: {http: [{uri: 'http://upstream:8080/health'}]}"),
        ("health.tcp[].", "health: {tcp: [{addr: 'redis:6379'}]}"),
        // Credentials are for the upstream remoteurl names; without it they are refused.
        ("proxy.username", "proxy: {remoteurl: 'https://registry-1.docker.io'}"),
        ("proxy.password", "proxy: {remoteurl: 'https://registry-1.docker.io'}"),
        ("proxy.exec.", "proxy: {remoteurl: 'https://registry-1.docker.io', exec: {command: docker-credential-ecr-login}}"),
        ("proxy.upstreams[].", "proxy: {upstreams: [{prefix: hub, remoteurl: 'https://registry-1.docker.io'}]}"),
        ("proxy.upstreams[].exec.", "proxy: {upstreams: [{prefix: hub, remoteurl: 'https://registry-1.docker.io', exec: {command: docker-credential-ecr-login}}]}"),
        // Access rules, groups and catalog rules apply to htpasswd users.
        ("access.", "auth: {htpasswd: {realm: Registry, path: /auth/htpasswd}}"),
        ("access.rules[].", "access: {rules: [{repositories: ['team/**'], anonymous: [pull]}]}"),
        ("access.rules[].users", "access: {rules: [{actions: [pull]}]}"),
        ("access.rules[].groups", "access: {groups: {devs: [alice]}, rules: [{actions: [pull]}]}"),
        ("access.rules[].actions", "access: {rules: [{users: [alice]}]}"),
        ("access.catalog.groups", "access: {groups: {devs: [alice]}}"),
        // A quota needs both its patterns and its limit.
        ("quotas[].", "quotas: [{repositories: ['team/**'], limit: 1GiB}]"),
        // Scheduled retention runs before online garbage collection, deletes, and needs a rule.
        ("retention.enabled", "storage: {filesystem: {rootdirectory: /var/lib/registry}, delete: {enabled: true}, maintenance: {garbagecollection: {enabled: true}}}"),
        ("retention.enabled", "retention: {rules: [{repositories: ['team/**'], untagged: 168h}]}"),
        ("retention.rules[].", "retention: {rules: [{repositories: ['team/**'], untagged: 168h}]}"),
        ("immutabletags[].", "immutabletags: [{repositories: ['prod/**'], tags: ['v*']}]"),
    ];

    private static readonly Lazy<Page> Documented = new(Page.Read);

    /// <summary>Every key of both tables, one test case each.</summary>
    public static TheoryData<string> DocumentedKeys => [.. Documented.Value.Rows.Select(row => row.Key)];

    [Theory]
    [MemberData(nameof(DocumentedKeys))]
    public void Load_DocumentedKeyWithItsExample_GivesTheDocumentedVerdict(string key)
    {
        var row = Documented.Value.Rows.Single(candidate => candidate.Key == key);
        var yaml = ConfigYaml(row);

        switch (row.Verdict)
        {
            case "honoured":
            {
                var result = LoadYaml(yaml);
                Assert.True(result.KeysRead.Contains(key), $"{key}: no binder reads it, so it is unknown and ignored\n{yaml}");
                var related = result.Warnings.Where(warning => Related(WarningKey(warning), key)).ToList();
                Assert.True(related.Count == 0, $"{key}: honoured, but warned about: {string.Join("; ", related)}\n{yaml}");
                break;
            }

            case "deprecated":
            {
                var result = LoadYaml(yaml);
                Assert.True(result.KeysRead.Contains(key), $"{key}: no binder reads it\n{yaml}");
                Assert.Contains(result.Warnings, warning => WarningKey(warning) == key && warning.Contains("deprecated", StringComparison.Ordinal));
                break;
            }

            case "warned":
            {
                var result = LoadYaml(yaml);
                var warning = result.Warnings.FirstOrDefault(candidate => IsSameOrAncestor(WarningKey(candidate), key));
                Assert.True(warning is not null, $"{key}: no warning names it; warnings: {string.Join("; ", result.Warnings)}\n{yaml}");
                // An unknown key is warned about too, but that means no binder knows it: the verdict would be an accident.
                Assert.DoesNotContain("unknown configuration key", warning, StringComparison.Ordinal);
                break;
            }

            case "refused":
            {
                var exception = Assert.Throws<ConfigurationException>(() => LoadYaml(yaml));
                Assert.True(exception.Key is not null && IsSameOrAncestor(BindingContext.SchemaKey(exception.Key), key),
                    $"{key}: refused, but the message names another key: {exception.Message}\n{yaml}");
                break;
            }

            default:
                Assert.Fail($"{key}: unknown verdict '{row.Verdict}'");
                break;
        }
    }

    [Fact]
    public void KeysRead_EveryKeyTheBindersRead_IsOnThePage()
    {
        // The binders read a section's keys whenever they bind the section, and the examples between them bind
        // every section, driver, access controller and list item there is; so this is every key Berth knows.
        var keysRead = new SortedSet<string>(ConfigurationLoader.Load(null, NoEnvironment).KeysRead, StringComparer.Ordinal);
        foreach (var row in Documented.Value.Rows)
        {
            try
            {
                keysRead.UnionWith(LoadYaml(ConfigYaml(row)).KeysRead);
            }
            catch (ConfigurationException)
            {
                // A refused key: its row's own test checks the refusal.
            }
        }

        var documented = Documented.Value.Rows.Select(row => row.Key).ToList();
        var undocumented = keysRead
            // The page lists the S3 driver's keys once, under its main name.
            .Select(read => read.StartsWith(S3AliasPrefix, StringComparison.Ordinal) ? "storage.s3." + read[S3AliasPrefix.Length..] : read)
            .Where(read => !documented.Any(key => IsSameOrAncestor(read, key)))
            .ToList();

        Assert.True(undocumented.Count == 0, $"Keys Berth reads but {PagePath} does not list: {string.Join(", ", undocumented)}");
    }

    [Fact]
    public void Page_Counts_MatchTheTables()
    {
        var page = Documented.Value;
        var registry = page.Rows.Where(row => !row.IsBerthKey).ToList();
        var match = CountsPattern().Match(page.Text);

        Assert.True(match.Success, $"{PagePath} has no counts line such as: **N keys of registry:2**: N honoured, N deprecated, N warned, N refused. **N keys of Berth's own**, all honoured.");
        int Count(string group) => int.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture);
        Assert.Equal(registry.Count, Count("total"));
        Assert.Equal(registry.Count(row => row.Verdict == "honoured"), Count("honoured"));
        Assert.Equal(registry.Count(row => row.Verdict == "deprecated"), Count("deprecated"));
        Assert.Equal(registry.Count(row => row.Verdict == "warned"), Count("warned"));
        Assert.Equal(registry.Count(row => row.Verdict == "refused"), Count("refused"));
        Assert.Equal(page.Rows.Count(row => row.IsBerthKey), Count("berth"));
        Assert.All(page.Rows.Where(row => row.IsBerthKey), row => Assert.Equal("honoured", row.Verdict));
    }

    [Fact]
    public void Page_EveryKey_IsListedOnce()
    {
        var duplicates = Documented.Value.Rows.GroupBy(row => row.Key).Where(group => group.Count() > 1).Select(group => group.Key);

        Assert.Empty(duplicates);
    }

    /// <summary>A config.yml with the row's example at its key, on top of <c>version: 0.1</c> and the prerequisites.</summary>
    private static string ConfigYaml(Row row)
    {
        var root = new YamlMappingNode { { "version", "0.1" } };
        foreach (var (prefix, yaml) in Prerequisites)
        {
            if (row.Key.StartsWith(prefix, StringComparison.Ordinal))
            {
                Merge(root, (YamlMappingNode)ParseYaml(yaml));
            }
        }

        if (row.Key != "version")
        {
            Set(root, row.Key, ParseYaml(row.Example));
        }

        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        new YamlStream(new YamlDocument(root)).Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    private static YamlNode ParseYaml(string text)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(text);
        stream.Load(reader);
        return stream.Documents[0].RootNode;
    }

    /// <summary>Puts <paramref name="value"/> at a dotted key; a segment ending in <c>[]</c> is the first item of a list.</summary>
    private static void Set(YamlMappingNode root, string key, YamlNode value)
    {
        var segments = key.Split('.');
        var mapping = root;
        foreach (var segment in segments[..^1])
        {
            var isList = segment.EndsWith("[]", StringComparison.Ordinal);
            var name = isList ? segment[..^2] : segment;
            if (isList)
            {
                if (!mapping.Children.TryGetValue(name, out var list) || list is not YamlSequenceNode sequence)
                {
                    sequence = [];
                    mapping.Children[name] = sequence;
                }

                if (sequence.Children.Count == 0)
                {
                    sequence.Add(new YamlMappingNode());
                }

                mapping = (YamlMappingNode)sequence.Children[0];
            }
            else
            {
                if (!mapping.Children.TryGetValue(name, out var child) || child is not YamlMappingNode childMapping)
                {
                    childMapping = [];
                    mapping.Children[name] = childMapping;
                }

                mapping = childMapping;
            }
        }

        mapping.Children[segments[^1]] = value;
    }

    private static void Merge(YamlMappingNode target, YamlMappingNode source)
    {
        foreach (var (key, value) in source.Children)
        {
            switch (target.Children.TryGetValue(key, out var existing) ? (existing, value) : (null, value))
            {
                case (YamlMappingNode existingMapping, YamlMappingNode sourceMapping):
                    Merge(existingMapping, sourceMapping);
                    break;
                case (YamlSequenceNode existingSequence, YamlSequenceNode sourceSequence):
                    for (var i = 0; i < sourceSequence.Children.Count; i++)
                    {
                        if (i < existingSequence.Children.Count
                            && existingSequence.Children[i] is YamlMappingNode existingItem && sourceSequence.Children[i] is YamlMappingNode sourceItem)
                        {
                            Merge(existingItem, sourceItem);
                        }
                        else if (i < existingSequence.Children.Count)
                        {
                            existingSequence.Children[i] = sourceSequence.Children[i];
                        }
                        else
                        {
                            existingSequence.Add(sourceSequence.Children[i]);
                        }
                    }

                    break;
                default:
                    target.Children[key] = value;
                    break;
            }
        }
    }

    /// <summary>The key a warning is about (<c>log.fields: ...</c>), list items written <c>[]</c>.</summary>
    private static string WarningKey(string warning)
    {
        var colon = warning.IndexOf(": ", StringComparison.Ordinal);
        return colon < 0 ? warning : BindingContext.SchemaKey(warning[..colon]);
    }

    /// <summary>True when <paramref name="candidate"/> is <paramref name="key"/> or a section that contains it.</summary>
    private static bool IsSameOrAncestor(string candidate, string key) =>
        candidate == key
        || key.StartsWith(candidate + ".", StringComparison.Ordinal)
        || key.StartsWith(candidate + "[]", StringComparison.Ordinal);

    private static bool Related(string warningKey, string key) => IsSameOrAncestor(warningKey, key) || IsSameOrAncestor(key, warningKey);

    [GeneratedRegex(@"\*\*(?<total>\d+) keys of registry:2\*\*: (?<honoured>\d+) honoured, (?<deprecated>\d+) deprecated, (?<warned>\d+) warned, (?<refused>\d+) refused\. \*\*(?<berth>\d+) keys of Berth's own\*\*, all honoured\.")]
    private static partial Regex CountsPattern();

    private sealed record Row(string Key, string Verdict, string Example, bool IsBerthKey);

    /// <summary>The page's two tables: registry:2's keys (with their 2.8 and 3.x columns), then Berth's own.</summary>
    private sealed record Page(string Text, IReadOnlyList<Row> Rows)
    {
        public static Page Read()
        {
            var text = File.ReadAllText(Path.Combine(RepositoryRoot(), PagePath));
            var rows = new List<Row>();
            string[]? header = null;
            foreach (var line in text.Split('\n').Select(line => line.TrimEnd('\r')))
            {
                if (!line.StartsWith('|'))
                {
                    header = null;
                    continue;
                }

                var cells = line.Trim().Trim('|').Split(" | ").Select(cell => cell.Trim()).ToArray();
                if (header is null)
                {
                    header = cells;
                    continue;
                }

                if (cells.All(cell => cell.Trim('-', ' ').Length == 0))
                {
                    continue;
                }

                Assert.True(cells.Length == header.Length, $"{PagePath}: this row has {cells.Length} cells, its table {header.Length}: {line}");
                string Cell(string name) => Code(cells[Array.IndexOf(header, name)]);
                rows.Add(new Row(Cell("key"), Cell("verdict"), Cell("example"), IsBerthKey: !header.Contains("2.8")));
            }

            Assert.NotEmpty(rows);
            return new Page(text, rows);
        }

        private static string Code(string cell) =>
            cell.Length >= 2 && cell.StartsWith('`') && cell.EndsWith('`') ? cell[1..^1] : cell;

        private static string RepositoryRoot()
        {
            for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Berth.slnx")))
                {
                    return directory.FullName;
                }
            }

            throw new InvalidOperationException($"No Berth.slnx above {AppContext.BaseDirectory}.");
        }
    }
}
