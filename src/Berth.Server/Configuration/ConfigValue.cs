using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Berth.Server.Configuration;

/// <summary>
/// One configuration key as the binder sees it: the YAML node that is in force for it (from the file, or from the
/// <c>REGISTRY_*</c> variable that overrides it), the variables that override keys beneath it, and typed
/// conversions that fail with a message naming the key.
/// </summary>
/// <remarks>
/// An absent key and a YAML null (<c>key:</c>, <c>~</c>, <c>null</c>) both mean "use the default", as a zero value
/// does in Distribution's Go structs. So does an empty string for the string readers: Distribution cannot tell
/// <c>""</c> from unset either.
/// </remarks>
internal sealed class ConfigValue
{
    private static readonly string[] TrueWords = ["true", "yes", "on", "y", "t", "1"];
    private static readonly string[] FalseWords = ["false", "no", "off", "n", "f", "0"];

    internal ConfigValue(BindingContext context, string key, YamlNode? node, string? variable, EnvironmentOverride? overrides)
    {
        Context = context;
        Key = key;
        Node = IsNull(node) ? null : node;
        Variable = variable;
        Overrides = overrides;
    }

    /// <summary>The dotted key (<c>storage.s3.bucket</c>; list items are numbered: <c>notifications.endpoints.0</c>).</summary>
    public string Key { get; }

    /// <summary>The node in force, or null when the key is absent or null.</summary>
    public YamlNode? Node { get; }

    /// <summary>The variable that supplied <see cref="Node"/>, or null when it came from the file.</summary>
    public string? Variable { get; }

    /// <summary>Variables that set keys beneath this one.</summary>
    public EnvironmentOverride? Overrides { get; }

    internal BindingContext Context { get; }

    /// <summary>True when the key has a value or any variable sets something beneath it.</summary>
    public bool IsSet => Node is not null || Overrides?.Children.Any() == true;

    /// <summary>A description of where the value came from, or null when it is a default.</summary>
    public string? Origin => Context.DescribeOrigin(Node, Variable);

    /// <summary>An exception naming this key and where its value came from.</summary>
    public ConfigurationException Invalid(string detail) => ConfigurationException.ForKey(Key, detail, Origin);

    /// <summary>Records a warning about this key.</summary>
    public void Warn(string detail)
    {
        var origin = Origin;
        Context.Warnings.Add(origin is null ? $"{Key}: {detail}" : $"{Key}: {detail} ({origin})");
    }

    /// <summary>The value as text, or null when unset or empty.</summary>
    public string? AsString()
    {
        var text = ScalarText("a string");
        return string.IsNullOrEmpty(text) ? null : text;
    }

    /// <summary>The value as text, or <paramref name="defaultValue"/> when unset or empty.</summary>
    public string AsString(string defaultValue) => AsString() ?? defaultValue;

    /// <summary>The value as text; fails with <paramref name="requirement"/> when unset or empty.</summary>
    public string AsRequiredString(string requirement) => AsString() ?? throw Invalid(requirement);

    /// <summary>
    /// The value as a boolean. YAML 1.1 words (yes/no/on/off) and Go's <c>strconv.ParseBool</c> forms are
    /// accepted as well as true/false, since Distribution's parsers accept one or the other depending on the key.
    /// </summary>
    public bool AsBool(bool defaultValue = false)
    {
        var text = ScalarText("a boolean");
        if (text is null)
        {
            return defaultValue;
        }

        if (TrueWords.Contains(text, StringComparer.OrdinalIgnoreCase))
        {
            return true;
        }

        if (FalseWords.Contains(text, StringComparer.OrdinalIgnoreCase))
        {
            return false;
        }

        throw Invalid($"expected a boolean, got '{text}'");
    }

    /// <summary>The value as a 64-bit integer within [<paramref name="minimum"/>, <paramref name="maximum"/>].</summary>
    public long AsInt64(long defaultValue, long minimum = long.MinValue, long maximum = long.MaxValue) =>
        ReadInteger(defaultValue, minimum, maximum, long.MinValue, long.MaxValue);

