namespace Berth.Storage.Drivers;

/// <summary>
/// Implemented by drivers whose objects are local files, so the HTTP layer can hand a blob to the
/// kernel's file-sending path instead of copying it through user-space buffers.
/// </summary>
public interface ILocalFileDriver
{
    /// <summary>The absolute local path of a validated storage path.</summary>
    string LocalPath(string path);
}
