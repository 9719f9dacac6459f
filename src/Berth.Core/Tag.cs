using System.Text.RegularExpressions;

namespace Berth.Core;

/// <summary>Tag grammar of the distribution spec: <c>[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}</c>.</summary>
public static partial class Tag
{
    public static bool IsValid(string? value) => value is { Length: > 0 and <= 128 } && Grammar().IsMatch(value);

    [GeneratedRegex(@"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Grammar();
}
