using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.ServiceDefaults;
using AgenticFlow.Workflows.Domain;
using AgenticFlow.Workflows.Storage;
using Dapr.Client;
using Dapr.Workflow;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Workflows.Execution;

public enum LaunchStatus { Started, AlreadyStarted, UnknownDefinition, UnknownVersion, InvalidInput }

public sealed record Launch(LaunchStatus Status, string RunId, int Version, List<DefinitionProblem>? Problems = null);

/// <summary>
/// Starts runs for the API, event triggers and schedules: the definition version is read and the input checked
/// against its schema, the run is recorded (insert-only: a run id already recorded is a duplicate), then the Dapr
/// workflow is scheduled under the run id (a retry after a crash between the two schedules it then).
/// </summary>
public sealed partial class RunLauncher(WorkflowStore store, DaprWorkflowClient workflows, DaprClient dapr, IOptions<WorkflowsOptions> options, TimeProvider time, ILogger<RunLauncher> logger)
{
    public sealed record Prepared(RunStart? Start, bool Inserted, LaunchStatus Status, string? Problem, List<DefinitionProblem>? Problems);

    public async Task<Prepared> PrepareAsync(string definitionId, int? version, JsonNode? input, string runId, string trigger, string? parentRunId, CancellationToken ct)
    {
        if (!DefinitionValidator.IsName(definitionId) || await store.GetDefinitionAsync(definitionId, ct) is not { } record)
        {
            return new Prepared(null, false, LaunchStatus.UnknownDefinition, $"no workflow {definitionId}", null);
        }
        var number = version ?? record.LatestVersion;
        if (await store.GetVersionAsync(definitionId, number, ct) is not { } stored)
        {
            return new Prepared(null, false, LaunchStatus.UnknownVersion, $"workflow {definitionId} has no version {number}", null);
        }
        var definition = stored.Definition.Deserialize<WorkflowDefinition>(WorkflowDefinition.Json)!;
        var problems = InputSchema.Check(definition.Inputs, input);
        if (problems.Count > 0)
        {
            return new Prepared(null, false, LaunchStatus.InvalidInput, "input: " + string.Join("; ", problems.Select(p => $"{p.Pointer} {p.Message}")), problems);
        }
        var startedAt = time.GetUtcNow();
        var inserted = await store.InsertRunAsync(new RunRecord
        {
            RunId = runId, DefinitionId = definitionId, Version = number, Input = input, Trigger = trigger, ParentRunId = parentRunId, StartedAt = startedAt,
        }, ct);
        if (inserted)
        {
            await dapr.TryPublishEventAsync(options.Value.PubSub, RunEvents.RunStarted,
                new { runId, definitionId, version = number, trigger, parentRunId, at = time.GetUtcNow() }, logger, ct);
        }
        return new Prepared(new RunStart(runId, definitionId, number, definition, input, parentRunId, trigger, startedAt), inserted, LaunchStatus.Started, null, null);
    }

    public async Task<Launch> StartAsync(string definitionId, int? version, JsonNode? input, string runId, string trigger, CancellationToken ct)
    {
        var prepared = await PrepareAsync(definitionId, version, input, runId, trigger, null, ct);
        if (prepared.Start is not { } start)
        {
            return new Launch(prepared.Status, runId, version ?? 0, prepared.Problems);
        }
        if (!prepared.Inserted && (await workflows.GetWorkflowStateAsync(runId, false, ct)).Exists)
        {
            return new Launch(LaunchStatus.AlreadyStarted, runId, start.Version);
        }
        try
        {
            await workflows.ScheduleNewWorkflowAsync(nameof(RunWorkflow), runId, start);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.AlreadyExists)
        {
            return new Launch(LaunchStatus.AlreadyStarted, runId, start.Version);
        }
        LogStarted(runId, definitionId, start.Version, trigger);
        return new Launch(prepared.Inserted ? LaunchStatus.Started : LaunchStatus.AlreadyStarted, runId, start.Version);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Run {RunId} of {DefinitionId} v{Version} started ({Trigger})")]
    private partial void LogStarted(string runId, string definitionId, int version, string trigger);
}
