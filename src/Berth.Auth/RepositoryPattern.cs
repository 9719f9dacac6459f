using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.RegularExpressions;

namespace Berth.Auth;

/// <summary>
/// A glob over repository names: <c>*</c> matches within one path component, <c>**</c> across components,
/// <c>?</c> one character other than <c>/</c>; everything else matches itself. <c>public/**</c> matches
/// <c>public/a</c> and <c>public/a/b</c> but not <c>public</c>; <c>**</c> matches every repository.
/// </summary>
public sealed class RepositoryPattern
{
    private readonly Regex _regex;

    private RepositoryPattern(string text, Regex regex)
    {
        Text = text;
        _regex = regex;
    }

    public string Text { get; }

    /// <summary>Parses a pattern; <paramref name="error"/> says what is wrong when it returns false.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out RepositoryPattern? pattern, [NotNullWhen(false)] out string? error)
    {
        pattern = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "a repository pattern must not be empty";
            return false;
        }

        if (text.Length > 255)
        {
            error = "a repository pattern must not be longer than 255 characters";
            return false;
        }

        var regex = new StringBuilder("^");
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '*' when i + 1 < text.Length && text[i + 1] == '*':
                    if (i + 2 < text.Length && text[i + 2] == '*')
                    {
                        error = $"'{text}': '***' is not a pattern; use '*' within a path component or '**' across components";
                        return false;
                    }

                    regex.Append(".+");
                    i++;
                    break;
                case '*':
                    regex.Append("[^/]+");
                    break;
                case '?':
                    regex.Append("[^/]");
                    break;
                case >= 'a' and <= 'z' or >= '0' and <= '9' or '/':
                    regex.Append(c);
                    break;
                case '.' or '_' or '-':
                    regex.Append('\\').Append(c);
                    break;
                default:
                    error = $"'{text}': repository patterns hold lower-case letters, digits, '.', '_', '-', '/', '*', '**' and '?'; '{c}' cannot match a repository name";
                    return false;
            }
        }

        regex.Append("\\z");
        error = null;
        pattern = new RepositoryPattern(text, new Regex(regex.ToString(), RegexOptions.CultureInvariant | RegexOptions.NonBacktracking));
        return true;
    }

    public static RepositoryPattern Parse(string text) =>
        TryParse(text, out var pattern, out var error) ? pattern : throw new FormatException(error);

    /// <summary>True when <paramref name="repository"/> matches (compared as given: names are lower-case by grammar).</summary>
    public bool Matches(string repository) => repository.Length <= 4096 && _regex.IsMatch(repository);

    public override string ToString() => Text;
}
