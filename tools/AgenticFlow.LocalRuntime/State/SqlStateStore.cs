using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace AgenticFlow.LocalRuntime.State;

/// <summary>
/// <c>state.sqlite</c> and <c>state.postgresql</c>: one table of (key, value, etag, expires).
/// ETag checks are conditions of the writing statement itself, so concurrent writers cannot both win,
/// and a transaction rolls back whole when any condition fails.
/// </summary>
public sealed class SqlStateStore : IStateStore
{
    private readonly Func<CancellationToken, ValueTask<DbConnection>> _open;
    private readonly string _table;
    private readonly string _createTable;
    private readonly TimeProvider _time;
    private readonly IAsyncDisposable? _owned;
    private readonly SqliteWriter? _sqliteWriter;

    private SqlStateStore(Func<CancellationToken, ValueTask<DbConnection>> open, string table, string createTable, TimeProvider time, IAsyncDisposable? owned, SqliteWriter? sqliteWriter = null)
    {
        _open = open;
        _table = table;
        _createTable = createTable;
        _time = time;
        _owned = owned;
        _sqliteWriter = sqliteWriter;
    }

    public static SqlStateStore Sqlite(string connectionString, string table, TimeProvider time)
    {
        var builder = connectionString.Contains('=')
            ? new SqliteConnectionStringBuilder(connectionString)
            : new SqliteConnectionStringBuilder { DataSource = connectionString.StartsWith("file:", StringComparison.Ordinal) ? connectionString[5..].Split('?')[0] : connectionString };
        builder.Pooling = true;
        if (Path.GetDirectoryName(Path.GetFullPath(builder.DataSource)) is { } dir)
        {
            Directory.CreateDirectory(dir);
        }
        // Readers take pooled connections (WAL lets them read while a write is under way; Microsoft.Data.Sqlite retries
        // a busy database until the command timeout); every write goes through the file's one writer.
        builder.DefaultTimeout = 5;
        var cs = builder.ToString();
        return new SqlStateStore(
            async ct =>
            {
                var c = new SqliteConnection(cs);
                await c.OpenAsync(ct);
                return c;
            },
            table,
            $"PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS {table} (key TEXT NOT NULL PRIMARY KEY, value BLOB NOT NULL, etag INTEGER NOT NULL, expires INTEGER NULL);",
            time,
            null,
            SqliteWriter.Acquire(builder.DataSource, cs));
    }

    public static SqlStateStore Postgres(string connectionString, string table, TimeProvider time)
    {
        var dataSource = NpgsqlDataSource.Create(connectionString);
        return new SqlStateStore(
            async ct => await dataSource.OpenConnectionAsync(ct),
            table,
            $"CREATE TABLE IF NOT EXISTS {table} (key TEXT COLLATE \"C\" NOT NULL PRIMARY KEY, value BYTEA NOT NULL, etag BIGINT NOT NULL, expires BIGINT NULL);",
            time,
            dataSource);
    }

