using Berth.Server.Configuration;

namespace Berth.Server.Tests.Configuration;

/// <summary>A config.yml in its own temporary directory, deleted on dispose.</summary>
internal sealed class TemporaryConfigFile : IDisposable
{
    private readonly string _directory;

    public TemporaryConfigFile(string yaml)
    {
        _directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "berth-config-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        Path = System.IO.Path.Combine(_directory, "config.yml");
        File.WriteAllText(Path, yaml);
    }

    public string Path { get; }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}

internal static class ConfigurationTestFiles
{
    public static readonly IReadOnlyDictionary<string, string> NoEnvironment = new Dictionary<string, string>();

    /// <summary>Writes <paramref name="yaml"/> to a config.yml and loads it with <paramref name="environment"/>.</summary>
    public static ConfigurationLoadResult LoadYaml(string yaml, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var file = new TemporaryConfigFile(yaml);
        return ConfigurationLoader.Load(file.Path, environment ?? NoEnvironment);
    }

    /// <summary>Loads with no file, only <paramref name="environment"/>.</summary>
    public static ConfigurationLoadResult LoadEnvironment(IReadOnlyDictionary<string, string> environment) =>
        ConfigurationLoader.Load(null, environment);

    public static Dictionary<string, string> Environment(params (string Name, string Value)[] variables) =>
        variables.ToDictionary(variable => variable.Name, variable => variable.Value);
}
