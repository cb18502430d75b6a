using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace AgenticFlow.Workflows.Domain;

/// <summary>The step kinds a definition may use, as written in its JSON.</summary>
public static class StepKinds
{
    public const string AgentTask = "agent-task", Llm = "llm", Parallel = "parallel", Condition = "condition",
        WaitForEvent = "wait-for-event", Delay = "delay", Publish = "publish", Invoke = "invoke", SubWorkflow = "sub-workflow";

    public static readonly IReadOnlyList<string> All = [AgentTask, Llm, Parallel, Condition, WaitForEvent, Delay, Publish, Invoke, SubWorkflow];
}

/// <summary>A workflow definition as data: what a user posts, stored unchanged per version.</summary>
public sealed class WorkflowDefinition
{
    public string Name { get; set; } = "";
    public string? Description { get; set; }
    public JsonElement? Inputs { get; set; }
    public List<StepDefinition> Steps { get; set; } = [];
    public List<TriggerDefinition> Triggers { get; set; } = [];
    /// <summary>The run's output: a template (<c>${…}</c>) over <c>input</c> and <c>steps</c>; the last step's output when absent.</summary>
    public JsonElement? Output { get; set; }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>One step. Fields beyond id/kind/when/retry/timeoutSeconds/compensate belong to particular kinds.</summary>
public sealed class StepDefinition
{
    public string Id { get; set; } = "";
    public string Kind { get; set; } = "";
    /// <summary>CEL: the step runs only when this is true (skipped otherwise).</summary>
    public string? When { get; set; }
    public RetryDefinition? Retry { get; set; }
    /// <summary>Per attempt for most kinds; for wait-for-event the time the event is waited for.</summary>
    public double? TimeoutSeconds { get; set; }
    /// <summary>Run, in reverse order of completion, when a later step fails or the run is cancelled.</summary>
    public StepDefinition? Compensate { get; set; }

    // llm
    public string? Prompt { get; set; }
    public string? System { get; set; }
    public string? Model { get; set; }
    // agent-task
    public string? Team { get; set; }
    public string? Description { get; set; }
    public List<string>? RequiredCapabilities { get; set; }
    public string? Priority { get; set; }
    public string? AffinityKey { get; set; }
    // parallel
    public List<List<StepDefinition>>? Branches { get; set; }
    public string? ForEach { get; set; }
    public List<StepDefinition>? Steps { get; set; }
    /// <summary>all (default), any, or n-of-m (with <see cref="N"/>).</summary>
    public string? Join { get; set; }
    public int? N { get; set; }
    // condition
    public string? If { get; set; }
    public List<StepDefinition>? Then { get; set; }
    public List<StepDefinition>? Else { get; set; }
    // wait-for-event
    public string? Event { get; set; }
    // delay
    public double? Seconds { get; set; }
    // publish
    public string? Topic { get; set; }
    public string? Pubsub { get; set; }
    // invoke
    public string? App { get; set; }
    public string? Method { get; set; }
    public string? Verb { get; set; }
    // publish / invoke payload, agent-task and sub-workflow input: templates
    public JsonElement? Data { get; set; }
    public JsonElement? Input { get; set; }
    // sub-workflow
    public string? Workflow { get; set; }
    public int? Version { get; set; }
}

public sealed class RetryDefinition
{
    public int MaxAttempts { get; set; } = 1;
    public double BackoffSeconds { get; set; } = 1;
    public double BackoffCoefficient { get; set; } = 2;
    public double MaxBackoffSeconds { get; set; } = 60;
}

/// <summary>manual, event (topic + optional CEL filter over <c>event</c>) or schedule (cron).</summary>
public sealed class TriggerDefinition
{
    public string Kind { get; set; } = "";
    public string? Topic { get; set; }
    public string? Pubsub { get; set; }
    public string? Filter { get; set; }
    public string? Cron { get; set; }
    /// <summary>The run's input: a template over <c>event</c> (event triggers) or a fixed value; the event's data when absent.</summary>
    public JsonElement? Input { get; set; }
}

public static class TriggerKinds
{
    public const string Manual = "manual", Event = "event", Schedule = "schedule";
}
