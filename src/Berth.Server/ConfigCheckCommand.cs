using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;
using Berth.Server.Configuration;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Berth.Server;

/// <summary>
/// <c>berth config check [--strict] [CONFIG]</c>: loads a configuration exactly as <c>berth serve</c> does (the file,
/// then the <c>REGISTRY_*</c> variables), runs the checks <c>serve</c> runs before it listens
/// (<see cref="StartupValidation"/>), prints the effective configuration as YAML with secrets masked, and lists the
/// warnings. Exit code 0 when <c>serve</c> would start, 1 when it would refuse, with the line <c>serve</c> prints (or,
/// with <c>--strict</c>, when there are warnings), 2 for a usage error.
/// </summary>
/// <remarks>
/// <para>The effective configuration goes to standard output so it can be saved or diffed; warnings and the verdict go
/// to standard error.</para>
/// <para>The checks read the files the configuration names (certificates, keys, client CAs, htpasswd, token keys, Redis
/// TLS files) and ask whether this user can write the storage root, so run it where, and as whom, the registry runs.
/// Nothing is created, bound or contacted: a port in use, S3 or Redis out of reach are for <c>serve</c> to meet.</para>
/// </remarks>
public static class ConfigCheckCommand
{
    /// <summary>What a masked value prints as; the same for every secret, so the output reveals no length.</summary>
    public const string Mask = "********";

    /// <summary>The usage text of <c>berth config</c>.</summary>
    public const string Usage = """
        Usage: berth config check [--strict] [CONFIG]

        Loads CONFIG (else REGISTRY_CONFIGURATION_PATH, else the defaults) with the REGISTRY_* environment
        variables on top, exactly as `berth serve` does, runs the checks serve runs before it listens (the
        listen addresses, TLS files and that the key matches, client CAs, the htpasswd file, token keys, the
        storage root or S3/Azure options, Redis TLS files), and prints the effective configuration as YAML with
        secrets masked. Warnings (unknown keys, ignored settings) go to standard error. It reads the files
        the configuration names and checks the storage root as the user running it; it creates nothing and
        contacts nothing (S3, Azure, Redis, notification endpoints are not reached).

          --strict   exit 1 when there are warnings, not only when the configuration is invalid

        Exit code: 0 valid, 1 invalid (or warnings with --strict), 2 usage error.

        """;

    // Keys whose whole value is a secret, wherever they appear (http.secret, redis.password, proxy.password,
    // storage.azure.accountkey...).
    private static readonly string[] SecretKeyFragments = ["password", "secret", "accountkey", "connectionstring"];

