using System.Text;

namespace Berth.Auth;

/// <summary>
/// <c>berth htpasswd</c>: creates and updates htpasswd files the way Apache's <c>htpasswd</c> does, bcrypt only, so
/// nobody needs apache2-utils or a helper container to add a registry user. Flags as Apache's: <c>-c</c> create the
/// file, <c>-n</c> print the entry instead, <c>-b</c> password from the command line, <c>-i</c> password from stdin,
/// <c>-B</c> bcrypt (the default and only scheme), <c>-C cost</c>, <c>-D</c> delete the user, <c>-v</c> verify the password.
/// Exit codes as Apache's: 0 done, 1 file problem, 2 usage, 3 wrong password or mismatched confirmation, 6 bad user name.
/// </summary>
public static class HtpasswdCommand
{
    public const string Usage = """
        Usage:
          berth htpasswd [-cimBDv] [-C cost] FILE USER          prompt for the password
          berth htpasswd -b[cmBDv] [-C cost] FILE USER PASSWORD
          berth htpasswd -n[imB] [-C cost] USER                 print the entry instead of writing a file
          berth htpasswd -nb[mB] [-C cost] USER PASSWORD
        -c  create FILE (replacing it if it exists)    -n  print the entry to stdout
        -b  take the password from the command line    -i  read the password from stdin, once
        -B  bcrypt (the default; the only scheme registry:2 accepts)
        -C  bcrypt cost, 4 to 31 (default 10)          -D  delete USER
        -v  verify USER's password instead of changing it
        The entries work with Berth and registry:2 (auth.htpasswd). Passwords given with -b show in the
        process list; prefer the prompt or -i.

        """;

