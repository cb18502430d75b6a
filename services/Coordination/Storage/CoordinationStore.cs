using System.Collections.Concurrent;
using System.Text.Json;
using AgenticFlow.Coordination.Domain;
using AgenticFlow.ServiceDefaults;
using Dapr;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Coordination.Storage;

/// <summary>An agent's place in a team: reserved while a formation runs, a member once the team exists.</summary>
public sealed record Membership(string AgentId, string TeamId, string State, DateTimeOffset At)
{
    public const string Reserved = "reserved", Joined = "member";
}

/// <summary>One change to a team: its board, the tasks it touched, and other writes of the same transaction.</summary>
public sealed class TeamChange(TeamBoard board, TaskLedger ledger)
{
    public TeamBoard Board { get; } = board;
    public TaskLedger Tasks { get; } = ledger;
    public List<StateTransactionRequest> Writes { get; } = [];
}

/// <summary>
/// Teams, tasks, memberships and consensus rounds in the Dapr state store. A team's board and every task it
/// changes commit in one transaction under the board's ETag; within a replica, changes to one team also wait
/// for each other, so they do not even have to retry against each other.
/// </summary>
public sealed class CoordinationStore(DaprClient dapr, IOptions<CoordinationOptions> options)
{
    private const int MaxAttempts = 50;
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly StateOptions InsertOnly = new() { Concurrency = ConcurrencyMode.FirstWrite };

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _teamLocks = new(StringComparer.Ordinal);

    private string Store => options.Value.StateStore;

    public static string TeamKey(string id) => "team:" + id;
    public static string TaskKey(string id) => "task:" + id;
    public static string SubmissionKey(string teamId, string idempotencyKey) =>
        $"submitted:{teamId}:{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(idempotencyKey)))}";

    /// <summary>The task an idempotency key created in this team lately (a day), if any.</summary>
    public Task<string?> SubmittedAsync(string teamId, string idempotencyKey, CancellationToken ct) =>
        dapr.GetStateAsync<string?>(Store, SubmissionKey(teamId, idempotencyKey), cancellationToken: ct);

    /// <summary>Remembers which task a key created, written with the task in the team's transaction.</summary>
    public static StateTransactionRequest RememberSubmission(string teamId, string idempotencyKey, string taskId) =>
        new(SubmissionKey(teamId, idempotencyKey), JsonSerializer.SerializeToUtf8Bytes(taskId), StateOperationType.Upsert,
            metadata: new Dictionary<string, string> { ["ttlInSeconds"] = "86400" });
    public static string MemberKey(string agentId) => "member:" + agentId;
    public static string RoundKey(string id) => "round:" + id;
    public const string TeamsKey = "teams";

    public Task<TeamBoard?> GetTeamAsync(string id, CancellationToken ct) => dapr.GetStateAsync<TeamBoard?>(Store, TeamKey(id), cancellationToken: ct);

    public Task<TaskRecord?> GetTaskAsync(string id, CancellationToken ct) => dapr.GetStateAsync<TaskRecord?>(Store, TaskKey(id), cancellationToken: ct);

    public async Task<IReadOnlyList<TaskRecord>> GetTasksAsync(IReadOnlyList<string> ids, CancellationToken ct)
    {
        if (ids.Count == 0)
        {
            return [];
        }
        var items = await dapr.GetBulkStateAsync<TaskRecord>(Store, ids.Select(TaskKey).ToList(), parallelism: 8, cancellationToken: ct);
        var byKey = items.Where(i => i.Value is not null).ToDictionary(i => i.Key, i => i.Value);
        return ids.Select(id => byKey.GetValueOrDefault(TaskKey(id))).OfType<TaskRecord>().ToList();
    }

    public async Task<IReadOnlyList<TeamBoard>> GetTeamsAsync(IReadOnlyList<string> ids, CancellationToken ct)
    {
        if (ids.Count == 0)
        {
            return [];
        }
        var items = await dapr.GetBulkStateAsync<TeamBoard>(Store, ids.Select(TeamKey).ToList(), parallelism: 8, cancellationToken: ct);
        var byKey = items.Where(i => i.Value is not null).ToDictionary(i => i.Key, i => i.Value);
        return ids.Select(id => byKey.GetValueOrDefault(TeamKey(id))).OfType<TeamBoard>().ToList();
    }

    public async Task<IReadOnlyList<string>> TeamIdsAsync(CancellationToken ct) =>
        (await dapr.GetStateAsync<List<string>?>(Store, TeamsKey, cancellationToken: ct)) ?? [];

    public Task<Membership?> GetMembershipAsync(string agentId, CancellationToken ct) => dapr.GetStateAsync<Membership?>(Store, MemberKey(agentId), cancellationToken: ct);

    public Task<ConsensusRound?> GetRoundAsync(string id, CancellationToken ct) => dapr.GetStateAsync<ConsensusRound?>(Store, RoundKey(id), cancellationToken: ct);

