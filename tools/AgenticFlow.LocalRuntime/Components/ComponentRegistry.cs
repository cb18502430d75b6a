using System.Collections.Concurrent;
using AgenticFlow.LocalRuntime.Bindings;
using AgenticFlow.LocalRuntime.PubSub;
using AgenticFlow.LocalRuntime.Secrets;
using AgenticFlow.LocalRuntime.State;
using AgenticFlow.LocalRuntime.Timing;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AgenticFlow.LocalRuntime.Components;

/// <summary>
/// Resources that sidecars of one process share: in-memory brokers by component name (so apps of one
/// <c>run</c> reach each other) and Redis connections by address.
/// </summary>
public sealed class SharedResources : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<IPubSubBroker>> _memoryBrokers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<ConnectionMultiplexer>> _redis = new(StringComparer.Ordinal);

    public IPubSubBroker InMemoryBroker(string name, Func<IPubSubBroker> create) =>
        _memoryBrokers.GetOrAdd(name, _ => new Lazy<IPubSubBroker>(create)).Value;

    public ConnectionMultiplexer Redis(ConfigurationOptions options) =>
        _redis.GetOrAdd(options.ToString(includePassword: true), _ => new Lazy<ConnectionMultiplexer>(() => ConnectionMultiplexer.Connect(options))).Value;

    public async ValueTask DisposeAsync()
    {
        foreach (var broker in _memoryBrokers.Values.Where(b => b.IsValueCreated))
        {
            await broker.Value.DisposeAsync();
        }
        foreach (var redis in _redis.Values.Where(r => r.IsValueCreated))
        {
            await redis.Value.DisposeAsync();
        }
    }
}

/// <summary>The components one sidecar loaded for its app, by name.</summary>
public sealed class ComponentRegistry : IAsyncDisposable
{
    public static readonly IReadOnlyList<string> SupportedTypes =
    [
        "state.in-memory", "state.sqlite", "state.redis", "state.postgresql",
        "pubsub.in-memory", "pubsub.redis",
        "secretstores.local.file", "secretstores.local.env",
        "bindings.localstorage", "bindings.cron",
    ];