    /// <summary>Runs the command.</summary>
    /// <param name="args">The arguments after <c>htpasswd</c>.</param>
    /// <param name="prompt">Reads a password from the terminal without echo (null when stdin is not a terminal: then one line of
    /// <paramref name="input"/> is the password).</param>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextReader input, TextWriter output, TextWriter error,
        Func<string, string?>? prompt = null)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (FormatException ex)
        {
            await error.WriteLineAsync($"berth htpasswd: {ex.Message}");
            await error.WriteAsync(Usage);
            return 2;
        }

        if (!HtpasswdFile.IsValidUser(options.User, out var problem))
        {
            await error.WriteLineAsync($"berth htpasswd: {problem}");
            return 6;
        }

        HtpasswdFile file;
        if (options.File is null || options.Create)
        {
            file = HtpasswdFile.Empty;
        }
        else
        {
            try
            {
                file = HtpasswdFile.Load(options.File);
            }
            catch (HtpasswdFormatException ex)
            {
                await error.WriteLineAsync($"berth htpasswd: {ex.Message}");
                if (ex.Line == 0 && !File.Exists(options.File))
                {
                    await error.WriteLineAsync("berth htpasswd: use -c to create the file");
                }

                return 1;
            }
        }

        if (options.Delete)
        {
            if (file.HashOf(options.User) is null)
            {
                await error.WriteLineAsync($"User {options.User} not found");
                return 0;
            }

            await error.WriteLineAsync($"Deleting password for user {options.User}");
            return await WriteAsync(file.WithoutUser(options.User), options.File!, error);
        }

        var password = options.Password;
        if (password is null)
        {
            if (options.FromStdin || prompt is null)
            {
                password = await input.ReadLineAsync();
            }
            else
            {
                password = prompt("New password: ");
                var again = options.Verify ? password : prompt("Re-type new password: ");
                if (password != again)
                {
                    await error.WriteLineAsync("berth htpasswd: password verification error");
                    return 3;
                }
            }
        }

        if (string.IsNullOrEmpty(password))
        {
            await error.WriteLineAsync("berth htpasswd: the password is empty; registry clients treat empty credentials as none");
            return 3;
        }

        if (options.Verify)
        {
            var existing = file.HashOf(options.User);
            if (existing is null)
            {
                await error.WriteLineAsync($"User {options.User} not found");
                return 6;
            }

            var matches = HtpasswdAccessController.BcryptMatches(password, existing);
            await error.WriteLineAsync(matches ? $"Password for user {options.User} correct." : "password verification failed");
            return matches ? 0 : 3;
        }

        if (Encoding.UTF8.GetByteCount(password) > 72)
        {
            await error.WriteLineAsync("berth htpasswd: warning: bcrypt uses only the first 72 bytes of the password");
        }

        var hash = BCrypt.Net.BCrypt.HashPassword(password, options.Cost);
        if (options.File is null)
        {
            await output.WriteLineAsync($"{options.User}:{hash}");
            await output.WriteLineAsync();
            return 0;
        }

        await error.WriteLineAsync(file.HashOf(options.User) is null ? $"Adding password for user {options.User}" : $"Updating password for user {options.User}");
        return await WriteAsync(file.WithUser(options.User, hash), options.File, error);
    }

    /// <summary>Reads a line from the console without echoing it; for <see cref="RunAsync"/>'s prompt.</summary>
    public static string? ReadHiddenLine(string prompt)
    {
        Console.Error.Write(prompt);
        var builder = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                Console.Error.WriteLine();
                return builder.ToString();
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (builder.Length > 0)
                {
                    builder.Length--;
                }
            }
            else if (key.Modifiers.HasFlag(ConsoleModifiers.Control) && key.Key is ConsoleKey.C or ConsoleKey.D)
            {
                Console.Error.WriteLine();
                return null;
            }
            else if (!char.IsControl(key.KeyChar))
            {
                builder.Append(key.KeyChar);
            }
        }
    }

    /// <summary>Replaces the file atomically (temporary file and rename), keeping the old file's permissions.</summary>
    private static async Task<int> WriteAsync(HtpasswdFile file, string path, TextWriter error)
    {
        var full = Path.GetFullPath(path);
        var temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            await File.WriteAllTextAsync(temporary, file.ToString(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            if (!OperatingSystem.IsWindows() && File.Exists(full))
            {
                File.SetUnixFileMode(temporary, File.GetUnixFileMode(full));
            }

            File.Move(temporary, full, overwrite: true);
            return 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"berth htpasswd: cannot write {path}: {ex.Message}");
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // Best effort; the message above is what matters.
            }

            return 1;
        }
    }

    private sealed record Options(string? File, string User, string? Password, bool Create, bool FromStdin, bool Delete, bool Verify, int Cost)
    {
        public static Options Parse(IReadOnlyList<string> args)
        {
            bool create = false, print = false, batch = false, stdin = false, delete = false, verify = false;
            var cost = HtpasswdFile.DefaultCost;
            var positional = new List<string>();
            for (var i = 0; i < args.Count; i++)
            {
                var arg = args[i];
                if (arg.Length < 2 || arg[0] != '-' || positional.Count > 0)
                {
                    positional.Add(arg);
                    continue;
                }

                for (var j = 1; j < arg.Length; j++)
                {
                    switch (arg[j])
                    {
                        case 'c': create = true; break;
                        case 'n': print = true; break;
                        case 'b': batch = true; break;
                        case 'i': stdin = true; break;
                        case 'B': break;
                        case 'D': delete = true; break;
                        case 'v': verify = true; break;
                        case 'C':
                            var value = j + 1 < arg.Length ? arg[(j + 1)..] : (++i < args.Count ? args[i] : throw new FormatException("-C needs a cost"));
                            if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out cost) || cost is < 4 or > 31)
                            {
                                throw new FormatException($"-C: the bcrypt cost must be a number from 4 to 31, got '{value}'");
                            }

                            j = arg.Length;
                            break;
                        case 'm' or 'd' or 's' or 'p' or '2' or '5':
                            throw new FormatException($"-{arg[j]}: only bcrypt (-B) entries are written; registry:2 and Berth accept no other scheme");
                        default:
                            throw new FormatException($"unknown option -{arg[j]}");
                    }
                }
            }

            if (batch && stdin)
            {
                throw new FormatException("-b and -i cannot be combined");
            }

            if (print && (create || delete || verify))
            {
                throw new FormatException("-n cannot be combined with -c, -D or -v");
            }

            if (delete && (verify || create))
            {
                throw new FormatException("-D cannot be combined with -c or -v");
            }

            var expected = (print ? 1 : 2) + (batch && !delete ? 1 : 0);
            if (positional.Count != expected)
            {
                throw new FormatException($"expected {(print ? "" : "FILE ")}USER{(batch && !delete ? " PASSWORD" : "")}, got {positional.Count} argument(s)");
            }

            var file = print ? null : positional[0];
            var user = positional[print ? 0 : 1];
            var password = batch && !delete ? positional[^1] : null;
            return new Options(file, user, password, create, stdin, delete, verify, cost);
        }
    }
}
