using YamlDotNet.RepresentationModel;

namespace Berth.Server.Configuration;

/// <summary>
/// A section being bound: hands out its keys as <see cref="ConfigValue"/>s, resolving each against the file and
/// the <c>REGISTRY_*</c> variables, and remembers which keys were asked for so that the others can be reported as
/// unknown. The binding code is therefore the schema: a key is known exactly when some binder reads it.
/// </summary>
internal sealed class SectionReader
{
    private readonly ConfigValue _section;
    private readonly Dictionary<string, KeyValuePair<YamlNode, YamlNode>> _fileEntries = new(StringComparer.Ordinal);
    private readonly HashSet<string> _readKeys = new(StringComparer.Ordinal);
    private string? _inlineEnvironmentGroup;
    private bool _keysAreNames;

    internal SectionReader(ConfigValue section, YamlMappingNode? mapping)
    {
        _section = section;
        foreach (var entry in mapping?.Children ?? Enumerable.Empty<KeyValuePair<YamlNode, YamlNode>>())
        {
            if (entry.Key is not YamlScalarNode { Value: { } name })
            {
                throw ConfigurationException.ForKey(section.Key.Length == 0 ? "(top level)" : section.Key, "keys must be plain strings", section.Context.DescribeOrigin(entry.Key, section.Variable));
            }

            if (!_fileEntries.TryAdd(name, entry))
            {
                throw ConfigurationException.ForKey(ChildKey(name), "duplicate key", section.Context.DescribeOrigin(entry.Key, section.Variable));
            }
        }
    }

    /// <summary>The section's dotted key; empty for the top level.</summary>
    public string Key => _section.Key;

    /// <summary>
    /// The keys present in this section, for sections whose keys are names rather than a fixed schema (maps, the
    /// storage and auth driver sections): the file's keys in order, then keys only a variable sets, lower-cased.
    /// </summary>
    public IReadOnlyList<string> PresentKeys
    {
        get
        {
            var keys = _fileEntries.Keys.ToList();
            foreach (var child in _section.Overrides?.Children ?? [])
            {
                if (!keys.Contains(child.Segment, StringComparer.OrdinalIgnoreCase))
                {
                    keys.Add(child.Segment.ToLowerInvariant());
                }
            }

            return keys;
        }
    }

    /// <summary>Reads <paramref name="key"/>; a variable for the key wins over the file.</summary>
    public ConfigValue this[string key] => Get(key);

    /// <summary>
    /// Reads <paramref name="key"/>. <paramref name="environmentName"/> is a second name accepted in variable names:
    /// Distribution derives those from its Go field names, which differ from the YAML key in a few places
    /// (<c>REGISTRY_NOTIFICATIONS_EVENTCONFIG_*</c> for <c>notifications.events</c>).
    /// </summary>
    public ConfigValue Get(string key, string? environmentName = null)
    {
        _readKeys.Add(key);
        if (!_keysAreNames)
        {
            _section.Context.RecordRead(ChildKey(key));
        }

        var overrides = _section.Overrides;
        var environment = overrides?.Child(key)
            ?? (environmentName is null ? null : overrides?.Child(environmentName))
            ?? (_inlineEnvironmentGroup is null ? null : overrides?.Child(_inlineEnvironmentGroup)?.Child(key))
            // A key spelt with underscores (storage.azure.max_retries) spans several segments of a variable's name.
            ?? (key.Contains('_', StringComparison.Ordinal) ? key.Split('_').Aggregate(overrides, (node, part) => node?.Child(part)) : null);

        if (environment?.Variable is not null)
        {
            environment.MarkUsed();
            return new ConfigValue(_section.Context, ChildKey(key), environment.Value, environment.Variable, environment);
        }

        // Distribution matches map keys case-insensitively; in fixed sections the file's key must be exact, as in
        // Go's YAML decoding, so a variable for a misspelt file key still lands on the real key.
        var fileValue = _fileEntries.TryGetValue(key, out var entry) ? entry.Value : null;
        return new ConfigValue(_section.Context, ChildKey(key), fileValue, _section.Variable, environment);
    }

    /// <summary>
    /// Also accepts variables that put <paramref name="group"/> between this section and its keys. Distribution's
    /// <c>redis</c> section inlines a Go struct named Options, so both <c>REGISTRY_REDIS_PASSWORD</c> and
    /// <c>REGISTRY_REDIS_OPTIONS_PASSWORD</c> work there.
    /// </summary>
    public void AcceptInlineEnvironmentGroup(string group) => _inlineEnvironmentGroup = group;

    /// <summary>
    /// This section is a map whose keys are names the user chose (<c>log.fields</c>, <c>http.headers</c>), not keys of
    /// the schema: they are not recorded in <see cref="BindingContext.KeysRead"/>.
    /// </summary>
    public void KeysAreNames() => _keysAreNames = true;

    /// <summary>
    /// A key Distribution knows but Berth does not act on, where ignoring it is harmless: warns when it is set, so it
    /// is neither ignored silently nor reported as unknown.
    /// </summary>
    public void Ignore(string key, string reason) => Get(key).Ignore(reason);

    /// <summary>
    /// A key Distribution knows but Berth does not act on, where ignoring it would change what the registry does:
    /// start-up fails when it is set, with <paramref name="reason"/> saying what to do instead.
    /// </summary>
    public void Refuse(string key, string reason) => Get(key).Refuse(reason);

    /// <summary>An exception naming this section.</summary>
    public ConfigurationException Invalid(string detail) => _section.Invalid(detail);

    /// <summary>Records a warning about this section.</summary>
    public void Warn(string detail) => _section.Warn(detail);

    /// <summary>Warns about every file key of this section that no binder asked for.</summary>
    internal void WarnAboutUnreadKeys()
    {
        foreach (var (name, entry) in _fileEntries)
        {
            if (_readKeys.Contains(name))
            {
                continue;
            }

            var known = _readKeys.FirstOrDefault(read => string.Equals(read, name, StringComparison.OrdinalIgnoreCase));
            var hint = known is null ? string.Empty : $"; keys are case-sensitive, did you mean '{known}'?";
            var origin = _section.Context.DescribeOrigin(entry.Key, _section.Variable);
            var message = $"{ChildKey(name)}: unknown configuration key, ignored{hint}";
            _section.Context.Warnings.Add(origin is null ? message : $"{message} ({origin})");
        }
    }

    private string ChildKey(string name) => Key.Length == 0 ? name : $"{Key}.{name}";
}
