using System.Security.Cryptography;

namespace AgenticFlow.LocalRuntime.State;

public sealed record StateItem(byte[] Value, string ETag, DateTimeOffset? ExpiresAt);

public enum StateOperationKind { Upsert, Delete }

public enum Concurrency { LastWrite, FirstWrite }

/// <summary>One write in a state store; a transaction is a list of them applied all or nothing.</summary>
public sealed record StateOperation(
    StateOperationKind Kind,
    string Key,
    byte[]? Value = null,
    string? ETag = null,
    Concurrency Concurrency = Concurrency.LastWrite,
    int? TtlSeconds = null)
{
    /// <summary>The expiry this write sets; null when the item lives until deleted (no TTL, or -1).</summary>
    public DateTimeOffset? ExpiresAt(DateTimeOffset now) => TtlSeconds is > 0 ? now.AddSeconds(TtlSeconds.Value) : null;

    /// <summary>True when the write must find the item at exactly <see cref="ETag"/>.</summary>
    public bool HasETag => !string.IsNullOrEmpty(ETag);

    /// <summary>First-write without an ETag is an insert: it fails when the item exists.</summary>
    public bool MustNotExist => !HasETag && Kind == StateOperationKind.Upsert && Concurrency == Concurrency.FirstWrite;

    public long ExpectedVersion => long.TryParse(ETag, out var v) ? v : throw StateETagException.Invalid(Key);
}

/// <summary>ETags are numeric versions; a new item starts at a random version so a deleted and recreated
/// item never matches an ETag handed out for its predecessor.</summary>
public static class Versions
{
    public static long First() => RandomNumberGenerator.GetInt32(1, int.MaxValue) * 1024L;
}

public sealed class StateETagException : Exception
{
    private StateETagException(string key, bool invalid, string message) : base(message)
    {
        Key = key;
        IsInvalid = invalid;
    }

    public string Key { get; }

    /// <summary>True when the ETag could never be valid (wrong format); false for a plain mismatch.</summary>
    public bool IsInvalid { get; }

    public static StateETagException Mismatch(string key) => new(key, false, $"possible etag mismatch. error from state store: etag mismatch for key {key}");

    public static StateETagException Invalid(string key) => new(key, true, $"invalid etag value for key {key}");
}

/// <summary>The storage engine behind a Dapr state component. Keys arrive already prefixed.</summary>
public interface IStateStore : IAsyncDisposable
{
    Task InitAsync(CancellationToken cancellationToken);

    Task<StateItem?> GetAsync(string key, CancellationToken cancellationToken);

    Task<IReadOnlyDictionary<string, StateItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken);

    /// <summary>Applies the operations atomically: all of them, or none when any ETag check fails.</summary>
    Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken);

    /// <summary>Every live item whose key starts with <paramref name="prefix"/>; used by the query API.</summary>
    Task<IReadOnlyList<KeyValuePair<string, StateItem>>> ScanAsync(string prefix, CancellationToken cancellationToken);
}
