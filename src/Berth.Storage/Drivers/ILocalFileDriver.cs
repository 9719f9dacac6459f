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

/// <summary>Finding the local files behind a driver, through the wrapper production puts around every driver.</summary>
public static class LocalFileDriverExtensions
{
    /// <summary>The driver itself or the one <see cref="ValidatingDriver"/> wraps, when its objects are local files; otherwise null.</summary>
    public static ILocalFileDriver? AsLocal(this IStorageDriver driver) =>
        driver is ValidatingDriver { Inner: ILocalFileDriver inner } ? inner : driver as ILocalFileDriver;
}