    public async Task InitAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _open(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = _createTable;
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // Two sidecars created the table at the same moment; it exists now.
        }
    }

    public async Task<StateItem?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var items = await GetManyAsync([key], cancellationToken);
        return items.TryGetValue(key, out var item) ? item : null;
    }

    public async Task<IReadOnlyDictionary<string, StateItem>> GetManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, StateItem>(StringComparer.Ordinal);
        if (keys.Count == 0)
        {
            return result;
        }
        await using var connection = await _open(cancellationToken);
        await using var command = connection.CreateCommand();
        var names = new List<string>();
        foreach (var key in keys.Distinct())
        {
            var name = "@k" + names.Count;
            names.Add(name);
            Add(command, name, key);
        }
        Add(command, "@now", _time.GetUtcNow().ToUnixTimeMilliseconds());
        command.CommandText = $"SELECT key, value, etag, expires FROM {_table} WHERE key IN ({string.Join(',', names)}) AND (expires IS NULL OR expires > @now)";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result[reader.GetString(0)] = Read(reader);
        }
        return result;
    }

    public async Task<IReadOnlyList<KeyValuePair<string, StateItem>>> ScanAsync(string prefix, CancellationToken cancellationToken)
    {
        await using var connection = await _open(cancellationToken);
        await using var command = connection.CreateCommand();
        // Range on the primary key rather than LIKE, so '%' and '_' in keys need no escaping.
        command.CommandText = $"SELECT key, value, etag, expires FROM {_table} WHERE key >= @lo AND key < @hi AND (expires IS NULL OR expires > @now) ORDER BY key";
        Add(command, "@lo", prefix);
        Add(command, "@hi", prefix + char.MaxValue);
        Add(command, "@now", _time.GetUtcNow().ToUnixTimeMilliseconds());
        var list = new List<KeyValuePair<string, StateItem>>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(KeyValuePair.Create(reader.GetString(0), Read(reader)));
        }
        return list;
    }

    public async Task ExecuteAsync(IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken)
    {
        if (_sqliteWriter is not null)
        {
            // On the writer's own thread, where Microsoft.Data.Sqlite's calls complete synchronously.
            await _sqliteWriter.ExecuteAsync((connection, transaction) => ApplyAsync(connection, transaction, operations, _time.GetUtcNow()).GetAwaiter().GetResult(), cancellationToken);
            return;
        }
        await using var connection = await _open(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ApplyAsync(connection, transaction, operations, _time.GetUtcNow());
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The operations' statements inside <paramref name="transaction"/>; throws on the first failed ETag check.</summary>
    private async Task ApplyAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<StateOperation> operations, DateTimeOffset now)
    {
        foreach (var op in operations)
        {
            await Execute(connection, transaction, "DELETE FROM {0} WHERE key = @key AND expires IS NOT NULL AND expires <= @now",
                ("@key", op.Key), ("@now", now.ToUnixTimeMilliseconds()));

            var expires = op.ExpiresAt(now)?.ToUnixTimeMilliseconds();
            var (sql, mustAffect) = op switch
            {
                { Kind: StateOperationKind.Delete, HasETag: true } => ("DELETE FROM {0} WHERE key = @key AND etag = @etag", true),
                { Kind: StateOperationKind.Delete } => ("DELETE FROM {0} WHERE key = @key", false),
                { HasETag: true } => ("UPDATE {0} SET value = @value, etag = etag + 1, expires = @expires WHERE key = @key AND etag = @etag", true),
                { MustNotExist: true } => ("INSERT INTO {0} (key, value, etag, expires) VALUES (@key, @value, @first, @expires) ON CONFLICT (key) DO NOTHING", true),
                _ => ("INSERT INTO {0} (key, value, etag, expires) VALUES (@key, @value, @first, @expires) ON CONFLICT (key) DO UPDATE SET value = excluded.value, etag = {0}.etag + 1, expires = excluded.expires", false),
            };
            var affected = await Execute(connection, transaction, sql,
                ("@key", op.Key),
                ("@etag", op.HasETag ? op.ExpectedVersion : 0L),
                ("@value", op.Value ?? []),
                ("@first", Versions.First()),
                ("@expires", expires));
            if (mustAffect && affected != 1)
            {
                throw StateETagException.Mismatch(op.Key);
            }
        }
    }

    private async Task<int> Execute(DbConnection connection, DbTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = string.Format(System.Globalization.CultureInfo.InvariantCulture, sql, _table);
        foreach (var (name, value) in parameters)
        {
            if (sql.Contains(name, StringComparison.Ordinal))
            {
                Add(command, name, value);
            }
        }
        return await command.ExecuteNonQueryAsync();
    }

    private static void Add(DbCommand command, string name, object? value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        if (value is null && p is NpgsqlParameter np)
        {
            np.NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint;
        }
        command.Parameters.Add(p);
    }

    private static StateItem Read(DbDataReader reader) => new(
        (byte[])reader.GetValue(1),
        reader.GetInt64(2).ToString(System.Globalization.CultureInfo.InvariantCulture),
        reader.IsDBNull(3) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)));

    public async ValueTask DisposeAsync()
    {
        _sqliteWriter?.Release();
        if (_owned is not null)
        {
            await _owned.DisposeAsync();
        }
    }
}