    /// <summary>The value as a 32-bit integer within [<paramref name="minimum"/>, <paramref name="maximum"/>].</summary>
    public int AsInt32(int defaultValue, int minimum = int.MinValue, int maximum = int.MaxValue) =>
        (int)ReadInteger(defaultValue, minimum, maximum, int.MinValue, int.MaxValue);

    /// <summary>
    /// The value as a non-negative duration written the Go way (<c>10s</c>, <c>1h30m</c>). A bare integer is
    /// read as nanoseconds, which is what Distribution's YAML library does with it, with a warning because it is
    /// almost never what was meant.
    /// </summary>
    public TimeSpan AsDuration(TimeSpan defaultValue) => AsOptionalDuration() ?? defaultValue;

    /// <summary>Like <see cref="AsDuration(TimeSpan)"/>, but null when unset.</summary>
    public TimeSpan? AsOptionalDuration()
    {
        var text = ScalarText("a duration");
        if (text is null)
        {
            return null;
        }

        TimeSpan duration;
        if (GoDuration.TryParse(text, out var parsed))
        {
            duration = parsed;
        }
        else if (TryParseInteger(text, out var nanoseconds))
        {
            duration = TimeSpan.FromTicks(nanoseconds / 100);
            Warn($"'{text}' has no unit and is read as {text} nanoseconds; write a unit, e.g. '{text}s'");
        }
        else
        {
            throw Invalid($"expected a duration such as '10s', '5m' or '1h30m', got '{text}'");
        }

        if (duration < TimeSpan.Zero)
        {
            throw Invalid($"must not be negative, got '{text}'");
        }

        return duration;
    }

    /// <summary>
    /// The value as one of <paramref name="allowed"/> (compared case-insensitively, returned as spelled in
    /// <paramref name="allowed"/>), or null when unset.
    /// </summary>
    public string? AsChoice(IReadOnlyList<string> allowed)
    {
        var text = AsString();
        if (text is null)
        {
            return null;
        }

        return allowed.FirstOrDefault(choice => string.Equals(choice, text, StringComparison.OrdinalIgnoreCase))
            ?? throw Invalid($"expected one of {string.Join(", ", allowed)}, got '{text}'");
    }

    /// <summary>Like <see cref="AsChoice(IReadOnlyList{string})"/> with a default for unset.</summary>
    public string AsChoice(string defaultValue, IReadOnlyList<string> allowed) => AsChoice(allowed) ?? defaultValue;

    /// <summary>The value as an absolute http or https URL, or null when unset.</summary>
    public Uri? AsHttpUrl()
    {
        var text = AsString();
        if (text is null)
        {
            return null;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw Invalid($"expected an absolute http or https URL, got '{text}'");
        }

        return url;
    }

    /// <summary>
    /// Binds this key as a section (a YAML mapping). An unset key binds as an empty section so that
    /// <paramref name="read"/> fills in every default; keys <paramref name="read"/> does not ask for are reported
    /// as unknown.
    /// </summary>
    public T AsSection<T>(Func<SectionReader, T> read)
    {
        var mapping = Node switch
        {
            null => null,
            YamlMappingNode map => map,
            _ => throw Invalid($"expected a section (a YAML mapping), got {Describe(Node)}"),
        };

        var section = new SectionReader(this, mapping);
        var result = read(section);
        section.WarnAboutUnreadKeys();
        return result;
    }

    /// <summary>
    /// Binds a section whose single key names a driver (<c>storage</c>, <c>auth</c>). As in Distribution, a scalar
    /// is shorthand for that driver with no parameters: <c>storage: inmemory</c> means <c>storage: {inmemory: {}}</c>,
    /// which is also how <c>REGISTRY_STORAGE=s3</c> replaces the whole section.
    /// </summary>
    public T AsDriverSection<T>(Func<SectionReader, T> read)
    {
        if (Node is YamlScalarNode { Value: { } driverName })
        {
            var shorthand = new YamlMappingNode { { new YamlScalarNode(driverName), new YamlScalarNode(string.Empty) } };
            return new ConfigValue(Context, Key, shorthand, Variable, Overrides).AsSection(read);
        }

        return AsSection(read);
    }

