namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>A fresh directory under the system temp directory, deleted with everything in it on dispose.</summary>
public sealed class TemporaryDirectory : IDisposable
{
    private TemporaryDirectory(string path)
    {
        Path = path;
    }

    public string Path { get; }

    public static TemporaryDirectory Create(string purpose)
    {
        // Short: podman refuses a runroot longer than 50 characters, and its runroot lives in one of these.
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"berth-e2e-{purpose}-{Guid.NewGuid().ToString("N")[..12]}");
        Directory.CreateDirectory(path);
        return new TemporaryDirectory(path);
    }

    /// <summary>A new, empty subdirectory.</summary>
    public string CreateSubdirectory(string name) => Directory.CreateDirectory(Combine(name)).FullName;

    /// <summary>A path inside this directory that does not exist yet.</summary>
    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException)
        {
            // A process we killed may still be closing files; one retry is enough for what tests leave behind.
            Thread.Sleep(500);
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
