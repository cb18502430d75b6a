using AgenticFlow.Agents.Actors;
using AgenticFlow.Agents.Clients;
using AgenticFlow.Agents.Llm;
using AgenticFlow.Agents.Storage;
using Dapr.Actors.Client;
using Dapr.Actors.Runtime;

namespace AgenticFlow.Agents;

public static class Extensions
{
    public static IHostApplicationBuilder AddAgents(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AgentsOptions>()
            .BindConfiguration(AgentsOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ServiceInvoker>();
        builder.Services.AddSingleton<AgentDirectory>();
        builder.Services.AddSingleton<AgentChanges>();
        builder.Services.AddSingleton<CoordinationClient>();
        builder.Services.AddSingleton<MessagingClient>();
        builder.Services.AddSingleton<LlmWork>();
        builder.Services.AddSingleton<A2aWork>();
        builder.Services.AddHttpClient(A2aWork.ClientName, client => client.Timeout = TimeSpan.FromSeconds(100))
            .ConfigurePrimaryHttpMessageHandler(sp => ServiceDefaults.OutboundAddresses.Handler(
                sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<AgentsOptions>>().Value.AllowPrivateEndpoints, "A2A agent host", "Agents:AllowPrivateEndpoints"));
        builder.Services.AddSingleton<WorkRunner>();
        // Proxies and the actor runtime speak JSON (System.Text.Json), so records travel as they are.
        builder.Services.AddSingleton<IActorProxyFactory>(_ => new ActorProxyFactory(new ActorProxyOptions
        {
            UseJsonSerialization = true,
            RequestTimeout = TimeSpan.FromSeconds(60),
        }));
        var idle = builder.Configuration.GetValue<int?>($"{AgentsOptions.Section}:{nameof(AgentsOptions.ActorIdleMinutes)}") ?? 60;
        builder.Services.AddActors(options =>
        {
            options.UseJsonSerialization = true;
            options.ActorIdleTimeout = TimeSpan.FromMinutes(idle);
            options.Actors.RegisterActor<AgentActor>(AgentActor.TypeName);
        });
        return builder;
    }
}
