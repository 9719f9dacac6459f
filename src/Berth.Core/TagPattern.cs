using System.Diagnostics.CodeAnalysis;

namespace Berth.Core;

/// <summary>
/// A glob over tag names: <c>*</c> matches any run of characters (tags have no separators), <c>?</c> one character;
/// everything else matches itself, case-sensitively as tags compare. <c>v*</c> matches <c>v1.2.3</c> and <c>v</c>.
/// </summary>
public sealed class TagPattern
{
    private TagPattern(string text) => Text = text;

    public string Text { get; }

    /// <summary>Parses a pattern; <paramref name="error"/> says what is wrong when it returns false.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out TagPattern? pattern, [NotNullWhen(false)] out string? error)
    {
        pattern = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "a tag pattern must not be empty";
            return false;
        }

        if (text.Length > 128)
        {
            error = $"'{text[..32]}...': a tag pattern must not be longer than 128 characters, as tags are not";
            return false;
        }

        foreach (var c in text)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '.' or '-' or '*' or '?'))
            {
                error = $"'{text}': tag patterns hold letters, digits, '_', '.', '-', '*' and '?'; '{c}' cannot match a tag";
                return false;
            }
        }

        error = null;
        pattern = new TagPattern(text);
        return true;
    }

    public static TagPattern Parse(string text) => TryParse(text, out var pattern, out var error) ? pattern : throw new FormatException(error);

    /// <summary>True when <paramref name="tag"/> matches the whole pattern.</summary>
    public bool Matches(string tag) => Match(Text.AsSpan(), tag.AsSpan());

    /// <summary>
    /// Iterative glob matching with one backtrack point (the last <c>*</c>): linear in practice and never
    /// exponential, whatever the pattern.
    /// </summary>
    private static bool Match(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        int p = 0, t = 0, star = -1, resume = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]))
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++resume;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    public override string ToString() => Text;
}
