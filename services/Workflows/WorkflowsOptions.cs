using System.ComponentModel.DataAnnotations;

namespace AgenticFlow.Workflows;

public sealed class WorkflowsOptions
{
    public const string Section = "Workflows";

    /// <summary>Dapr state component holding definitions, runs and trigger state; matches components/*/statestore.yaml.</summary>
    [Required]
    public string StateStore { get; set; } = "statestore";

    /// <summary>Dapr pub/sub component for run events, event triggers and publish steps without their own.</summary>
    [Required]
    public string PubSub { get; set; } = "pubsub";

    [Required]
    public string CoordinationAppId { get; set; } = "coordination";

    [Required]
    public string ProvidersAppId { get; set; } = "providers";

    /// <summary>Topics event triggers may listen on besides those of the stored definitions (Dapr reads an app's
    /// subscriptions when its sidecar starts, so a topic first named after that is listened on from the next start).</summary>
    public List<string> TriggerTopics { get; set; } = [];

    /// <summary>How often schedule triggers are checked.</summary>
    [Range(1, 3600)]
    public int ScheduleCheckSeconds { get; set; } = 1;

    /// <summary>An agent-task step re-reads its task this often when no completion event has reached it.</summary>
    [Range(1, 3600)]
    public int AgentTaskPollSeconds { get; set; } = 30;

    /// <summary>What invoke steps may call: <c>app</c> or <c>app/method-prefix</c> (see <see cref="Domain.InvokePolicy"/>).
    /// Empty by default: a step calls another app as this service, which that app trusts, so each target is a choice.</summary>
    public List<string> InvokeTargets { get; set; } = [];

    /// <summary>Items a parallel forEach block may fan out over.</summary>
    [Range(1, 100_000)]
    public int MaxParallelItems { get; set; } = 1_000;

    [Range(1, 16 * 1024 * 1024)]
    public int MaxDefinitionBytes { get; set; } = 1024 * 1024;

    [Range(1, 16 * 1024 * 1024)]
    public int MaxInputBytes { get; set; } = 256 * 1024;
}
