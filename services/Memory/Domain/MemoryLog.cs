using Microsoft.Extensions.Logging;

namespace AgenticFlow.Memory;

internal static partial class MemoryLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "The saved index at {Path} does not match its keys or the embedding size; rebuilding it from the stored memories")]
    public static partial void IndexFileMismatch(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The saved index at {Path} could not be read; rebuilding it from the stored memories")]
    public static partial void IndexFileUnreadable(ILogger logger, Exception ex, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Memory loaded: {Memories} memories, {Embedded} embedded again, {FromFile} vectors from the saved index, {Orphans} stale vectors dropped, {Entities} entities, {Relations} relations, in {Milliseconds} ms")]
    public static partial void Loaded(ILogger logger, int memories, int embedded, int fromFile, int orphans, int entities, int relations, long milliseconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Loading memory from the store failed; retrying")]
    public static partial void LoadFailed(ILogger logger, Exception ex);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Saving the vector index to {Path} failed; it is rebuilt from the stored memories if lost")]
    public static partial void IndexSaveFailed(ILogger logger, Exception ex, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweeping expired memories failed; trying again next round")]
    public static partial void SweepFailed(ILogger logger, Exception ex);
}
