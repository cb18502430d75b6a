using AgenticFlow.LocalRuntime.State;
using Dapr.DurableTask.Protobuf;
using Google.Protobuf;

namespace AgenticFlow.LocalRuntime.Workflows;

/// <summary>What is stored of one workflow instance: its metadata, its history and its inbox of events not yet
/// handed to the workflow, with the ETag of the metadata item that guards every write.</summary>
public sealed class StoredInstance
{
    public required WorkflowState Metadata { get; set; }
    public List<HistoryEvent> History { get; set; } = [];
    public List<HistoryEvent> Inbox { get; set; } = [];
    public string? ETag { get; set; }
}

/// <summary>
/// Workflow instances in the actor state store.
/// <para>
/// Key layout, raw keys in the store (not passed through the component's <c>keyPrefix</c>: daprd keys actor state
/// by app id and actor type whatever the prefix setting, and workflow state is actor state there):
/// <list type="bullet">
/// <item><c>{appId}||dapr.internal.default.{appId}.workflow||{instanceId}||metadata</c>: a protobuf
/// <see cref="WorkflowState"/> (name, status, input, output, failure, custom status, timestamps, execution id,
/// parent). Every write of the instance upserts it with its ETag, so two writers of one instance conflict.</item>
/// <item><c>...||{instanceId}||history</c>: a protobuf <see cref="BackendWorkflowState"/> whose <c>history</c> holds
/// the events the workflow has seen, in order.</item>
/// <item><c>...||{instanceId}||inbox</c>: a <see cref="BackendWorkflowState"/> whose <c>inbox</c> holds events that
/// arrived (start, activity results, fired timers, raised events, child results) but are not in history yet.</item>
/// </list>
/// Pending work is not stored separately: an activity is pending when its <c>TaskScheduled</c> event has no result in
/// history or inbox, a timer when its <c>TimerCreated</c> has no <c>TimerFired</c>. So what a step commits and what
/// recovery redispatches can never disagree.
/// </para>
/// </summary>
public sealed class WorkflowStore(IStateStore store, string appId)
{
    private const string MetadataSuffix = "||metadata";
    private const string HistorySuffix = "||history";
    private const string InboxSuffix = "||inbox";

    /// <summary>Every key of this app's workflow state starts with this.</summary>
    public string Prefix { get; } = $"{appId}{StateComponent.Separator}dapr.internal.default.{appId}.workflow{StateComponent.Separator}";

    private string Key(string instanceId, string suffix) => Prefix + instanceId + suffix;

    public async Task<StoredInstance?> LoadAsync(string instanceId, CancellationToken ct)
    {
        var keys = new[] { Key(instanceId, MetadataSuffix), Key(instanceId, HistorySuffix), Key(instanceId, InboxSuffix) };
        var items = await store.GetManyAsync(keys, ct);
        if (!items.TryGetValue(keys[0], out var metadata))
        {
            return null;
        }
        return new StoredInstance
        {
            Metadata = WorkflowState.Parser.ParseFrom(metadata.Value),
            ETag = metadata.ETag,
            History = items.TryGetValue(keys[1], out var history) ? [.. BackendWorkflowState.Parser.ParseFrom(history.Value).History] : [],
            Inbox = items.TryGetValue(keys[2], out var inbox) ? [.. BackendWorkflowState.Parser.ParseFrom(inbox.Value).Inbox] : [],
        };
    }

    /// <summary>Every stored instance of the app, for recovery at start and for listing and purge filters.</summary>
    public async Task<List<(string InstanceId, StoredInstance Instance)>> ScanAsync(CancellationToken ct)
    {
        var items = await store.ScanAsync(Prefix, ct);
        var byKey = items.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var result = new List<(string, StoredInstance)>();
        foreach (var (key, item) in items)
        {
            if (!key.EndsWith(MetadataSuffix, StringComparison.Ordinal))
            {
                continue;
            }
            var id = key[Prefix.Length..^MetadataSuffix.Length];
            result.Add((id, new StoredInstance
            {
                Metadata = WorkflowState.Parser.ParseFrom(item.Value),
                ETag = item.ETag,
                History = byKey.TryGetValue(Key(id, HistorySuffix), out var history) ? [.. BackendWorkflowState.Parser.ParseFrom(history.Value).History] : [],
                Inbox = byKey.TryGetValue(Key(id, InboxSuffix), out var inbox) ? [.. BackendWorkflowState.Parser.ParseFrom(inbox.Value).Inbox] : [],
            }));
        }
        return result;
    }

    /// <summary>Writes the instance in one transaction guarded by the metadata ETag (insert-only when it has none)
    /// and takes the new ETag. Only the parts named are written; the metadata always is.</summary>
    public async Task SaveAsync(string instanceId, StoredInstance instance, bool history, bool inbox, CancellationToken ct)
    {
        var metadataKey = Key(instanceId, MetadataSuffix);
        var ops = new List<StateOperation>
        {
            new(StateOperationKind.Upsert, metadataKey, instance.Metadata.ToByteArray(), instance.ETag, Concurrency.FirstWrite),
        };
        if (history)
        {
            var state = new BackendWorkflowState();
            state.History.AddRange(instance.History);
            ops.Add(new StateOperation(StateOperationKind.Upsert, Key(instanceId, HistorySuffix), state.ToByteArray()));
        }
        if (inbox)
        {
            var state = new BackendWorkflowState();
            state.Inbox.AddRange(instance.Inbox);
            ops.Add(new StateOperation(StateOperationKind.Upsert, Key(instanceId, InboxSuffix), state.ToByteArray()));
        }
        await store.ExecuteAsync(ops, ct);
        // The stores do not hand back the new version, so read it: the next write must present it.
        var written = await store.GetAsync(metadataKey, ct) ?? throw new InvalidOperationException($"workflow instance {instanceId} vanished right after it was written");
        instance.ETag = written.ETag;
    }

    /// <summary>Deletes the instance's three items; the metadata delete is guarded by its ETag.</summary>
    public Task DeleteAsync(string instanceId, string? etag, CancellationToken ct) => store.ExecuteAsync(
    [
        new StateOperation(StateOperationKind.Delete, Key(instanceId, MetadataSuffix), ETag: etag),
        new StateOperation(StateOperationKind.Delete, Key(instanceId, HistorySuffix)),
        new StateOperation(StateOperationKind.Delete, Key(instanceId, InboxSuffix)),
    ], ct);
}
