namespace Berth.Storage.Drivers;

/// <summary>Raised by every driver when a path does not exist.</summary>
public sealed class StoragePathNotFoundException(string path, string driver)
    : Exception($"{driver}: path not found: {path}")
{
    public string Path { get; } = path;
}

/// <summary>Raised when a path is not a valid storage path (the validating wrapper's check).</summary>
public sealed class InvalidStoragePathException(string path)
    : Exception($"invalid storage path: {path}")
{
    public string Path { get; } = path;
}

/// <summary>Raised when a small-object read would exceed its size cap.</summary>
public sealed class StorageObjectTooLargeException(string path, long size, int limit)
    : Exception($"object {path} has {size} bytes, more than the {limit} allowed")
{
    public string Path { get; } = path;
}
