using System.Text;

namespace Berth.Auth;

/// <summary>An htpasswd file that Berth cannot use, with the line at fault (1-based; 0 for the file as a whole).</summary>
public sealed class HtpasswdFormatException : Exception
{
    public HtpasswdFormatException()
    {
    }

    public HtpasswdFormatException(string message)
        : base(message)
    {
    }

    public HtpasswdFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public HtpasswdFormatException(string path, int line, string message)
        : base(line > 0 ? $"{path} line {line}: {message}" : $"{path}: {message}")
    {
        Path = path;
        Line = line;
    }

    public string? Path { get; }

    public int Line { get; }
}

/// <summary>
/// The contents of an Apache htpasswd file restricted to what registry:2 accepts: <c>user:hash</c> lines
/// with bcrypt hashes (<c>$2a$</c>, <c>$2b$</c>, <c>$2y$</c>), blank lines, and comment lines starting
/// with <c>#</c>. Anything else is an error that names the line, so a typo cannot silently lock a user out.
/// </summary>
public sealed class HtpasswdFile
{
    /// <summary>The bcrypt cost <c>berth htpasswd</c> uses unless told otherwise.</summary>
    public const int DefaultCost = 10;

    private readonly Dictionary<string, string> _entries;

    private HtpasswdFile(Dictionary<string, string> entries, IReadOnlyList<string> lines)
    {
        _entries = entries;
        Lines = lines;
    }

    /// <summary>The users, in no particular order.</summary>
    public IReadOnlyCollection<string> Users => _entries.Keys;

    /// <summary>The file's lines as read (comments kept), for rewriting it.</summary>
    internal IReadOnlyList<string> Lines { get; }

    /// <summary>The bcrypt hash of <paramref name="user"/>, or null.</summary>
    public string? HashOf(string user) => _entries.TryGetValue(user, out var hash) ? hash : null;

    /// <summary>The highest bcrypt cost in the file (the dummy hash for unknown users uses it), or the default.</summary>
    public int MaxCost => _entries.Count == 0 ? DefaultCost : _entries.Values.Max(CostOf);

    /// <summary>Parses <paramref name="text"/>; <paramref name="path"/> only names the file in errors.</summary>
    /// <exception cref="HtpasswdFormatException">A line is not a bcrypt entry, a comment or blank.</exception>
    public static HtpasswdFile Parse(string text, string path)
    {
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = text.Split('\n');
        var kept = new List<string>(lines.Length);
        var fix = $"create entries with `berth htpasswd -B {path} USER`";
        for (var index = 0; index < lines.Length; index++)
        {
            var raw = lines[index].TrimEnd('\r');
            kept.Add(raw);
            var line = raw.Trim();
            var number = index + 1;
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                // Never echo the line: it may be a password typed in by hand.
                throw new HtpasswdFormatException(path, number,
                    $"expected 'user:bcrypt-hash', found a line without a user name and ':' (a plain 'user password' line?); {fix}");
            }

            var user = line[..colon];
            var hash = line[(colon + 1)..];
            if (!IsValidUser(user, out var userProblem))
            {
                throw new HtpasswdFormatException(path, number, $"{userProblem}; {fix}");
            }

            if (!IsBcrypt(hash))
            {
                throw new HtpasswdFormatException(path, number, $"the entry for user '{user}' is not a bcrypt hash ({Describe(hash)}); " +
                    $"only bcrypt entries are accepted, as by registry:2: recreate it with `berth htpasswd -B {path} {user}`");
            }

            if (!entries.TryAdd(user, hash))
            {
                throw new HtpasswdFormatException(path, number, $"user '{user}' appears twice; remove one of the entries");
            }
        }

        // A trailing newline leaves one empty "line" that is not the user's.
        if (kept.Count > 0 && kept[^1].Length == 0)
        {
            kept.RemoveAt(kept.Count - 1);
        }

