using System.Text.Json;
using AgenticFlow.Agents.Domain;
using AgenticFlow.ServiceDefaults;
using Dapr;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Agents.Storage;

/// <summary>One agent as the read model knows it: what lists and capability lookups need, no more.</summary>
public sealed record AgentSummary(string Id, string Name, string Kind, string Status, string Health, double Load, int ActiveTasks,
    int MaxConcurrentTasks, IReadOnlyList<Capability> Capabilities, IReadOnlyDictionary<string, string> Labels, long Version)
{
    public bool Available => Health == AgentHealth.Healthy && Status is AgentStatuses.Idle or AgentStatuses.Busy && ActiveTasks < MaxConcurrentTasks;

    public static AgentSummary Of(AgentEvent e) =>
        new(e.AgentId, e.Name, e.Kind, e.Status, e.Health, e.Load, e.ActiveTasks, e.MaxConcurrentTasks, e.Capabilities, e.Labels, e.Version);
}

/// <summary>
/// The CQRS read model behind list and capability queries: agent summaries spread over a fixed number of shard
/// documents in the state store, each written under its ETag. Actors feed it with their events; a query reads the
/// shards (one bulk read), never the actors. An event older than what a shard holds for that agent is ignored, so
/// events applied twice or out of order leave the newest summary. Changes to one shard that arrive together are
/// written together (one read and one write for the lot), and each caller waits for the write that holds its change,
/// so a list right after a change sees it.
/// </summary>
public sealed class AgentDirectory(DaprClient dapr, IOptions<AgentsOptions> options)
{
    private const int MaxAttempts = 50, MaxBatch = 256;
    private static readonly StateOptions InsertOnly = new() { Concurrency = ConcurrencyMode.FirstWrite };
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ShardWriter> _writers = new(StringComparer.Ordinal);

    private string Store => options.Value.StateStore;

    private string ShardKey(string agentId) =>
        $"agents-directory-{System.IO.Hashing.XxHash32.HashToUInt32(System.Text.Encoding.UTF8.GetBytes(agentId)) % (uint)options.Value.DirectoryShards}";

    public Task ApplyAsync(AgentEvent e, CancellationToken ct = default) =>
        ChangeAsync(e.AgentId, shard =>
        {
            if (shard.TryGetValue(e.AgentId, out var known) && known.Version > e.Version)
            {
                return false;
            }
            shard[e.AgentId] = AgentSummary.Of(e);
            return true;
        });

    public Task RemoveAsync(string agentId, CancellationToken ct = default) => ChangeAsync(agentId, shard => shard.Remove(agentId));

    private Task ChangeAsync(string agentId, Func<Dictionary<string, AgentSummary>, bool> change)
    {
        var key = ShardKey(agentId);
        return _writers.GetOrAdd(key, k => new ShardWriter(this, k)).Enqueue(change);
    }

    /// <summary>One writer per shard: takes every change waiting for the shard and writes them in one go.</summary>
    private sealed class ShardWriter
    {
        private readonly AgentDirectory _directory;
        private readonly string _key;
        private readonly System.Threading.Channels.Channel<(Func<Dictionary<string, AgentSummary>, bool> Change, TaskCompletionSource Done)> _pending =
            System.Threading.Channels.Channel.CreateUnbounded<(Func<Dictionary<string, AgentSummary>, bool>, TaskCompletionSource)>(new() { SingleReader = true });

        public ShardWriter(AgentDirectory directory, string key)
        {
            _directory = directory;
            _key = key;
            _ = Task.Run(WriteLoopAsync);
        }

        public Task Enqueue(Func<Dictionary<string, AgentSummary>, bool> change)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _pending.Writer.TryWrite((change, done));
            return done.Task;
        }

        private async Task WriteLoopAsync()
        {
            var batch = new List<(Func<Dictionary<string, AgentSummary>, bool> Change, TaskCompletionSource Done)>();
            while (await _pending.Reader.WaitToReadAsync())
            {
                while (batch.Count < MaxBatch && _pending.Reader.TryRead(out var item))
                {
                    batch.Add(item);
                }
                try
                {
                    await _directory.WriteAsync(_key, batch.Select(b => b.Change).ToList());
                    batch.ForEach(b => b.Done.TrySetResult());
                }
                catch (Exception ex)
                {
                    // Each caller's change fails with the write: the actor's call fails and its next change heals the summary.
                    batch.ForEach(b => b.Done.TrySetException(ex));
                }
                batch.Clear();
            }
        }
    }

    private async Task WriteAsync(string key, IReadOnlyList<Func<Dictionary<string, AgentSummary>, bool>> changes)
    {
        for (var attempt = 0; ; attempt++)
        {
            var (shard, etag) = await dapr.GetStateAndETagAsync<Dictionary<string, AgentSummary>?>(Store, key);
            shard ??= new Dictionary<string, AgentSummary>(StringComparer.Ordinal);
            var changed = false;
            foreach (var change in changes)
            {
                changed |= change(shard);
            }
            if (!changed)
            {
                return;
            }
            try
            {
                await dapr.ExecuteStateTransactionAsync(Store,
                [
                    string.IsNullOrEmpty(etag)
                        ? new StateTransactionRequest(key, JsonSerializer.SerializeToUtf8Bytes(shard, Json), StateOperationType.Upsert, options: InsertOnly)
                        : new StateTransactionRequest(key, JsonSerializer.SerializeToUtf8Bytes(shard, Json), StateOperationType.Upsert, etag),
                ]);
                return;
            }
            catch (DaprException ex) when (ex.IsETagConflict() && attempt < MaxAttempts)
            {
                // Another replica of the service wrote the shard meanwhile.
                await Task.Delay(Random.Shared.Next(1, 5 + attempt * 2));
            }
        }
    }

    /// <summary>Every agent the read model knows, ordered by id.</summary>
    public async Task<IReadOnlyList<AgentSummary>> AllAsync(CancellationToken ct = default)
    {
        var keys = Enumerable.Range(0, options.Value.DirectoryShards).Select(i => $"agents-directory-{i}").ToList();
        var items = await dapr.GetBulkStateAsync(Store, keys, parallelism: 8, cancellationToken: ct);
        var all = new List<AgentSummary>();
        foreach (var item in items.Where(i => !string.IsNullOrEmpty(i.Value)))
        {
            var shard = JsonSerializer.Deserialize<Dictionary<string, AgentSummary>>(item.Value, Json);
            all.AddRange(shard?.Values.ToList() ?? []);
        }
        return all.OrderBy(a => a.Id, StringComparer.Ordinal).ToList();
    }
}

/// <summary>Tells the read model and pub/sub what an actor changed (after the actor saved it).</summary>
public sealed class AgentChanges(AgentDirectory directory, DaprClient dapr, IOptions<AgentsOptions> options, ILogger<AgentChanges> logger)
{
    public async Task ApplyAsync(AgentRecord agent, string topic, DateTimeOffset at)
    {
        var e = AgentEvent.Of(agent, at);
        await directory.ApplyAsync(e);
        await dapr.TryPublishEventAsync(options.Value.PubSub, topic, e, logger);
    }

    public async Task RemoveAsync(AgentRecord agent, DateTimeOffset at)
    {
        await directory.RemoveAsync(agent.Id);
        await dapr.TryPublishEventAsync(options.Value.PubSub, AgentTopics.Deregistered, AgentEvent.Of(agent, at) with { Status = "deregistered" }, logger);
    }
}