    // Request headers Berth sends (notification endpoints, HTTP health checks) typically carry credentials
    // (Authorization, API keys, signatures); only these well-known harmless ones are shown as they are.
    private static readonly HashSet<string> HarmlessRequestHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Accept", "Content-Type", "User-Agent", "Cache-Control",
    };

    // Properties that are derived from other keys rather than being keys themselves.
    private static readonly HashSet<string> DerivedProperties = new(StringComparer.Ordinal)
    {
        nameof(AccessOptions.HasPolicy),
    };

    /// <summary>Runs the command with the arguments after <c>config</c>.</summary>
    public static async Task<int> RunAsync(
        IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);

        if (args is ["-h" or "--help" or "help", ..] or ["check", "-h" or "--help"])
        {
            await output.WriteAsync(Usage.AsMemory(), cancellationToken);
            return 0;
        }

        if (args.Count == 0 || args[0] != "check")
        {
            await error.WriteLineAsync($"berth config: expected 'check', got '{(args.Count == 0 ? "" : args[0])}'".AsMemory(), cancellationToken);
            await error.WriteAsync(Usage.AsMemory(), cancellationToken);
            return 2;
        }

        var strict = false;
        string? path = null;
        foreach (var argument in args.Skip(1))
        {
            if (argument == "--strict")
            {
                strict = true;
            }
            else if (argument.StartsWith('-') || path is not null)
            {
                await error.WriteLineAsync($"berth config check: unexpected argument '{argument}'".AsMemory(), cancellationToken);
                await error.WriteAsync(Usage.AsMemory(), cancellationToken);
                return 2;
            }
            else
            {
                path = argument;
            }
        }

        ConfigurationLoadResult loaded;
        StartupPlan plan;
        try
        {
            loaded = ConfigurationLoader.Load(path, environment);
            plan = StartupValidation.Validate(loaded.Configuration);
        }
        catch (Exception exception) when (StartupValidation.FailureLine(exception) is { } line)
        {
            await error.WriteLineAsync(line.AsMemory(), cancellationToken);
            return 1;
        }

        await output.WriteAsync(RenderEffectiveYaml(loaded.Configuration).AsMemory(), cancellationToken);
        var warnings = loaded.Warnings.Concat(plan.Warnings).ToList();
        foreach (var warning in warnings)
        {
            await error.WriteLineAsync($"warning: {warning}".AsMemory(), cancellationToken);
        }

        await error.WriteLineAsync($"mode: {StartupSummary.DescribeMode(loaded.Configuration.Proxy)}".AsMemory(), cancellationToken);
        await error.WriteLineAsync($"tracing: {loaded.Configuration.Tracing.Describe()}".AsMemory(), cancellationToken);
        var source = loaded.SourcePath ?? "the built-in defaults";
        var verdict = warnings.Count switch
        {
            0 => $"berth: {source}: configuration is valid",
            1 => $"berth: {source}: configuration is valid, with 1 warning",
            var count => $"berth: {source}: configuration is valid, with {count} warnings",
        };
        await error.WriteLineAsync(verdict.AsMemory(), cancellationToken);
        return strict && warnings.Count > 0 ? 1 : 0;
    }

    /// <summary>The configuration as registry:2-style YAML (defaults filled in), secrets masked.</summary>
    public static string RenderEffectiveYaml(RegistryConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var root = new YamlMappingNode();
        foreach (var property in ConfigurationProperties(typeof(RegistryConfiguration)))
        {
            var key = property.Name.ToLowerInvariant();
            var value = property.GetValue(configuration);
            var node = property.Name switch
            {
                nameof(RegistryConfiguration.Storage) => StorageNode(configuration.Storage),
                nameof(RegistryConfiguration.Auth) => AuthNode(configuration.Auth),
                nameof(RegistryConfiguration.Access) => AccessNode(configuration.Access),
                nameof(RegistryConfiguration.Validation) => ValidationNode(configuration.Validation),
                nameof(RegistryConfiguration.Retention) => RetentionNode(configuration.Retention),
                nameof(RegistryConfiguration.ImmutableTags) => ImmutableTagsNode(configuration.ImmutableTags),
                _ => ToNode(value, key),
            };
            if (node is not null)
            {
                root.Add(key, node);
            }
        }

        var text = new StringBuilder();
        using (var writer = new StringWriter(text, CultureInfo.InvariantCulture))
        {
            new YamlStream(new YamlDocument(root)).Save(writer, assignAnchors: false);
        }

        // YamlStream ends every document with an explicit "..." marker, which reads as noise in a terminal.
        var yaml = text.ToString().TrimEnd();
        if (yaml.EndsWith("...", StringComparison.Ordinal))
        {
            yaml = yaml[..^3].TrimEnd();
        }

        return yaml + "\n";
    }

    /// <summary>
    /// <c>storage</c> as registry:2 writes it: the selected driver as a section of its own next to the
    /// registry-wide keys (the options always carry a filesystem section, even for other drivers).
    /// </summary>
    private static YamlMappingNode StorageNode(StorageOptions storage)
    {
        var node = new YamlMappingNode();
        var driverNode = storage.Driver switch
        {
            StorageOptions.FilesystemDriver => ToNode(storage.Filesystem, "storage.filesystem"),
            StorageOptions.S3Driver => ToNode(storage.S3, "storage.s3"),
            StorageOptions.AzureDriver => ToNode(storage.Azure, "storage.azure"),
            _ => new YamlMappingNode(),
        };
        node.Add(storage.Driver, driverNode ?? new YamlMappingNode());
        foreach (var property in ConfigurationProperties(typeof(StorageOptions)))
        {
            if (property.Name is nameof(StorageOptions.Driver) or nameof(StorageOptions.Filesystem) or nameof(StorageOptions.S3)
                or nameof(StorageOptions.Azure))
            {
                continue;
            }

            var key = property.Name.ToLowerInvariant();
            if (ToNode(property.GetValue(storage), $"storage.{key}") is { } child)
            {
                node.Add(key, child);
            }
        }

        return node;
    }

    /// <summary><c>retention</c> in its configuration spelling (the rules are parsed policy objects, not options records).</summary>
    private static YamlMappingNode RetentionNode(RetentionOptions retention)
    {
        var rules = new YamlSequenceNode();
        foreach (var rule in retention.Rules)
        {
            var keep = new YamlMappingNode();
            AddIfSet(keep, "latest", rule.KeepLatest?.ToString(CultureInfo.InvariantCulture));
            AddIfSet(keep, "pushedwithin", rule.KeepPushedWithin is { } pushed ? FormatGoDuration(pushed) : null);
            AddIfSet(keep, "pulledwithin", rule.KeepPulledWithin is { } pulled ? FormatGoDuration(pulled) : null);
            if (rule.KeepTags is { Count: > 0 } tags)
            {
                keep.Add("tags", new YamlSequenceNode(tags.Select(t => (YamlNode)Scalar(t.Text))));
            }

            var node = new YamlMappingNode { { "repositories", new YamlSequenceNode(rule.Repositories.Patterns.Select(p => (YamlNode)Scalar(p))) } };
            if (keep.Children.Count > 0)
            {
                node.Add("keep", keep);
            }

            AddIfSet(node, "untagged", rule.UntaggedAfter is { } untagged ? FormatGoDuration(untagged) : null);
            rules.Add(node);
        }

        return new YamlMappingNode
        {
            { "enabled", Scalar(retention.Enabled ? "true" : "false") },
            { "dryrun", Scalar(retention.DryRun ? "true" : "false") },
            { "graceperiod", Scalar(FormatGoDuration(retention.GracePeriod)) },
            { "rules", rules },
            {
                "pulltimes", new YamlMappingNode
                {
                    { "flushinterval", Scalar(FormatGoDuration(retention.PullTimesFlushInterval)) },
                    { "replica", Scalar(retention.PullTimesReplica) },
                }
            },
        };

        static void AddIfSet(YamlMappingNode mapping, string key, string? value)
        {
            if (value is not null)
            {
                mapping.Add(key, Scalar(value));
            }
        }
    }

    /// <summary><c>immutabletags</c>: the list of rules as configured.</summary>
    private static YamlSequenceNode ImmutableTagsNode(Berth.Storage.Lifecycle.ImmutableTagPolicy policy) =>
        new(policy.Rules.Select(rule => (YamlNode)new YamlMappingNode
        {
            { "repositories", new YamlSequenceNode(rule.Repositories.Patterns.Select(p => (YamlNode)Scalar(p))) },
            { "tags", new YamlSequenceNode(rule.Tags.Select(t => (YamlNode)Scalar(t.Text))) },
        }));

    /// <summary><c>auth</c>: the one access controller's section, or nothing for anonymous access.</summary>
    private static YamlNode? AuthNode(AuthOptions auth)
    {
        object? parameters = auth.Type switch
        {
            AuthOptions.HtpasswdType => auth.Htpasswd,
            AuthOptions.TokenType => auth.Token,
            AuthOptions.SillyType => auth.Silly,
            _ => null,
        };
        if (auth.Type is null)
        {
            return null;
        }

        return new YamlMappingNode { { auth.Type, ToNode(parameters, $"auth.{auth.Type}") ?? new YamlMappingNode() } };
    }

    /// <summary>
    /// <c>access</c>: the rules only when some are configured, because rules, groups or a catalog section without
    /// htpasswd make the configuration invalid; printed defaults must load again.
    /// </summary>
    private static YamlNode? AccessNode(AccessOptions access)
    {
        if (access.HasPolicy)
        {
            return ToNode(access, "access");
        }

        return new YamlMappingNode { { "failedlogins", ToNode(access.FailedLogins, "access.failedlogins") ?? new YamlMappingNode() } };
    }

    /// <summary><c>validation</c> with <c>disabled</c>, the current key; <c>enabled</c> is deprecated and would warn.</summary>
    private static YamlMappingNode ValidationNode(ValidationOptions validation) => new()
    {
        { "disabled", Scalar(validation.Enabled ? "false" : "true") },
        { "manifests", ToNode(validation.Manifests, "validation.manifests") ?? new YamlMappingNode() },
    };

    /// <summary>
    /// One value as YAML, keyed by its dotted path (which decides masking). Options records become mappings of their
    /// properties, lower-cased as the configuration keys are; null values are left out, as a key that is not set.
    /// </summary>
    private static YamlNode? ToNode(object? value, string path)
    {
        switch (value)
        {
            case null:
                return null;
            case string text:
                return Scalar(MaskIfSecret(path, text));
            case bool flag:
                return Scalar(flag ? "true" : "false");
            case TimeSpan duration:
                return Scalar(FormatGoDuration(duration));
            case Uri uri:
                return Scalar(MaskIfSecret(path, uri.OriginalString));
            case Enum flags when flags.GetType().IsDefined(typeof(FlagsAttribute), inherit: false):
                return FlagsNode(flags);
            case Enum single:
                return Scalar(single.ToString().ToLowerInvariant());
            case IFormattable number when value.GetType().IsPrimitive || value is decimal:
                return Scalar(number.ToString(null, CultureInfo.InvariantCulture));
            case IDictionary dictionary:
                return DictionaryNode(dictionary, path);
            case IEnumerable items:
                var sequence = new YamlSequenceNode();
                var index = 0;
                foreach (var item in items)
                {
                    sequence.Add(ToNode(item, $"{path}.{index++}") ?? Scalar(string.Empty));
                }

                return sequence;
        }

        if (!IsOptionsRecord(value.GetType()))
        {
            // Parsed values (repository patterns, IP networks) print as the text they were read from.
            return Scalar(MaskIfSecret(path, value.ToString() ?? string.Empty));
        }

        var mapping = new YamlMappingNode();
        foreach (var property in ConfigurationProperties(value.GetType()))
        {
            var key = property.Name.ToLowerInvariant();
            if (ToNode(property.GetValue(value), $"{path}.{key}") is { } child)
            {
                mapping.Add(key, child);
            }
        }

        return mapping;
    }

    private static YamlMappingNode DictionaryNode(IDictionary dictionary, string path)
    {
        var mapping = new YamlMappingNode();
        var isRequestHeaders = IsRequestHeaders(path);
        foreach (DictionaryEntry entry in dictionary)
        {
            var key = Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? string.Empty;
            var node = isRequestHeaders && !HarmlessRequestHeaders.Contains(key)
                ? MaskedHeaderValues(entry.Value)
                : ToNode(entry.Value, $"{path}.{key.ToLowerInvariant()}");
            mapping.Add(key, node ?? Scalar(string.Empty));
        }

        return mapping;
    }

    private static YamlNode MaskedHeaderValues(object? values)
    {
        var sequence = new YamlSequenceNode();
        if (values is IEnumerable items and not string)
        {
            foreach (var _ in items)
            {
                sequence.Add(Scalar(Mask));
            }

            return sequence;
        }

        return Scalar(Mask);
    }

    private static YamlSequenceNode FlagsNode(Enum flags)
    {
        var sequence = new YamlSequenceNode { Style = SequenceStyle.Flow };
        var value = Convert.ToInt64(flags, CultureInfo.InvariantCulture);
        foreach (var candidate in Enum.GetValues(flags.GetType()).Cast<Enum>())
        {
            var bits = Convert.ToInt64(candidate, CultureInfo.InvariantCulture);
            // Single bits only: composite members such as All would repeat what the single ones say.
            if (bits != 0 && (bits & (bits - 1)) == 0 && (value & bits) == bits)
            {
                sequence.Add(Scalar(candidate.ToString().ToLowerInvariant()));
            }
        }

        return sequence;
    }

    /// <summary>Masks the whole value of a secret key; shows only the start of an S3 access key, which identifies the account.</summary>
    internal static string MaskIfSecret(string path, string value)
    {
        if (value.Length == 0)
        {
            return value;
        }

        var key = path[(path.LastIndexOf('.') + 1)..];
        if (SecretKeyFragments.Any(fragment => key.Contains(fragment, StringComparison.OrdinalIgnoreCase)))
        {
            return Mask;
        }

        if (key == "accesskey")
        {
            // Four characters name the key (AKIA... tells an AWS user key from a role's ASIA...) without revealing it.
            return value.Length >= 12 ? value[..4] + Mask : Mask;
        }

        return value;
    }

    // notifications.endpoints.N.headers and health.http.N.headers are sent by Berth to other servers.
    private static bool IsRequestHeaders(string path) =>
        path.EndsWith(".headers", StringComparison.Ordinal)
        && (path.StartsWith("notifications.", StringComparison.Ordinal) || path.StartsWith("health.", StringComparison.Ordinal));

    private static YamlScalarNode Scalar(string text) => new(text);

    private static IEnumerable<PropertyInfo> ConfigurationProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            // Settable properties are keys; get-only ones (TlsOptions.Enabled, RedisOptions.IsConfigured) are derived.
            .Where(property => property.CanWrite && property.GetIndexParameters().Length == 0
                && property.Name != "EqualityContract" && !DerivedProperties.Contains(property.Name)
                // Tracing comes from the OTEL_* variables, not from config.yml; its own line says what it is.
                && property.PropertyType != typeof(TracingOptions));

    // Records carry a compiler-generated clone method; the options and policy types are all records.
    private static bool IsOptionsRecord(Type type) =>
        type.GetMethod("<Clone>$", BindingFlags.Public | BindingFlags.Instance) is not null;

    /// <summary>A duration the way Go prints it, without zero units: <c>168h</c>, <c>1m30s</c>, <c>500ms</c>, <c>0s</c>.</summary>
    internal static string FormatGoDuration(TimeSpan duration)
    {
        if (duration == TimeSpan.Zero)
        {
            return "0s";
        }

        var text = new StringBuilder();
        if (duration < TimeSpan.Zero)
        {
            text.Append('-');
            duration = duration.Duration();
        }

        var hours = (long)duration.TotalHours;
        AppendUnit(text, hours, "h");
        AppendUnit(text, duration.Minutes, "m");
        AppendUnit(text, duration.Seconds, "s");
        AppendUnit(text, duration.Milliseconds, "ms");
        AppendUnit(text, duration.Microseconds, "us");
        return text.ToString();
    }

    private static void AppendUnit(StringBuilder text, long amount, string unit)
    {
        if (amount != 0)
        {
            text.Append(amount.ToString(CultureInfo.InvariantCulture)).Append(unit);
        }
    }
}