        return new HtpasswdFile(entries, kept);
    }

    /// <summary>Reads and parses <paramref name="path"/>.</summary>
    /// <exception cref="HtpasswdFormatException">The file is missing, unreadable or malformed.</exception>
    public static HtpasswdFile Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (FileNotFoundException)
        {
            throw new HtpasswdFormatException(path, 0, $"the file does not exist; create it with `berth htpasswd -B -c {path} USER`");
        }
        catch (DirectoryNotFoundException)
        {
            throw new HtpasswdFormatException(path, 0, $"the file does not exist; create it with `berth htpasswd -B -c {path} USER`");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new HtpasswdFormatException(path, 0, $"cannot read the file: {ex.Message}");
        }

        return Parse(text, path);
    }

    /// <summary>An empty file, for <c>berth htpasswd -c</c>.</summary>
    public static HtpasswdFile Empty { get; } = new(new Dictionary<string, string>(StringComparer.Ordinal), []);

    /// <summary>A copy with <paramref name="user"/> set to <paramref name="hash"/>, in place when present, else appended.</summary>
    public HtpasswdFile WithUser(string user, string hash)
    {
        var lines = Lines.ToList();
        var index = lines.FindIndex(line => UserOf(line) == user);
        if (index >= 0)
        {
            lines[index] = $"{user}:{hash}";
        }
        else
        {
            lines.Add($"{user}:{hash}");
        }

        var entries = new Dictionary<string, string>(_entries, StringComparer.Ordinal) { [user] = hash };
        return new HtpasswdFile(entries, lines);
    }

    /// <summary>A copy without <paramref name="user"/>.</summary>
    public HtpasswdFile WithoutUser(string user)
    {
        var lines = Lines.Where(line => UserOf(line) != user).ToList();
        var entries = new Dictionary<string, string>(_entries, StringComparer.Ordinal);
        entries.Remove(user);
        return new HtpasswdFile(entries, lines);
    }

    /// <summary>The file's text, one line per entry or comment, ending in a newline.</summary>
    public override string ToString() => Lines.Count == 0 ? "" : string.Join('\n', Lines) + "\n";

    /// <summary>True when <paramref name="user"/> can be an htpasswd user name.</summary>
    public static bool IsValidUser(string user, out string? problem)
    {
        problem = user switch
        {
            "" => "the user name is empty",
            _ when user.Length > 255 => "the user name is longer than 255 characters",
            _ when user.Contains(':', StringComparison.Ordinal) => "a user name cannot contain ':'",
            _ when user.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)) => "a user name cannot contain spaces or control characters",
            _ when user[0] == '#' => "a user name cannot start with '#' (that line would be a comment)",
            _ => null,
        };
        return problem is null;
    }

    /// <summary>True for a well-formed bcrypt hash: <c>$2a$</c>/<c>$2b$</c>/<c>$2y$</c>, a two-digit cost, 53 characters of salt and hash.</summary>
    public static bool IsBcrypt(string hash)
    {
        if (hash.Length != 60 || hash[0] != '$' || hash[1] != '2' || hash[2] is not ('a' or 'b' or 'y') || hash[3] != '$' || hash[6] != '$')
        {
            return false;
        }

        if (!char.IsAsciiDigit(hash[4]) || !char.IsAsciiDigit(hash[5]))
        {
            return false;
        }

        var cost = ((hash[4] - '0') * 10) + (hash[5] - '0');
        return cost is >= 4 and <= 31 && hash.AsSpan(7).IndexOfAnyExcept(BcryptAlphabet) < 0;
    }

    internal static int CostOf(string hash) => ((hash[4] - '0') * 10) + (hash[5] - '0');

    private const string BcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private static string? UserOf(string line)
    {
        var trimmed = line.Trim();
        if (trimmed.Length == 0 || trimmed[0] == '#')
        {
            return null;
        }

        var colon = trimmed.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 ? trimmed[..colon] : null;
    }

    private static string Describe(string hash) => hash switch
    {
        _ when hash.StartsWith("$apr1$", StringComparison.Ordinal) => "an Apache MD5 '$apr1$' hash",
        _ when hash.StartsWith("{SHA}", StringComparison.Ordinal) => "a SHA-1 '{SHA}' hash",
        _ when hash.StartsWith("$1$", StringComparison.Ordinal) => "an MD5-crypt '$1$' hash",
        _ when hash.StartsWith("$5$", StringComparison.Ordinal) || hash.StartsWith("$6$", StringComparison.Ordinal) => "a SHA-crypt hash",
        _ when hash.StartsWith("$2", StringComparison.Ordinal) => "a truncated or damaged bcrypt hash",
        _ when hash.Length == 0 => "empty",
        _ => "a plain-text password or crypt() hash",
    };
}