    /// <summary>
    /// Reads the team's board, lets <paramref name="change"/> modify it and the tasks it loads through the ledger,
    /// and stores the board, every changed task and the change's other writes in one transaction; redone on fresh
    /// state when another writer got there first. <paramref name="change"/> gets null for a team that does not exist,
    /// and returns (false, value) to write nothing.
    /// </summary>
    public async Task<T> ChangeTeamAsync<T>(string teamId, Func<TeamChange?, Task<(bool Write, T Value)>> change, CancellationToken ct)
    {
        var gate = _teamLocks.GetOrAdd(teamId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var (board, etag) = await dapr.GetStateAndETagAsync<TeamBoard?>(Store, TeamKey(teamId), cancellationToken: ct);
                var context = board is null ? null : new TeamChange(board, new TaskLedger((id, token) => new ValueTask<TaskRecord?>(GetTaskAsync(id, token))));
                var (write, value) = await change(context);
                if (!write || context is null)
                {
                    return value;
                }
                var ops = new List<StateTransactionRequest> { new(TeamKey(teamId), Bytes(context.Board), StateOperationType.Upsert, etag) };
                ops.AddRange(context.Tasks.Changed.Select(t => new StateTransactionRequest(TaskKey(t.Id), Bytes(t), StateOperationType.Upsert)));
                ops.AddRange(context.Writes);
                try
                {
                    await dapr.ExecuteStateTransactionAsync(Store, ops, cancellationToken: ct);
                    return value;
                }
                catch (DaprException ex) when (ex.IsETagConflict() && attempt < MaxAttempts)
                {
                    await Task.Delay(Random.Shared.Next(1, 5 + attempt * 2), ct);
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Stores a new team's board (insert only: false when the id exists) and lists it among the teams.</summary>
    public async Task<bool> InsertTeamAsync(TeamBoard board, IEnumerable<StateTransactionRequest> writes, CancellationToken ct)
    {
        var inserted = true;
        try
        {
            await dapr.ExecuteStateTransactionAsync(Store,
                [new StateTransactionRequest(TeamKey(board.Id), Bytes(board), StateOperationType.Upsert, options: InsertOnly), .. writes], cancellationToken: ct);
        }
        catch (DaprException ex) when (ex.IsETagConflict())
        {
            inserted = false;
        }
        // Listed even when the board was there already: a retried step whose first run stored the board but died
        // before listing it must still list it (listing is idempotent), or the sweep never visits the team.
        await ChangeDocumentAsync<List<string>, bool>(TeamsKey, () => [], list =>
        {
            if (list.Contains(board.Id))
            {
                return (false, true);
            }
            list.Add(board.Id);
            return (true, true);
        }, ct);
        return inserted;
    }

    /// <summary>Reserves an agent for a team: true when it is now (or already was) this team's, false when another
    /// team holds it.</summary>
    public async Task<bool> ReserveAsync(string agentId, string teamId, DateTimeOffset now, CancellationToken ct)
    {
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var existing = await GetMembershipAsync(agentId, ct);
            if (existing is not null)
            {
                return existing.TeamId == teamId;
            }
            try
            {
                await dapr.ExecuteStateTransactionAsync(Store, [new StateTransactionRequest(MemberKey(agentId),
                    Bytes(new Membership(agentId, teamId, Membership.Reserved, now)), StateOperationType.Upsert, options: InsertOnly)], cancellationToken: ct);
                return true;
            }
            catch (DaprException ex) when (ex.IsETagConflict())
            {
                // Someone reserved it meanwhile: read again to see whether it was us (a retried step) or another team.
            }
        }
        return false;
    }

    /// <summary>Frees agents this team reserved or holds; leaves alone any agent another team holds.</summary>
    public async Task ReleaseAsync(IEnumerable<string> agentIds, string teamId, CancellationToken ct)
    {
        foreach (var agentId in agentIds)
        {
            var (membership, etag) = await dapr.GetStateAndETagAsync<Membership?>(Store, MemberKey(agentId), cancellationToken: ct);
            if (membership?.TeamId == teamId)
            {
                await dapr.TryDeleteStateAsync(Store, MemberKey(agentId), etag, cancellationToken: ct);
            }
        }
    }

    public StateTransactionRequest Join(string agentId, string teamId, DateTimeOffset now) =>
        new(MemberKey(agentId), Bytes(new Membership(agentId, teamId, Membership.Joined, now)), StateOperationType.Upsert);

    public static StateTransactionRequest Leave(string agentId) => new(MemberKey(agentId), null, StateOperationType.Delete);

    public async Task<bool> InsertRoundAsync(ConsensusRound round, CancellationToken ct)
    {
        try
        {
            await dapr.ExecuteStateTransactionAsync(Store,
                [new StateTransactionRequest(RoundKey(round.Id), Bytes(round), StateOperationType.Upsert, options: InsertOnly)], cancellationToken: ct);
            return true;
        }
        catch (DaprException ex) when (ex.IsETagConflict())
        {
            return false;
        }
    }

    public Task DeleteRoundAsync(string id, CancellationToken ct) => dapr.DeleteStateAsync(Store, RoundKey(id), cancellationToken: ct);

    /// <summary>Read, change and write a round under its ETag; Found is false when there is no such round.</summary>
    public async Task<(bool Found, T? Value)> ChangeRoundAsync<T>(string id, Func<ConsensusRound, (bool Changed, T Value)> change, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var (round, etag) = await dapr.GetStateAndETagAsync<ConsensusRound?>(Store, RoundKey(id), cancellationToken: ct);
            if (round is null)
            {
                return (false, default);
            }
            var (changed, value) = change(round);
            if (!changed)
            {
                return (true, value);
            }
            try
            {
                await dapr.ExecuteStateTransactionAsync(Store, [new StateTransactionRequest(RoundKey(id), Bytes(round), StateOperationType.Upsert, etag)], cancellationToken: ct);
                return (true, value);
            }
            catch (DaprException ex) when (ex.IsETagConflict() && attempt < MaxAttempts)
            {
                await Task.Delay(Random.Shared.Next(1, 5 + attempt * 2), ct);
            }
        }
    }

    private Task<T> ChangeDocumentAsync<TDocument, T>(string key, Func<TDocument> empty, Func<TDocument, (bool Changed, T Value)> change, CancellationToken ct)
        where TDocument : class => dapr.ChangeStateAsync(Store, key, empty, change, ct, MaxAttempts);

    public static byte[] Bytes<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Json);
}
