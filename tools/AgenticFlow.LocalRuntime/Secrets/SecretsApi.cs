using System.Net;
using AgenticFlow.LocalRuntime.Errors;

namespace AgenticFlow.LocalRuntime.Secrets;

/// <summary>The secrets building block, whatever the wire: reads a store, within the app's secret scopes.</summary>
public sealed class SecretsApi(IReadOnlyDictionary<string, SecretStoreComponent> stores, SecretScopes scopes)
{
    public IReadOnlyDictionary<string, string> Get(string storeName, string key)
    {
        var store = StoreNamed(storeName);
        if (!scopes.Allows(storeName, key))
        {
            throw new DaprError(HttpStatusCode.Forbidden, Grpc.Core.StatusCode.PermissionDenied, "ERR_PERMISSION_DENIED",
                $"access denied by policy to get \"{key}\" from \"{storeName}\"");
        }
        return store.Store.Get(key) ?? throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, "ERR_SECRET_GET",
            $"failed getting secret with key {key} from secret store {storeName}: secret {key} not found");
    }

    /// <summary>Every secret of the store this app may read; the others are left out, as daprd does.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> GetBulk(string storeName) =>
        StoreNamed(storeName).Store.GetAll().Where(kv => scopes.Allows(storeName, kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    private SecretStoreComponent StoreNamed(string name)
    {
        if (stores.Count == 0)
        {
            throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.FailedPrecondition, "ERR_SECRET_STORES_NOT_CONFIGURED", "secret store is not configured");
        }
        return stores.TryGetValue(name, out var s) ? s : throw DaprError.SecretStoreNotFound(name);
    }
}