    /// <summary>
    /// Binds this key as a list. A variable whose last segment is an index (<c>REGISTRY_HTTP_TLS_CLIENTCAS_0</c>)
    /// replaces that item, or appends one when the index equals the list's length, as in Distribution.
    /// </summary>
    /// <param name="readItem">Binds one item.</param>
    /// <param name="allowSingleValue">Read a scalar as a one-item list instead of failing.</param>
    public IReadOnlyList<T> AsList<T>(Func<ConfigValue, T> readItem, bool allowSingleValue = false)
    {
        var items = new List<ConfigValue>();
        switch (Node)
        {
            case null:
                break;
            case YamlSequenceNode sequence:
                foreach (var item in sequence.Children)
                {
                    items.Add(new ConfigValue(Context, $"{Key}.{items.Count}", item, Variable, overrides: null));
                }

                break;
            case YamlScalarNode when allowSingleValue:
                items.Add(new ConfigValue(Context, $"{Key}.0", Node, Variable, overrides: null));
                break;
            default:
                throw Invalid($"expected a list, got {Describe(Node)}");
        }

        foreach (var (index, itemOverride) in IndexedOverrides())
        {
            if (index > items.Count)
            {
                throw ConfigurationException.ForKey(
                    $"{Key}.{index}",
                    $"cannot set item {index} of a list that has {items.Count} item(s); set the items in order from {items.Count}",
                    $"from {FirstVariable(itemOverride)}");
            }

            var existing = index < items.Count ? items[index] : null;
            if (itemOverride.Variable is not null)
            {
                itemOverride.MarkUsed();
            }

            var item = itemOverride.Variable is not null
                ? new ConfigValue(Context, $"{Key}.{index}", itemOverride.Value, itemOverride.Variable, itemOverride)
                : new ConfigValue(Context, $"{Key}.{index}", existing?.Node, existing?.Variable, itemOverride);
            if (existing is null)
            {
                items.Add(item);
            }
            else
            {
                items[index] = item;
            }
        }

        return items.Select(readItem).ToList();
    }

    /// <summary>Binds this key as a list of strings; empty items are rejected.</summary>
    public IReadOnlyList<string> AsStringList(bool allowSingleValue = false) =>
        AsList(item => item.AsRequiredString("a list item must not be empty"), allowSingleValue);

    /// <summary>
    /// Binds this key as a map with free-form keys (<c>log.fields</c>, <c>http.headers</c>). Keys set only by a
    /// variable are lower-cased, since variable names carry no case; a variable overrides a file key that
    /// matches it case-insensitively.
    /// </summary>
    public IReadOnlyDictionary<string, T> AsMap<T>(Func<ConfigValue, T> readValue, IEqualityComparer<string>? keyComparer = null) =>
        AsSection(section =>
        {
            section.KeysAreNames();
            var map = new Dictionary<string, T>(keyComparer ?? StringComparer.Ordinal);
            foreach (var key in section.PresentKeys)
            {
                map[key] = readValue(section[key]);
            }

            return (IReadOnlyDictionary<string, T>)map;
        });

    /// <summary>Binds a map of header names to values (a list, or a single value), as in <c>http.headers</c>.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> AsHeaders() =>
        AsMap(value => value.AsStringList(allowSingleValue: true), StringComparer.OrdinalIgnoreCase);

    /// <summary>Marks this key's variables as handled and warns, when the key is set, that Berth ignores it.</summary>
    public void Ignore(string reason)
    {
        Overrides?.MarkAllUsed();
        if (IsSet)
        {
            Warn($"{reason}; ignored");
        }
    }

