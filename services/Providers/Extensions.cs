using AgenticFlow.Providers.Clients;
using AgenticFlow.Providers.Domain;
using AgenticFlow.Providers.Storage;
using AgenticFlow.ServiceDefaults;

namespace AgenticFlow.Providers;

public static class Extensions
{
    public static IHostApplicationBuilder AddProviders(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ProvidersOptions>()
            .BindConfiguration(ProvidersOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => o.Items.All(p => !p.Validate(o).Any()), "every configured provider must be valid (kind, endpoint and its address policy, API key secret prefix, models, prices, limits)")
            .ValidateOnStart();
        builder.Services.AddBadInputWriter("/v1", Apis.OpenAiCompatibleApi.WriteBadInput);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ChatClientFactory>();
        builder.Services.AddSingleton<ProviderRegistry>();
        builder.Services.AddSingleton<ProviderHealth>();
        builder.Services.AddSingleton<CallerLimits>();
        builder.Services.AddSingleton<CostLedger>();
        builder.Services.AddSingleton<ResponseCache>();
        builder.Services.AddSingleton<CompletionService>();
        builder.Services.AddSingleton<AgentLabels>();
        return builder;
    }
}
