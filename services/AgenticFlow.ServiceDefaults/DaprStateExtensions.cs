using System.Text.Json;
using Dapr;
using Dapr.Client;
using Grpc.Core;

namespace AgenticFlow.ServiceDefaults;

public static class DaprStateExtensions
{
    private static readonly StateOptions InsertOnly = new() { Concurrency = ConcurrencyMode.FirstWrite };

    /// <summary>True when a state write failed because an ETag (or first-write insert) no longer holds: read again and redo.</summary>
    public static bool IsETagConflict(this DaprException exception) =>
        exception.InnerException is RpcException { StatusCode: StatusCode.Aborted };

    /// <summary>
    /// Reads one JSON document with its ETag, lets <paramref name="change"/> modify it, and writes it back under that
    /// ETag (insert-only when it is new), redoing the step on fresh state when another writer got there first; nothing
    /// is written when <paramref name="change"/> says nothing changed.
    /// </summary>
    public static async Task<T> ChangeStateAsync<TDocument, T>(this DaprClient dapr, string store, string key, Func<TDocument> empty,
        Func<TDocument, (bool Changed, T Value)> change, CancellationToken ct, int maxAttempts = 50)
        where TDocument : class
    {
        for (var attempt = 0; ; attempt++)
        {
            var (document, etag) = await dapr.GetStateAndETagAsync<TDocument?>(store, key, cancellationToken: ct);
            document ??= empty();
            var (changed, value) = change(document);
            if (!changed)
            {
                return value;
            }
            var bytes = JsonSerializer.SerializeToUtf8Bytes(document, JsonSerializerOptions.Web);
            try
            {
                await dapr.ExecuteStateTransactionAsync(store,
                [
                    string.IsNullOrEmpty(etag)
                        ? new StateTransactionRequest(key, bytes, StateOperationType.Upsert, options: InsertOnly)
                        : new StateTransactionRequest(key, bytes, StateOperationType.Upsert, etag),
                ], cancellationToken: ct);
                return value;
            }
            catch (DaprException ex) when (ex.IsETagConflict() && attempt < maxAttempts)
            {
                await Task.Delay(Random.Shared.Next(1, 5 + attempt * 2), ct);
            }
        }
    }
}
