namespace AgenticFlow.LocalRuntime.Secrets;

/// <summary>
/// One store's entry under <c>spec.secrets.scopes</c> of a Dapr Configuration: which secrets the app may read.
/// Same rule as daprd: a non-empty <c>allowedSecrets</c> list is the whole answer; otherwise a name in
/// <c>deniedSecrets</c> is refused; otherwise <c>defaultAccess</c> decides (allow unless it says deny).
/// </summary>
public sealed record SecretScope(string StoreName, bool DefaultAllow, IReadOnlySet<string> Allowed, IReadOnlySet<string> Denied)
{
    public bool Allows(string key)
    {
        if (Allowed.Count > 0)
        {
            return Allowed.Contains(key);
        }
        return !Denied.Contains(key) && DefaultAllow;
    }
}

/// <summary>The secret scopes of an app's Configuration, by store name; a store without an entry is open, as in daprd.</summary>
public sealed class SecretScopes(IReadOnlyDictionary<string, SecretScope> byStore)
{
    public static readonly SecretScopes Open = new(new Dictionary<string, SecretScope>());

    public IReadOnlyDictionary<string, SecretScope> ByStore { get; } = byStore;

    public bool Allows(string storeName, string key) => !ByStore.TryGetValue(storeName, out var scope) || scope.Allows(key);
}
