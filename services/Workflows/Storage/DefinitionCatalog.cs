using System.Text.Json;
using AgenticFlow.Workflows.Domain;

namespace AgenticFlow.Workflows.Storage;

/// <summary>Definitions with their versions, keeping the trigger index in step with which versions have triggers on.</summary>
public sealed class DefinitionCatalog(WorkflowStore store, TimeProvider time)
{
    public async Task<DefinitionRecord?> CreateAsync(string id, JsonElement document, WorkflowDefinition definition, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var record = new DefinitionRecord
        {
            Id = id, Name = definition.Name, Description = definition.Description, LatestVersion = 1, CreatedAt = now, UpdatedAt = now,
            Versions = [new VersionInfo { Version = 1, CreatedAt = now, TriggersEnabled = true }],
        };
        if (!await store.CreateDefinitionAsync(record, new DefinitionVersion { Id = id, Version = 1, CreatedAt = now, Definition = document }, ct))
        {
            return null;
        }
        await ReindexAsync(record, ct);
        return record;
    }

    public async Task<DefinitionRecord?> AddVersionAsync(string id, JsonElement document, WorkflowDefinition definition, CancellationToken ct)
    {
        var record = await store.AddVersionAsync(id, document, definition.Name, definition.Description, time.GetUtcNow(), ct);
        if (record is not null)
        {
            await ReindexAsync(record, ct);
        }
        return record;
    }

    public async Task<DefinitionRecord?> SetTriggersAsync(string id, int version, bool enabled, CancellationToken ct)
    {
        var record = await store.SetTriggersEnabledAsync(id, version, enabled, ct);
        record ??= await store.GetDefinitionAsync(id, ct) is { } current && current.Versions.Any(v => v.Version == version) ? current : null;
        if (record is not null)
        {
            await ReindexAsync(record, ct);
        }
        return record;
    }

    private async Task ReindexAsync(DefinitionRecord record, CancellationToken ct)
    {
        var entries = new List<TriggerEntry>();
        foreach (var info in record.Versions.Where(v => v.TriggersEnabled))
        {
            if (await store.GetVersionAsync(record.Id, info.Version, ct) is not { } version)
            {
                continue;
            }
            var definition = version.Definition.Deserialize<WorkflowDefinition>(WorkflowDefinition.Json)!;
            for (var i = 0; i < definition.Triggers.Count; i++)
            {
                var t = definition.Triggers[i];
                if (t.Kind is TriggerKinds.Event or TriggerKinds.Schedule)
                {
                    entries.Add(new TriggerEntry(record.Id, info.Version, i, t.Kind, t.Topic, t.Pubsub, t.Cron));
                }
            }
        }
        await store.UpdateTriggersAsync(record.Id, entries, ct);
    }
}
