using AgenticFlow.Coordination.Agents;
using AgenticFlow.Coordination.Domain;
using AgenticFlow.Coordination.Storage;
using Dapr.Workflow;

namespace AgenticFlow.Coordination;

public static class Extensions
{
    public static IHostApplicationBuilder AddCoordination(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CoordinationOptions>()
            .BindConfiguration(CoordinationOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<CoordinationStore>();
        builder.Services.AddSingleton<IAgentsClient, AgentsClient>();
        builder.Services.AddSingleton<Routing.TaskRouterAdvice>();
        builder.Services.AddSingleton<TaskCoordinator>();
        builder.Services.AddSingleton<TeamService>();
        builder.Services.AddSingleton<ConsensusService>();
        builder.Services.AddHostedService<TaskSender>();
        builder.Services.AddHostedService<TaskSweeper>();
        // Dapr.Workflow's source generator registers every Workflow and WorkflowActivity class of this assembly
        // (TeamFormationWorkflow, ConsensusRoundWorkflow and their activities); registering them again only warns.
        builder.Services.AddDaprWorkflow(_ => { });
        return builder;
    }
}
