using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace AgenticFlow.LocalRuntime.State;

/// <summary>
/// The one writer of a SQLite file in this process. SQLite lets one connection write at a time, and
/// Microsoft.Data.Sqlite runs its "async" calls synchronously, so writers on pooled connections each blocked a
/// thread-pool thread while they waited for the lock (up to the busy timeout), and each commit paid its own fsync.
/// Here every transaction of every sidecar in the process is queued to one dedicated thread, which commits what is
/// waiting together (group commit): each transaction inside its own savepoint, so a failed ETag check rolls back
/// that transaction alone. A caller hears back only after the commit that holds its writes.
/// WAL with <c>synchronous = NORMAL</c>: a commit survives the process being killed (it is in the WAL file); only an
/// operating-system crash or power loss can take back the last commits.
/// </summary>
internal sealed class SqliteWriter
{
    private const int MaxBatch = 256;
    private static readonly Dictionary<string, SqliteWriter> Writers = new(StringComparer.Ordinal);
    private static readonly Lock WritersGate = new();

    private readonly string _path;
    private readonly string _connectionString;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Thread _thread;
    private int _users;

    private SqliteWriter(string path, string connectionString)
    {
        _path = path;
        _connectionString = connectionString;
        _thread = new Thread(Run) { IsBackground = true, Name = "sqlite-writer" };
        _thread.Start();
    }

    /// <summary>The writer of the file at <paramref name="dataSource"/>, shared by every store of the process that
    /// uses the file; each store gives it back with <see cref="Release"/>, and the last one closes it.</summary>
    public static SqliteWriter Acquire(string dataSource, string connectionString)
    {
        var path = Path.GetFullPath(dataSource);
        lock (WritersGate)
        {
            if (!Writers.TryGetValue(path, out var writer))
            {
                writer = new SqliteWriter(path, connectionString);
                Writers[path] = writer;
            }
            writer._users++;
            return writer;
        }
    }

    public void Release()
    {
        lock (WritersGate)
        {
            if (--_users > 0)
            {
                return;
            }
            Writers.Remove(_path);
        }
        // Whatever is queued is still written; then the thread closes the connection and ends.
        _queue.Writer.TryComplete();
    }

    public Task ExecuteAsync(Action<SqliteConnection, SqliteTransaction> apply, CancellationToken cancellationToken)
    {
        var pending = new Pending(apply, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(SqliteWriter), "the state store is closed");
        }
        // A caller that stops waiting does not take its writes back: they commit, or fail, with the batch.
        return pending.Done.Task.WaitAsync(cancellationToken);
    }

    private void Run()
    {
        SqliteConnection? connection = null;
        var batch = new List<Pending>(MaxBatch);
        while (_queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }
            try
            {
                connection ??= Open();
                Commit(connection, batch);
            }
            catch (Exception ex)
            {
                // The batch is lost as a whole (nothing of it committed); the next one starts on a fresh connection.
                foreach (var p in batch)
                {
                    p.Done.TrySetException(ex);
                }
                connection?.Dispose();
                connection = null;
            }
            batch.Clear();
        }
        connection?.Dispose();
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        // Another process may hold the write lock (a second runtime on the same file): this thread waits, no other.
        pragma.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    private static void Commit(SqliteConnection connection, List<Pending> batch)
    {
        var outcomes = new Exception?[batch.Count];
        using (var transaction = connection.BeginTransaction(deferred: false))
        {
            for (var i = 0; i < batch.Count; i++)
            {
                transaction.Save("op");
                try
                {
                    batch[i].Apply(connection, transaction);
                    transaction.Release("op");
                }
                catch (Exception ex) when (ex is not SqliteException { SqliteErrorCode: 5 or 6 or 10 or 11 or 13 })
                {
                    // This transaction's own failure (an ETag check, a constraint, a bad value): undo just its writes.
                    // The database's own trouble (busy, locked, I/O, corrupt, full) fails the whole batch below.
                    transaction.Rollback("op");
                    transaction.Release("op");
                    outcomes[i] = ex;
                }
            }
            transaction.Commit();
        }
        for (var i = 0; i < batch.Count; i++)
        {
            if (outcomes[i] is { } failed)
            {
                batch[i].Done.TrySetException(failed);
            }
            else
            {
                batch[i].Done.TrySetResult();
            }
        }
    }

    private sealed record Pending(Action<SqliteConnection, SqliteTransaction> Apply, TaskCompletionSource Done);
}
