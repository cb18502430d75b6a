using System.ComponentModel.DataAnnotations;

namespace AgenticFlow.Coordination;

public sealed class CoordinationOptions
{
    public const string Section = "Coordination";

    /// <summary>Dapr state component holding teams, tasks, memberships and consensus rounds; matches components/*/statestore.yaml.</summary>
    [Required]
    public string StateStore { get; set; } = "statestore";

    /// <summary>Dapr pub/sub component: the agents' events arrive here and coordination's events leave here.</summary>
    [Required]
    public string PubSub { get; set; } = "pubsub";

    /// <summary>App id of the agents service, called through Dapr invocation.</summary>
    [Required]
    public string AgentsAppId { get; set; } = "agents";

    /// <summary>Attempts a task gets (each assignment is one) before it fails for good.</summary>
    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>How long POST /teams waits for the formation workflow before it answers 202 (still forming).</summary>
    [Range(0, 60)]
    public int FormationWaitSeconds { get; set; } = 15;

    /// <summary>How often open tasks are checked for missed deadlines and sends that did not reach their agent.</summary>
    [Range(1, 3600)]
    public int SweepSeconds { get; set; } = 1;

    /// <summary>A task assigned this long ago whose agent has not yet accepted it is sent again.</summary>
    [Range(1, 3600)]
    public int RedispatchSeconds { get; set; } = 10;

    /// <summary>Tasks sent to agents at once by one replica.</summary>
    [Range(1, 256)]
    public int DispatchConcurrency { get; set; } = 16;

    [Range(1, 10_000)]
    public int MaxTeamMembers { get; set; } = 500;

    [Range(1, 4 * 1024 * 1024)]
    public int MaxInputBytes { get; set; } = 64 * 1024;

    /// <summary>App id of the neural service, whose task-router model the <c>learned</c> strategy asks.</summary>
    [Required]
    public string NeuralAppId { get; set; } = "neural";

    /// <summary>The <c>learned</c> strategy follows the task-router only at this confidence or above.</summary>
    [Range(0.0, 1.0)]
    public double LearnedMinConfidence { get; set; } = 0.5;

    /// <summary>How long a submission waits for the task-router's answer before the default strategy decides.</summary>
    [Range(10, 10_000)]
    public int LearnedTimeoutMs { get; set; } = 500;
}
