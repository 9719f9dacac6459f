using Berth.Core;
using Microsoft.Extensions.Logging;

namespace Berth.Storage.Lifecycle;

/// <summary>Log messages of retention and last-pull times; event ids 2180-2199.</summary>
internal static partial class LifecycleLog
{
    [LoggerMessage(EventId = 2180, Level = LogLevel.Information,
        Message = "Retention finished: {Repositories} repositories, {TagsKept} tags kept, {TagsDeleted} tags and {ManifestsDeleted} manifests deleted, {Skipped} skipped (dry run: {DryRun})")]
    public static partial void RetentionFinished(ILogger logger, int repositories, int tagsKept, int tagsDeleted, int manifestsDeleted, int skipped, bool dryRun);

    [LoggerMessage(EventId = 2181, Level = LogLevel.Information, Message = "Retention deleted tag {Repository}:{Tag} ({Reason})")]
    public static partial void TagDeleted(ILogger logger, RepositoryName repository, string tag, string reason);

    [LoggerMessage(EventId = 2182, Level = LogLevel.Information, Message = "Retention deleted manifest {Repository}@{Digest} ({Reason})")]
    public static partial void ManifestDeleted(ILogger logger, RepositoryName repository, Digest digest, string reason);

    [LoggerMessage(EventId = 2183, Level = LogLevel.Information, Message = "Retention left tag {Repository}:{Tag} alone: it was pushed again during the run")]
    public static partial void TagChanged(ILogger logger, RepositoryName repository, string tag);

    [LoggerMessage(EventId = 2184, Level = LogLevel.Information, Message = "Retention left manifest {Repository}@{Digest} alone: it was tagged or pushed again during the run")]
    public static partial void ManifestChanged(ILogger logger, RepositoryName repository, Digest digest);
}
