using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.ServiceDefaults;
using AgenticFlow.Workflows.Domain;
using AgenticFlow.Workflows.Execution;
using AgenticFlow.Workflows.Storage;
using Dapr.Workflow;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Workflows.Apis;

/// <summary>The topics this app subscribes to: coordination's task events (they wake agent-task steps) and the
/// topics of event triggers (read when the sidecar asks, at its start).</summary>
public sealed partial class TriggerTopics(WorkflowStore store, IOptions<WorkflowsOptions> options, ILogger<TriggerTopics> logger)
{
    private volatile IReadOnlySet<string> _listening = new HashSet<string>(options.Value.TriggerTopics, StringComparer.Ordinal);

    /// <summary>Topics the sidecar was given the last time it asked.</summary>
    public IReadOnlySet<string> Listening => _listening;

    public async Task<IReadOnlyList<(string Pubsub, string Topic)>> LoadAsync(CancellationToken ct)
    {
        var index = await ReadIndexAsync(ct);
        var topics = options.Value.TriggerTopics.Select(t => (options.Value.PubSub, t))
            .Concat(index.Entries.Where(e => e.Kind == TriggerKinds.Event && e.Topic is not null).Select(e => (e.Pubsub ?? options.Value.PubSub, e.Topic!)))
            .Distinct().ToList();
        _listening = topics.Select(t => t.Item2).ToHashSet(StringComparer.Ordinal);
        return topics;
    }

    /// <summary>The sidecar asks while it starts: a store it cannot reach yet is asked again for a while, then only the
    /// configured topics are listened on (and the failure logged), rather than no subscription at all.</summary>
    private async Task<TriggerIndex> ReadIndexAsync(CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await store.GetTriggersAsync(ct);
            }
            catch (Dapr.DaprException ex) when (attempt < 40)
            {
                if (attempt == 1)
                {
                    LogIndexUnavailable(ex);
                }
                await Task.Delay(250, ct);
            }
            catch (Dapr.DaprException ex)
            {
                LogIndexGivenUp(ex);
                return new TriggerIndex();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The trigger index cannot be read yet; asking again")]
    private partial void LogIndexUnavailable(Exception ex);

    [LoggerMessage(Level = LogLevel.Error, Message = "The trigger index could not be read; only the configured trigger topics are subscribed")]
    private partial void LogIndexGivenUp(Exception ex);
}

/// <summary>Pub/sub deliveries. The routes are refused to edge callers (the gateway routes nothing here).</summary>
public static partial class EventsApi
{
    public const string TaskRoute = "/events/coordination-task";
    public const string TriggerRoute = "/events/trigger";

    public static IEndpointRouteBuilder MapEventsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/dapr/subscribe", Subscriptions).ExcludeFromDescription();
        app.MapPost(TaskRoute, TaskFinished).ExcludeFromDescription();
        app.MapPost(TriggerRoute + "/{pubsub}/{topic}", Trigger).ExcludeFromDescription();
        return app;
    }

    public static async Task<IResult> Subscriptions(TriggerTopics topics, IOptions<WorkflowsOptions> options, CancellationToken ct)
    {
        var pubsub = options.Value.PubSub;
        var list = new List<object>
        {
            new { pubsubname = pubsub, topic = RunEvents.CoordinationTaskCompleted, route = TaskRoute },
            new { pubsubname = pubsub, topic = RunEvents.CoordinationTaskFailed, route = TaskRoute },
        };
        foreach (var (p, topic) in await topics.LoadAsync(ct))
        {
            list.Add(new { pubsubname = p, topic, route = $"{TriggerRoute}/{Uri.EscapeDataString(p)}/{Uri.EscapeDataString(topic)}" });
        }
        return Results.Json(list);
    }

    private static (string? Id, JsonNode? Data, JsonNode? Envelope) Read(JsonNode? body) =>
        body is JsonObject obj && obj.ContainsKey("specversion")
            ? (obj["id"]?.GetValue<string>(), obj["data"], obj)
            : (null, body, body);

