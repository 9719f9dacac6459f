using System.Reflection;
using Berth.Server;

return await BerthCommandLine.RunAsync(args);

namespace Berth.Server
{
    /// <summary>The <c>berth</c> command line: <c>serve</c>, <c>htpasswd</c>, <c>version</c>, <c>help</c>.</summary>
    public static class BerthCommandLine
    {
        private const string Usage = """
            berth - an OCI distribution registry, drop-in for registry:2

            Usage:
              berth serve [CONFIG]   run the registry. CONFIG is a registry:2 config.yml; without it,
                                     REGISTRY_CONFIGURATION_PATH, else defaults (:5000, /var/lib/registry).
                                     REGISTRY_* environment variables override the file.
              berth garbage-collect [-d] [-m] [-q] CONFIG
                                     delete unreferenced blobs (and with -m untagged manifests); safe while serving
              berth scrub [-d] [--rate R] [--json] [-q] CONFIG
                                     re-hash every blob, check manifests' references and tags, move corrupt
                                     blobs aside; exit 3 when anything is wrong
              berth retention [--dry-run] [--now TIME] [--grace-period D] [-q] CONFIG
                                     apply retention.rules once: delete the tags and manifests they do not keep,
                                     printing one line per decision; `berth retention -h` for the output format
              berth config check [--strict] [CONFIG]
                                     run the checks `serve` runs before it listens (REGISTRY_* included: files it
                                     names, the storage root) and print the effective settings with secrets
                                     masked; exit 1 with serve's message when serve would refuse
              berth htpasswd ...     create or update an htpasswd file (bcrypt); `berth htpasswd -h` for flags
              berth healthcheck [CONFIG]  exit 0 when the registry CONFIG describes answers here (container probes)
              berth version          print the version
              berth help             print this help

            """;

        public static async Task<int> RunAsync(string[] args)
        {
            var verb = args.Length == 0 ? "help" : args[0];
            switch (verb)
            {
                case "serve":
                    return await ServeCommand.RunAsync(args.Length > 1 ? args[1] : null, ProcessEnvironment(), Console.Error, CancellationToken.None);
                case "garbage-collect":
                    return await GarbageCollectCommand.RunAsync(args[1..], ProcessEnvironment());
                case "scrub":
                    return await ScrubCommand.RunAsync(args[1..], ProcessEnvironment());
                case "retention":
                    return await RetentionCommand.RunAsync(args[1..], ProcessEnvironment(), Console.Out, Console.Error, CancellationToken.None);
                case "config":
                    return await ConfigCheckCommand.RunAsync(args[1..], ProcessEnvironment(), Console.Out, Console.Error, CancellationToken.None);
                case "htpasswd":
                    return await HtpasswdAsync(args[1..]);
                case "healthcheck": return await HealthCheckCommand.RunAsync(args[1..], ProcessEnvironment(), CancellationToken.None);
                case "version" or "--version" or "-v":
                    await Console.Out.WriteLineAsync($"berth {Version}");
                    return 0;
                case "help" or "--help" or "-h":
                    await Console.Out.WriteAsync(Usage);
                    return 0;
                default:
                    await Console.Error.WriteLineAsync($"berth: unknown command '{verb}'");
                    await Console.Error.WriteAsync(Usage);
                    return 2;
            }
        }

        /// <summary><c>berth htpasswd</c>: the terminal prompt hides the password; piped input is read as one line.</summary>
        private static async Task<int> HtpasswdAsync(string[] args)
        {
            if (args is ["-h" or "--help" or "help"])
            {
                await Console.Out.WriteAsync(Berth.Auth.HtpasswdCommand.Usage);
                return 0;
            }

            return await Berth.Auth.HtpasswdCommand.RunAsync(args, Console.In, Console.Out, Console.Error,
                Console.IsInputRedirected ? null : Berth.Auth.HtpasswdCommand.ReadHiddenLine);
        }

        private static Dictionary<string, string> ProcessEnvironment() =>
            Environment.GetEnvironmentVariables()
                .Cast<System.Collections.DictionaryEntry>()
                .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);

        public static string Version =>
            typeof(BerthCommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "unknown";
    }
}
