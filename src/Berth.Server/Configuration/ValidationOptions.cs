namespace Berth.Server.Configuration;

/// <summary>
/// <c>validation</c>: registry:2's checks on pushed manifests. Berth's own checks are fixed: it checks no
/// foreign-layer URLs, and it accepts an image index only when the manifests it lists exist. The keys that would
/// change either are refused while validation is on; see docs/registry2-configuration-keys.md.
/// </summary>
public sealed record ValidationOptions
{
    /// <summary>
    /// Whether registry:2 would apply the <c>validation.manifests</c> rules: <c>validation.enabled</c> (deprecated)
    /// or, when that is false, the opposite of <c>validation.disabled</c>, the way Distribution resolves the two.
    /// Berth reads it to decide whether those rules, which it does not implement, must be refused.
    /// </summary>
    public bool Enabled { get; init; } = true;

    /// <summary><c>validation.manifests</c>: no rule of it is honoured, so it has no settings.</summary>
    public ManifestValidationOptions Manifests { get; init; } = new();

    internal static ValidationOptions Read(SectionReader section)
    {
        var enabledValue = section["enabled"];
        if (enabledValue.IsSet)
        {
            enabledValue.Warn("deprecated; use validation.disabled");
        }

        var disabledValue = section["disabled"];
        var enabled = enabledValue.AsBool() || !disabledValue.AsBool();
        if (!enabled)
        {
            // Berth already checks no URLs; the index check is the one difference, and it only refuses pushes.
            disabledValue.Warn(
                "Berth checks no foreign-layer URLs in any case, but still accepts an image index only when the manifests it lists exist (Distribution 3 stops checking that here)");
        }

        return new ValidationOptions
        {
            Enabled = enabled,
            Manifests = section["manifests"].AsSection(manifests => ManifestValidationOptions.Read(manifests, enabled)),
        };
    }
}

/// <summary><c>validation.manifests</c>: registry:2's rules for foreign-layer URLs and image indexes.</summary>
public sealed record ManifestValidationOptions
{
    internal static ManifestValidationOptions Read(SectionReader section, bool validationEnabled)
    {
        section["urls"].AsSection(urls =>
        {
            foreach (var name in (string[])["allow", "deny"])
            {
                Check(urls[name], validationEnabled,
                    "Berth does not check the URLs of foreign layers and would accept every one; remove the key (the registry then behaves as registry:2 with validation.disabled: true)");
            }

            return true;
        });

        section["indexes"].AsSection(indexes =>
        {
            var platforms = indexes["platforms"];
            if (platforms.AsChoice(["all", "none", "list"]) is "none" or "list")
            {
                Check(platforms, validationEnabled,
                    "Berth accepts an image index only when every manifest it lists exists (platforms: all); remove the key or set it to all");
            }

            Check(indexes["platformlist"], validationEnabled,
                "Berth accepts an image index only when every manifest it lists exists (platforms: all); remove the key");
            return true;
        });

        return new ManifestValidationOptions();
    }

    // With validation disabled, registry:2 does not apply these rules either, so ignoring them changes nothing.
    private static void Check(ConfigValue value, bool validationEnabled, string refusal)
    {
        if (!value.HasContent)
        {
            value.Overrides?.MarkAllUsed();
            return;
        }

        if (validationEnabled)
        {
            value.Refuse(refusal);
        }

        value.Ignore("has no effect while validation is disabled");
    }
}
