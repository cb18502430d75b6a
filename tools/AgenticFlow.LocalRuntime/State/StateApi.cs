using System.Net;
using AgenticFlow.LocalRuntime.Errors;

namespace AgenticFlow.LocalRuntime.State;

/// <summary>The state building block, whatever the wire: finds a store by name and turns store failures into
/// daprd's error codes for each call.</summary>
public sealed class StateApi(IReadOnlyDictionary<string, StateComponent> stores)
{
    public StateComponent Store(string name)
    {
        if (stores.Count == 0)
        {
            throw DaprError.StoresNotConfigured();
        }
        return stores.TryGetValue(name, out var store) ? store : throw DaprError.StoreNotFound(name);
    }

    /// <summary>Runs a state call, turning store errors into daprd's error codes for that call.</summary>
    public static async Task<T> Call<T>(string failureCode, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (StateETagException ex) when (ex.IsInvalid)
        {
            throw new DaprError(HttpStatusCode.BadRequest, Grpc.Core.StatusCode.InvalidArgument, failureCode, ex.Message);
        }
        catch (StateETagException ex)
        {
            throw new DaprError(HttpStatusCode.Conflict, Grpc.Core.StatusCode.Aborted, failureCode, ex.Message);
        }
        catch (Exception ex) when (ex is not DaprError and not OperationCanceledException)
        {
            throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, failureCode, ex.Message);
        }
    }

    /// <summary><see cref="Call{T}"/> for a call that answers nothing.</summary>
    public static Task Call(string failureCode, Func<Task> call) => Call(failureCode, async () =>
    {
        await call();
        return true;
    });

    public Task<StateItem?> GetAsync(string storeName, string key, CancellationToken ct)
    {
        var store = Store(storeName);
        return Call("ERR_STATE_GET", () => store.GetAsync(key, ct));
    }

    public Task<IReadOnlyList<(string Key, StateItem? Item)>> GetBulkAsync(string storeName, IReadOnlyList<string> keys, CancellationToken ct)
    {
        var store = Store(storeName);
        return Call("ERR_STATE_BULK_GET", () => store.GetBulkAsync(keys, ct));
    }

    /// <summary>Like daprd's bulk set, items are written one by one; the first failure is reported.</summary>
    public Task SaveAsync(string storeName, IReadOnlyList<StateOperation> items, CancellationToken ct)
    {
        var store = Store(storeName);
        return Call("ERR_STATE_SAVE", async () =>
        {
            foreach (var item in items)
            {
                await store.ExecuteAsync([item], ct);
            }
        });
    }

    /// <summary>Deletes each item on its own, as daprd's delete and bulk delete do.</summary>
    public Task DeleteAsync(string storeName, IReadOnlyList<StateOperation> deletes, CancellationToken ct)
    {
        var store = Store(storeName);
        return Call("ERR_STATE_DELETE", async () =>
        {
            foreach (var delete in deletes)
            {
                await store.ExecuteAsync([delete], ct);
            }
        });
    }

    public Task TransactionAsync(string storeName, IReadOnlyList<StateOperation> operations, CancellationToken ct)
    {
        var store = Store(storeName);
        return Call("ERR_STATE_TRANSACTION", () => store.ExecuteAsync(operations, ct));
    }

    public Task<(List<(string Key, StateItem Item)> Results, string? Token)> QueryAsync(StateComponent store, StateQuery query, CancellationToken ct) =>
        Call("ERR_STATE_QUERY", () => store.QueryAsync(query, ct));
}
