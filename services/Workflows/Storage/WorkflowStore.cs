using System.Text.Json;
using AgenticFlow.ServiceDefaults;
using Dapr;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Workflows.Storage;

/// <summary>
/// Definitions, runs and trigger state in the Dapr state store. Keys: <c>def:{id}</c> (name and versions),
/// <c>defv:{id}:{version}</c> (one immutable document per version), <c>run:{runId}</c>, <c>triggers</c> (the enabled
/// event and schedule triggers), <c>tick:{id}:{version}:{index}</c> (a schedule's last started tick),
/// <c>agent-task:{taskId}</c> (the run waiting for a coordination task) and <c>agent-step:{runId}:{path}:{attempt}</c>
/// (the task an agent-task attempt submitted). Lists use the state query API (filter and sort on the records' fields).
/// </summary>
public sealed class WorkflowStore(DaprClient dapr, IOptions<WorkflowsOptions> options)
{
    private static readonly StateOptions InsertOnly = new() { Concurrency = ConcurrencyMode.FirstWrite };
    private string Store => options.Value.StateStore;

    private static byte[] Bytes<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, JsonSerializerOptions.Web);

    public Task<DefinitionRecord?> GetDefinitionAsync(string id, CancellationToken ct) => dapr.GetStateAsync<DefinitionRecord?>(Store, "def:" + id, cancellationToken: ct);

    // Versions never change once stored, so a read one is kept (bounded) and not read again.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DefinitionVersion> _versions = new(StringComparer.Ordinal);

    public async Task<DefinitionVersion?> GetVersionAsync(string id, int version, CancellationToken ct)
    {
        var key = $"defv:{id}:{version}";
        if (_versions.TryGetValue(key, out var known))
        {
            return known;
        }
        var stored = await dapr.GetStateAsync<DefinitionVersion?>(Store, key, cancellationToken: ct);
        if (stored is not null && _versions.Count < 10_000)
        {
            _versions[key] = stored;
        }
        return stored;
    }

    /// <summary>Stores version 1 of a new definition; false when the id is taken.</summary>
    public async Task<bool> CreateDefinitionAsync(DefinitionRecord record, DefinitionVersion version, CancellationToken ct)
    {
        try
        {
            await dapr.ExecuteStateTransactionAsync(Store,
            [
                new StateTransactionRequest($"defv:{record.Id}:{version.Version}", Bytes(version), StateOperationType.Upsert),
                new StateTransactionRequest("def:" + record.Id, Bytes(record), StateOperationType.Upsert, options: InsertOnly),
            ], cancellationToken: ct);
            return true;
        }
        catch (DaprException ex) when (ex.IsETagConflict())
        {
            return false;
        }
    }

    /// <summary>Adds the next version (older versions stay as they are); null when the definition does not exist.
    /// <paramref name="change"/> also says which versions keep their triggers on.</summary>
    public async Task<DefinitionRecord?> AddVersionAsync(string id, JsonElement definition, string name, string? description, DateTimeOffset now, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var (record, etag) = await dapr.GetStateAndETagAsync<DefinitionRecord?>(Store, "def:" + id, cancellationToken: ct);
            if (record is null)
            {
                return null;
            }
            var version = record.LatestVersion + 1;
            // The newest version's triggers fire; older versions' stop (an operator may turn them on again).
            foreach (var v in record.Versions)
            {
                v.TriggersEnabled = false;
            }
            record.Versions.Add(new VersionInfo { Version = version, CreatedAt = now, TriggersEnabled = true });
            record.LatestVersion = version;
            record.Name = name;
            record.Description = description;
            record.UpdatedAt = now;
            try
            {
                await dapr.ExecuteStateTransactionAsync(Store,
                [
                    new StateTransactionRequest($"defv:{id}:{version}", Bytes(new DefinitionVersion { Id = id, Version = version, CreatedAt = now, Definition = definition }), StateOperationType.Upsert),
                    new StateTransactionRequest("def:" + id, Bytes(record), StateOperationType.Upsert, etag),
                ], cancellationToken: ct);
                return record;
            }
            catch (DaprException ex) when (ex.IsETagConflict())
            {
                await Task.Delay(Random.Shared.Next(1, 10), ct);
            }
        }
        throw new InvalidOperationException($"definition {id} kept changing while a version was added");
    }

    public Task<DefinitionRecord?> SetTriggersEnabledAsync(string id, int version, bool enabled, CancellationToken ct) =>
        dapr.ChangeStateAsync<DefinitionRecord, DefinitionRecord?>(Store, "def:" + id, () => new DefinitionRecord(), record =>
        {
            if (record.Id.Length == 0 || record.Versions.FirstOrDefault(v => v.Version == version) is not { } info)
            {
                return (false, null);
            }
            var changed = info.TriggersEnabled != enabled;
            info.TriggersEnabled = enabled;
            return (changed, record);
        }, ct);

    public async Task<(List<DefinitionRecord> Items, string? Next)> ListDefinitionsAsync(string? token, int limit, CancellationToken ct)
    {
        var query = Query(new { EQ = new Dictionary<string, string> { ["type"] = RecordTypes.Definition } }, "id", "ASC", limit, token);
        var result = await dapr.QueryStateAsync<DefinitionRecord>(Store, query, cancellationToken: ct);
        return (result.Results.Where(r => r.Data is not null).Select(r => r.Data!).ToList(), Next(result.Token, result.Results.Count, limit));
    }

    public Task SaveRunAsync(RunRecord run, CancellationToken ct) => dapr.SaveStateAsync(Store, "run:" + run.RunId, run, cancellationToken: ct);

    /// <summary>Stores a new run; false when a run with this id exists (a trigger delivered twice).</summary>
    public async Task<bool> InsertRunAsync(RunRecord run, CancellationToken ct)
    {
        try
        {
            await dapr.ExecuteStateTransactionAsync(Store, [new StateTransactionRequest("run:" + run.RunId, Bytes(run), StateOperationType.Upsert, options: InsertOnly)], cancellationToken: ct);
            return true;
        }
        catch (DaprException ex) when (ex.IsETagConflict())
        {
            return false;
        }
    }

    public Task<RunRecord?> GetRunAsync(string runId, CancellationToken ct) => dapr.GetStateAsync<RunRecord?>(Store, "run:" + runId, cancellationToken: ct);

    /// <summary>Changes a run's status unless it already ended.</summary>
    public Task ChangeRunStatusAsync(string runId, string status, CancellationToken ct) =>
        dapr.ChangeStateAsync<RunRecord, bool>(Store, "run:" + runId, () => new RunRecord(), run =>
        {
            if (run.RunId.Length == 0 || RunStatus.IsTerminal(run.Status) || run.Status == status)
            {
                return (false, false);
            }
            run.Status = status;
            return (true, true);
        }, ct);

    public async Task<(List<RunRecord> Items, string? Next)> ListRunsAsync(string definitionId, string? status, string? token, int limit, CancellationToken ct)
    {
        var filters = new List<object>
        {
            new { EQ = new Dictionary<string, string> { ["type"] = RecordTypes.Run } },
            new { EQ = new Dictionary<string, string> { ["definitionId"] = definitionId } },
        };
        if (status is not null)
        {
            filters.Add(new { EQ = new Dictionary<string, string> { ["status"] = status } });
        }
        var query = Query(new { AND = filters }, "startedAt", "DESC", limit, token);
        var result = await dapr.QueryStateAsync<RunRecord>(Store, query, cancellationToken: ct);
        return (result.Results.Where(r => r.Data is not null).Select(r => r.Data!).ToList(), Next(result.Token, result.Results.Count, limit));
    }

    private static string Query(object filter, string sortKey, string order, int limit, string? token) => JsonSerializer.Serialize(new
    {
        filter,
        sort = new[] { new { key = sortKey, order } },
        page = token is null ? (object)new { limit } : new { limit, token },
    });

    private static string? Next(string? token, int count, int limit) => count < limit || string.IsNullOrEmpty(token) ? null : token;

    public async Task<TriggerIndex> GetTriggersAsync(CancellationToken ct) =>
        await dapr.GetStateAsync<TriggerIndex?>(Store, "triggers", cancellationToken: ct) ?? new TriggerIndex();

    /// <summary>Replaces one definition's entries in the trigger index with those of its enabled versions.</summary>
    public Task UpdateTriggersAsync(string definitionId, IReadOnlyList<TriggerEntry> entries, CancellationToken ct) =>
        dapr.ChangeStateAsync<TriggerIndex, bool>(Store, "triggers", () => new TriggerIndex(), index =>
        {
            var kept = index.Entries.Where(e => e.DefinitionId != definitionId).Concat(entries).ToList();
            var changed = !kept.SequenceEqual(index.Entries);
            index.Entries = kept;
            return (changed, changed);
        }, ct);

    public async Task<(DateTimeOffset? Tick, string ETag)> GetTickAsync(TriggerEntry trigger, CancellationToken ct)
    {
        var (tick, etag) = await dapr.GetStateAndETagAsync<DateTimeOffset?>(Store, TickKey(trigger), cancellationToken: ct);
        return (tick, etag);
    }

    /// <summary>Moves a schedule's last tick forward under its ETag; false when another replica moved it first.</summary>
    public async Task<bool> TrySetTickAsync(TriggerEntry trigger, DateTimeOffset tick, string? etag, CancellationToken ct)
    {
        try
        {
            await dapr.ExecuteStateTransactionAsync(Store,
            [
                string.IsNullOrEmpty(etag)
                    ? new StateTransactionRequest(TickKey(trigger), Bytes(tick), StateOperationType.Upsert, options: InsertOnly)
                    : new StateTransactionRequest(TickKey(trigger), Bytes(tick), StateOperationType.Upsert, etag),
            ], cancellationToken: ct);
            return true;
        }
        catch (DaprException ex) when (ex.IsETagConflict())
        {
            return false;
        }
    }

    private static string TickKey(TriggerEntry t) => $"tick:{t.DefinitionId}:{t.Version}:{t.Index}";

    public Task SaveTaskWaiterAsync(string taskId, string runId, CancellationToken ct) => dapr.SaveStateAsync(Store, "agent-task:" + taskId, runId, cancellationToken: ct);

    public Task<string?> GetTaskWaiterAsync(string taskId, CancellationToken ct) => dapr.GetStateAsync<string?>(Store, "agent-task:" + taskId, cancellationToken: ct);

    public Task SaveSubmittedTaskAsync(string stepKey, SubmittedTask task, CancellationToken ct) => dapr.SaveStateAsync(Store, "agent-step:" + stepKey, task, cancellationToken: ct);

    public Task<SubmittedTask?> GetSubmittedTaskAsync(string stepKey, CancellationToken ct) => dapr.GetStateAsync<SubmittedTask?>(Store, "agent-step:" + stepKey, cancellationToken: ct);
}

public sealed record SubmittedTask(string TaskId, string TeamId, int PollSeconds);
