namespace AgenticFlow.LocalRuntime.State;

/// <summary>
/// A configured state component as an app sees it: keys prefixed the way daprd does (<c>keyPrefix</c>:
/// <c>appid</c> by default, <c>name</c>, <c>none</c>, or any fixed string), over an <see cref="IStateStore"/>.
/// </summary>
public sealed class StateComponent(string name, string type, IStateStore store, string keyPrefix, bool isActorStore)
{
    public const string Separator = "||";

    public string Name { get; } = name;
    public string Type { get; } = type;
    public bool IsActorStore { get; } = isActorStore;
    public IStateStore Store { get; } = store;

    public static string ResolvePrefix(string? keyPrefixSetting, string appId, string componentName) => keyPrefixSetting switch
    {
        null or "" or "appid" => appId + Separator,
        "name" => componentName + Separator,
        "none" => "",
        var custom => custom + Separator,
    };

    public string Full(string key) => keyPrefix + key;

    public string Strip(string storedKey) => storedKey.StartsWith(keyPrefix, StringComparison.Ordinal) ? storedKey[keyPrefix.Length..] : storedKey;

    public Task<StateItem?> GetAsync(string key, CancellationToken ct) => Store.GetAsync(Full(key), ct);

    public async Task<IReadOnlyList<(string Key, StateItem? Item)>> GetBulkAsync(IReadOnlyList<string> keys, CancellationToken ct)
    {
        var found = await Store.GetManyAsync(keys.Select(Full).ToList(), ct);
        return keys.Select(k => (k, found.TryGetValue(Full(k), out var item) ? item : null)).ToList();
    }

    public Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken ct) =>
        Store.ExecuteAsync(operations.Select(o => o with { Key = Full(o.Key) }).ToList(), ct);

    public async Task<(List<(string Key, StateItem Item)> Results, string? Token)> QueryAsync(StateQuery query, CancellationToken ct)
    {
        var items = await Store.ScanAsync(keyPrefix, ct);
        return query.Apply(items.Select(kv => (Strip(kv.Key), kv.Value)));
    }
}
