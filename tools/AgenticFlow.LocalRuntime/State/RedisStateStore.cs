using StackExchange.Redis;

namespace AgenticFlow.LocalRuntime.State;

/// <summary>
/// <c>state.redis</c>: each item is a hash (<c>data</c>, <c>version</c>) as daprd stores it, with Redis' own
/// expiry for TTL. A transaction is one Lua script that checks every ETag before it writes anything.
/// </summary>
public sealed class RedisStateStore(IConnectionMultiplexer redis, int database) : IStateStore
{
    // ARGV per operation: kind (u|d), etag ('' = none), mustNotExist (1|0), value, ttlMs (0 = none), firstVersion.
    private const string TransactionScript = """
        local n = #KEYS
        for i = 1, n do
          local base = (i - 1) * 6
          local etag = ARGV[base + 2]
          local current = redis.call('HGET', KEYS[i], 'version')
          if etag ~= '' then
            if current == false or current ~= etag then return 'MISMATCH:' .. i end
          elseif ARGV[base + 3] == '1' and current ~= false then
            return 'MISMATCH:' .. i
          end
        end
        for i = 1, n do
          local base = (i - 1) * 6
          if ARGV[base + 1] == 'd' then
            redis.call('DEL', KEYS[i])
          else
            local current = redis.call('HGET', KEYS[i], 'version')
            local version = ARGV[base + 6]
            if current ~= false then version = tostring(tonumber(current) + 1) end
            redis.call('HSET', KEYS[i], 'data', ARGV[base + 4], 'version', version)
            local ttl = tonumber(ARGV[base + 5])
            if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) else redis.call('PERSIST', KEYS[i]) end
          end
        end
        return 'OK'
        """;

    private static readonly RedisValue[] Fields = ["data", "version"];

    private IDatabase Db => redis.GetDatabase(database);

    public Task InitAsync(CancellationToken cancellationToken) => Db.PingAsync();

    public async Task<StateItem?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var db = Db;
        var valuesTask = db.HashGetAsync(key, Fields);
        var ttlTask = db.KeyTimeToLiveAsync(key);
        var values = await valuesTask;
        var ttl = await ttlTask;
        return ToItem(values, ttl);
    }

    public async Task<IReadOnlyDictionary<string, StateItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        var batch = Db.CreateBatch();
        var pending = keys.Distinct().Select(k => (Key: k, Values: batch.HashGetAsync(k, Fields), Ttl: batch.KeyTimeToLiveAsync(k))).ToList();
        batch.Execute();
        var result = new Dictionary<string, StateItem>(StringComparer.Ordinal);
        foreach (var (key, values, ttl) in pending)
        {
            if (ToItem(await values, await ttl) is { } item)
            {
                result[key] = item;
            }
        }
        return result;
    }

    public async Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken)
    {
        var keys = new RedisKey[operations.Count];
        var args = new RedisValue[operations.Count * 6];
        for (var i = 0; i < operations.Count; i++)
        {
            var op = operations[i];
            if (op.HasETag)
            {
                _ = op.ExpectedVersion; // throws for an ETag that is not a version number
            }
            keys[i] = op.Key;
            args[i * 6] = op.Kind == StateOperationKind.Delete ? "d" : "u";
            args[i * 6 + 1] = op.ETag ?? "";
            args[i * 6 + 2] = op.MustNotExist ? "1" : "0";
            args[i * 6 + 3] = op.Value ?? [];
            args[i * 6 + 4] = op.TtlSeconds is > 0 ? op.TtlSeconds.Value * 1000L : 0L;
            args[i * 6 + 5] = Versions.First();
        }
        var result = (string?)await Db.ScriptEvaluateAsync(TransactionScript, keys, args);
        if (result is not null && result.StartsWith("MISMATCH:", StringComparison.Ordinal))
        {
            var index = int.Parse(result["MISMATCH:".Length..], System.Globalization.CultureInfo.InvariantCulture) - 1;
            throw StateETagException.Mismatch(operations[index].Key);
        }
    }

    public async Task<IReadOnlyList<KeyValuePair<string, StateItem>>> ScanAsync(string prefix, CancellationToken cancellationToken)
    {
        var server = redis.GetServers().First(s => !s.IsReplica);
        var keys = new List<string>();
        var pattern = EscapeGlob(prefix) + "*";
        await foreach (var key in server.KeysAsync(database, pattern, pageSize: 500).WithCancellation(cancellationToken))
        {
            keys.Add(key!);
        }
        var items = await GetManyAsync(keys, cancellationToken);
        return items.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
    }

    private static string EscapeGlob(string text)
    {
        var sb = new System.Text.StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
            {
                sb.Append('\\');
            }
            sb.Append(c);
        }
        return sb.ToString();
    }

    private static StateItem? ToItem(RedisValue[] values, TimeSpan? ttl)
    {
        if (values[1].IsNull)
        {
            return null;
        }
        return new StateItem((byte[])values[0]! ?? [], (string)values[1]!, ttl is { } t ? DateTimeOffset.UtcNow + t : null);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
