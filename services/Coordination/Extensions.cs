using AgenticFlow.Coordination.Agents;
using AgenticFlow.Coordination.Domain;
using AgenticFlow.Coordination.Storage;
using AgenticFlow.Coordination.Workflows;
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
        builder.Services.AddSingleton<TaskCoordinator>();
        builder.Services.AddSingleton<TeamService>();
        builder.Services.AddSingleton<ConsensusService>();
        builder.Services.AddHostedService<TaskSender>();
        builder.Services.AddHostedService<TaskSweeper>();
        builder.Services.AddDaprWorkflow(options =>
        {
            options.RegisterWorkflow<TeamFormationWorkflow>();
            options.RegisterActivity<ReserveNamedMembersActivity>();
            options.RegisterActivity<ReserveForRequirementActivity>();
            options.RegisterActivity<CreateTeamActivity>();
            options.RegisterActivity<ReleaseReservationsActivity>();
            options.RegisterActivity<RecordFormationFailureActivity>();
            options.RegisterWorkflow<ConsensusRoundWorkflow>();
            options.RegisterActivity<RequestVotesActivity>();
            options.RegisterActivity<IsRoundSettledActivity>();
            options.RegisterActivity<CloseRoundActivity>();
        });
        return builder;
    }
}