    /// <summary>Fails, when the key is set, with <paramref name="reason"/>: Berth cannot do what it asks for.</summary>
    public void Refuse(string reason)
    {
        Overrides?.MarkAllUsed();
        if (IsSet)
        {
            throw Invalid(reason);
        }
    }

    /// <summary>True when the key is set to something other than an empty list or an empty section.</summary>
    public bool HasContent => IsSet && Node switch
    {
        YamlSequenceNode sequence => sequence.Children.Count > 0 || Overrides?.Children.Any() == true,
        YamlMappingNode mapping => mapping.Children.Count > 0 || Overrides?.Children.Any() == true,
        _ => true,
    };

    private long ReadInteger(long defaultValue, long minimum, long maximum, long typeMinimum, long typeMaximum)
    {
        var text = ScalarText("an integer");
        if (text is null)
        {
            return defaultValue;
        }

        if (!TryParseInteger(text, out var number))
        {
            throw Invalid($"expected an integer, got '{text}'");
        }

        if (number >= minimum && number <= maximum)
        {
            return number;
        }

        // Name only the bounds the key has; the type's own limits are mentioned only when nothing else applies.
        var hasMinimum = minimum > typeMinimum;
        var hasMaximum = maximum < typeMaximum;
        throw Invalid((hasMinimum, hasMaximum) switch
        {
            (true, false) when number < minimum => $"must be at least {minimum}, got {number}",
            (false, true) when number > maximum => $"must be at most {maximum}, got {number}",
            _ => $"must be between {minimum} and {maximum}, got {number}",
        });
    }

    internal static bool IsNull(YamlNode? node) =>
        node is null
        || (node is YamlScalarNode scalar
            && scalar.Style is ScalarStyle.Plain or ScalarStyle.Any
            && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL");

    private string? ScalarText(string expected) =>
        Node switch
        {
            null => null,
            YamlScalarNode scalar => scalar.Value,
            _ => throw Invalid($"expected {expected}, got {Describe(Node)}"),
        };

    private IEnumerable<(int Index, EnvironmentOverride Override)> IndexedOverrides()
    {
        if (Overrides is null)
        {
            return [];
        }

        // Segments that are not indexes stay unused, and are reported as ignored variables.
        return Overrides.Children
            .Select(child => (Parsed: int.TryParse(child.Segment, NumberStyles.None, CultureInfo.InvariantCulture, out var index), Index: index, Override: child))
            .Where(candidate => candidate.Parsed)
            .OrderBy(candidate => candidate.Index)
            .Select(candidate => (candidate.Index, candidate.Override))
            .ToList();
    }

    private static string FirstVariable(EnvironmentOverride node) =>
        node.Variable ?? node.Children.Select(FirstVariable).First();

    private static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a section (a YAML mapping)",
        YamlSequenceNode => "a list",
        YamlScalarNode scalar => $"'{scalar.Value}'",
        _ => "an unsupported YAML node",
    };

    // YAML 1.1 integers as Go's YAML library reads them: optional sign, underscores as separators, 0x/0b prefixes.
    private static bool TryParseInteger(string text, out long value)
    {
        value = 0;
        var digits = text.Replace("_", string.Empty, StringComparison.Ordinal);
        var negative = digits.StartsWith('-');
        if (negative || digits.StartsWith('+'))
        {
            digits = digits[1..];
        }

        ulong magnitude;
        bool parsed;
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            parsed = ulong.TryParse(digits.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out magnitude);
        }
        else if (digits.StartsWith("0b", StringComparison.OrdinalIgnoreCase))
        {
            parsed = ulong.TryParse(digits.AsSpan(2), NumberStyles.AllowBinarySpecifier, CultureInfo.InvariantCulture, out magnitude);
        }
        else
        {
            parsed = ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out magnitude);
        }

        if (!parsed || magnitude > (negative ? (ulong)long.MaxValue + 1 : long.MaxValue))
        {
            return false;
        }

        value = negative ? unchecked((long)(0UL - magnitude)) : (long)magnitude;
        return true;
    }
}
