using AgenticFlow.Workflows.Apis;
using AgenticFlow.Workflows.Execution;
using AgenticFlow.Workflows.Storage;
using Dapr.Workflow;

namespace AgenticFlow.Workflows;

public static class Extensions
{
    public static IHostApplicationBuilder AddWorkflows(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WorkflowsOptions>()
            .BindConfiguration(WorkflowsOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<WorkflowStore>();
        builder.Services.AddSingleton<DefinitionCatalog>();
        builder.Services.AddSingleton<RunLauncher>();
        builder.Services.AddSingleton<RunReader>();
        builder.Services.AddSingleton<ServiceCalls>();
        builder.Services.AddSingleton<StepAnnouncer>();
        builder.Services.AddSingleton<TriggerTopics>();
        builder.Services.AddHostedService<ScheduleTicker>();
        // Dapr.Workflow's source generator registers RunWorkflow and the activities of this assembly.
        builder.Services.AddDaprWorkflow(_ => { });
        return builder;
    }
}