    /// <summary>coordination.task-completed / task-failed: wakes the run waiting for that task (it reads the task itself).</summary>
    public static async Task<IResult> TaskFinished(HttpRequest http, WorkflowStore store, DaprWorkflowClient workflows, CancellationToken ct)
    {
        if (CallerIdentity.From(http).FromEdge)
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, type: WorkflowProblems.Forbidden, title: "Forbidden", detail: "Event deliveries come from the sidecar.");
        }
        var (_, data, _) = Read(await http.ReadFromJsonAsync<JsonNode?>(ct));
        if (data?["taskId"]?.GetValue<string>() is not { } taskId || await store.GetTaskWaiterAsync(taskId, ct) is not { } runId)
        {
            return Results.Ok();
        }
        var state = await workflows.GetWorkflowStateAsync(runId, false, ct);
        if (state.Exists && state.IsWorkflowRunning)
        {
            await workflows.RaiseEventAsync(runId, RunWorkflow.TaskEvent(taskId), data, ct);
        }
        return Results.Ok();
    }

    /// <summary>An event on a trigger topic: every enabled event trigger on it whose filter passes starts one run,
    /// whose id comes from the definition, version, trigger and event id, so a redelivered event starts nothing new.</summary>
    public static async Task<IResult> Trigger(string pubsub, string topic, HttpRequest http, WorkflowStore store, RunLauncher launcher,
        IOptions<WorkflowsOptions> options, ILoggerFactory loggers, CancellationToken ct)
    {
        if (CallerIdentity.From(http).FromEdge)
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, type: WorkflowProblems.Forbidden, title: "Forbidden", detail: "Event deliveries come from the sidecar.");
        }
        var logger = loggers.CreateLogger("AgenticFlow.Workflows.Triggers");
        JsonNode? body;
        try
        {
            body = await http.ReadFromJsonAsync<JsonNode?>(ct);
        }
        catch (JsonException)
        {
            // Not JSON: nothing can match it; dropping it is the answer (retrying cannot help).
            return Results.Json(new { status = "DROP" });
        }
        var (eventId, data, envelope) = Read(body);
        eventId ??= Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(body?.ToJsonString() ?? "")));
        var scope = new Dictionary<string, JsonNode?>
        {
            ["event"] = new JsonObject
            {
                ["id"] = eventId, ["topic"] = topic, ["pubsub"] = pubsub, ["data"] = data?.DeepClone(),
                ["source"] = envelope?["source"]?.DeepClone(), ["type"] = envelope?["type"]?.DeepClone(),
            },
        };
        var index = await store.GetTriggersAsync(ct);
        foreach (var entry in index.Entries.Where(e => e.Kind == TriggerKinds.Event && e.Topic == topic && (e.Pubsub ?? options.Value.PubSub) == pubsub))
        {
            if (await store.GetVersionAsync(entry.DefinitionId, entry.Version, ct) is not { } version)
            {
                continue;
            }
            var trigger = version.Definition.Deserialize<WorkflowDefinition>(WorkflowDefinition.Json)!.Triggers.ElementAtOrDefault(entry.Index);
            if (trigger is null)
            {
                continue;
            }
            JsonNode? input;
            try
            {
                if (trigger.Filter is { } filter && !Expressions.IsTrue(filter, scope))
                {
                    continue;
                }
                input = trigger.Input is { } template ? Expressions.Render(template, scope) : data?.DeepClone();
            }
            catch (ExpressionException ex)
            {
                LogFilterFailed(logger, entry.DefinitionId, entry.Version, eventId, ex.Message);
                continue;
            }
            var runId = "evt-" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{entry.DefinitionId}\n{entry.Version}\n{entry.Index}\n{pubsub}\n{topic}\n{eventId}")))[..32].ToLowerInvariant();
            var launch = await launcher.StartAsync(entry.DefinitionId, entry.Version, input, runId, TriggerKinds.Event, ct);
            if (launch.Status == LaunchStatus.InvalidInput)
            {
                LogInputRefused(logger, entry.DefinitionId, entry.Version, eventId);
            }
        }
        return Results.Ok();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event trigger of {DefinitionId} v{Version}: the filter or input failed for event {EventId}: {Error}")]
    private static partial void LogFilterFailed(ILogger logger, string definitionId, int version, string eventId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event trigger of {DefinitionId} v{Version}: event {EventId} gave an input its schema refuses; no run")]
    private static partial void LogInputRefused(ILogger logger, string definitionId, int version, string eventId);
}