    public Dictionary<string, StateComponent> StateStores { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, PubSubComponent> PubSubs { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, SecretStoreComponent> SecretStores { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, BindingComponent> Bindings { get; } = new(StringComparer.Ordinal);
    public IReadOnlyList<ComponentSpec> Specs { get; private set; } = [];

    /// <summary>The state component marked <c>actorStateStore: "true"</c>, where actor state, reminders and workflows
    /// live; null when none is.</summary>
    public StateComponent? ActorStateStore => StateStores.Values.FirstOrDefault(s => s.IsActorStore);

    /// <summary>Checks every component's type before anything starts, naming the file of the first unsupported one.</summary>
    public static void Validate(ResourceSet resources)
    {
        foreach (var spec in resources.Components)
        {
            if (!SupportedTypes.Contains(spec.Type))
            {
                throw new ComponentException(
                    $"{spec.SourceFile}: component '{spec.Name}' has type '{spec.Type}', which the local runtime does not support. " +
                    $"Supported types: {string.Join(", ", SupportedTypes)}. Run it with real daprd instead, or pick a supported type for local runs.");
            }
        }
    }

    public static async Task<ComponentRegistry> CreateAsync(ResourceSet resources, string appId, string consumerName, SharedResources shared, ILoggerFactory loggers, CancellationToken ct)
    {
        Validate(resources);
        var registry = new ComponentRegistry();
        var mine = resources.Components.Where(c => c.AppliesTo(appId)).ToList();
        registry.Specs = mine;

        // Secret stores first: other components may take their metadata from them.
        foreach (var spec in mine.Where(c => c.Category == "secretstores"))
        {
            var meta = registry.Resolve(spec);
            ISecretStore store = spec.Type switch
            {
                "secretstores.local.file" => new LocalFileSecretStore(
                    Required(spec, meta, "secretsFile"),
                    meta.GetValueOrDefault("nestedSeparator") is { Length: > 0 } sep ? sep : ":",
                    IsTrue(meta, "multiValued")),
                _ => new EnvSecretStore(meta.GetValueOrDefault("prefix") ?? ""),
            };
            registry.SecretStores[spec.Name] = new SecretStoreComponent(spec.Name, spec.Type, store);
        }

        foreach (var spec in mine.Where(c => c.Category != "secretstores"))
        {
            var meta = registry.Resolve(spec);
            try
            {
                switch (spec.Category)
                {
                    case "state":
                        var store = CreateStateStore(spec, meta, shared);
                        await store.InitAsync(ct);
                        var prefix = StateComponent.ResolvePrefix(meta.GetValueOrDefault("keyPrefix"), appId, spec.Name);
                        registry.StateStores[spec.Name] = new StateComponent(spec.Name, spec.Type, store, prefix, IsTrue(meta, "actorStateStore"));
                        break;
                    case "pubsub":
                        var broker = CreateBroker(spec, meta, consumerName, shared, loggers.CreateLogger("pubsub." + spec.Name));
                        await broker.InitAsync(ct);
                        var retry = resources.InboundRetryByComponent.GetValueOrDefault(spec.Name) ?? RetryPolicy.DeliveryDefault;
                        registry.PubSubs[spec.Name] = new PubSubComponent(spec.Name, spec.Type, broker, retry);
                        break;
                    case "bindings":
                        registry.Bindings[spec.Name] = spec.Type == "bindings.cron"
                            ? new BindingComponent(spec.Name, spec.Type, null, CronSchedule.Parse(Required(spec, meta, "schedule")))
                            : new BindingComponent(spec.Name, spec.Type, new LocalStorageBinding(Required(spec, meta, "rootPath")), null);
                        break;
                }
            }
            catch (Exception ex) when (ex is not ComponentException and not OperationCanceledException)
            {
                throw new ComponentException($"{spec.SourceFile}: component '{spec.Name}' ({spec.Type}) failed to start: {ex.Message}");
            }
        }
        return registry;
    }

    private static IStateStore CreateStateStore(ComponentSpec spec, Dictionary<string, string> meta, SharedResources shared) => spec.Type switch
    {
        "state.in-memory" => new InMemoryStateStore(TimeProvider.System),
        "state.sqlite" => SqlStateStore.Sqlite(Required(spec, meta, "connectionString"), TableName(meta), TimeProvider.System),
        "state.postgresql" => SqlStateStore.Postgres(PostgresConnectionString.ToNpgsql(Required(spec, meta, "connectionString")), TableName(meta), TimeProvider.System),
        _ => new RedisStateStore(shared.Redis(RedisOptions(spec, meta)), RedisDb(meta)),
    };

    private static IPubSubBroker CreateBroker(ComponentSpec spec, Dictionary<string, string> meta, string consumerName, SharedResources shared, ILogger logger)
    {
        var concurrency = int.TryParse(meta.GetValueOrDefault("concurrency"), out var c) && c > 0 ? c : 10;
        if (spec.Type == "pubsub.in-memory")
        {
            return shared.InMemoryBroker(spec.Name, () => new InMemoryBroker(concurrency, logger));
        }
        var options = RedisOptions(spec, meta);
        var readerOptions = options.Clone();
        readerOptions.AsyncTimeout = readerOptions.SyncTimeout = 15_000;
        // The blocking XREADGROUP is parsed by hand; RESP2 gives it one shape (RESP3 would answer a map).
        readerOptions.Protocol = RedisProtocol.Resp2;
        return new RedisStreamsBroker(
            shared.Redis(options),
            readerOptions,
            RedisDb(meta),
            new RedisStreamsOptions(
                consumerName,
                Duration(meta, "processingTimeout", TimeSpan.FromSeconds(60)),
                Duration(meta, "redeliverInterval", TimeSpan.FromSeconds(15)),
                concurrency,
                long.TryParse(meta.GetValueOrDefault("maxLenApprox"), out var max) ? max : null),
            logger);
    }

    private static ConfigurationOptions RedisOptions(ComponentSpec spec, Dictionary<string, string> meta)
    {
        var options = ConfigurationOptions.Parse(Required(spec, meta, "redisHost"));
        if (meta.GetValueOrDefault("redisPassword") is { Length: > 0 } password)
        {
            options.Password = password;
        }
        if (meta.GetValueOrDefault("redisUsername") is { Length: > 0 } user)
        {
            options.User = user;
        }
        options.Ssl = IsTrue(meta, "enableTLS");
        options.AbortOnConnectFail = false;
        options.AllowAdmin = false;
        return options;
    }

    private static int RedisDb(Dictionary<string, string> meta) => int.TryParse(meta.GetValueOrDefault("redisDB"), out var db) ? db : 0;

    private static string TableName(Dictionary<string, string> meta)
    {
        var table = meta.GetValueOrDefault("tableName") is { Length: > 0 } t ? t : "state";
        return System.Text.RegularExpressions.Regex.IsMatch(table, "^[A-Za-z_][A-Za-z0-9_]*$")
            ? table
            : throw new ComponentException($"tableName '{table}' must be a plain SQL identifier");
    }

    private static TimeSpan Duration(Dictionary<string, string> meta, string key, TimeSpan fallback) =>
        DurationParser.TryParse(meta.GetValueOrDefault(key), out var d) ? d : fallback;

    private static bool IsTrue(Dictionary<string, string> meta, string key) =>
        string.Equals(meta.GetValueOrDefault(key), "true", StringComparison.OrdinalIgnoreCase);

    private static string Required(ComponentSpec spec, Dictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out var v) && v.Length > 0 ? v : throw new ComponentException($"{spec.SourceFile}: component '{spec.Name}' needs metadata '{key}'");

    /// <summary>Metadata values with every <c>secretKeyRef</c> looked up in the component's <c>auth.secretStore</c>.</summary>
    private Dictionary<string, string> Resolve(ComponentSpec spec)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in spec.Metadata)
        {
            if (item.SecretName is null)
            {
                values[item.Name] = item.Value ?? "";
                continue;
            }
            if (spec.SecretStore is null || !SecretStores.TryGetValue(spec.SecretStore, out var store))
            {
                throw new ComponentException($"{spec.SourceFile}: component '{spec.Name}' takes '{item.Name}' from a secret, but names no loaded secret store in auth.secretStore");
            }
            var secret = store.Store.Get(item.SecretName)
                ?? throw new ComponentException($"{spec.SourceFile}: component '{spec.Name}': secret '{item.SecretName}' is not in secret store '{spec.SecretStore}'");
            var key = item.SecretKey ?? item.SecretName;
            values[item.Name] = secret.TryGetValue(key, out var v)
                ? v
                : throw new ComponentException($"{spec.SourceFile}: component '{spec.Name}': secret '{item.SecretName}' has no key '{key}'");
        }
        return values;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var state in StateStores.Values)
        {
            await state.Store.DisposeAsync();
        }
        foreach (var pubsub in PubSubs.Values.Where(p => p.Type != "pubsub.in-memory"))
        {
            await pubsub.Broker.DisposeAsync();
        }
    }
}
