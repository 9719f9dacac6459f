using System.Text.RegularExpressions;
using Berth.Core.Errors;

namespace Berth.Core;

/// <summary>
/// A validated repository name: lowercase path components separated by <c>/</c>, each
/// matching the distribution spec's grammar, at most 255 characters in all. Anything that
/// could escape the storage root (<c>..</c>, empty components, percent-encodings) fails the
/// grammar, so a valid name is always safe to use as a storage path.
/// </summary>
public sealed partial class RepositoryName : IEquatable<RepositoryName>
{
    public const int MaxLength = 255;

    private RepositoryName(string value) => Value = value;

    public string Value { get; }

    public static RepositoryName Parse(string value) =>
        TryParse(value, out var name) ? name : throw ErrorCode.NameInvalid.With(new { name = Shorten(value) });

    public static bool TryParse(string? value, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out RepositoryName? name)
    {
        name = null;
        if (string.IsNullOrEmpty(value) || value.Length > MaxLength || !Grammar().IsMatch(value))
        {
            return false;
        }

        name = new RepositoryName(value);
        return true;
    }

    public override string ToString() => Value;

    public bool Equals(RepositoryName? other) => other is not null && string.Equals(Value, other.Value, StringComparison.Ordinal);

    public override bool Equals(object? obj) => Equals(obj as RepositoryName);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Value);

    private static string Shorten(string? s) => s is null ? "" : s.Length <= 300 ? s : s[..300] + "...";

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*\z", RegexOptions.CultureInvariant)]
    private static partial Regex Grammar();
}
