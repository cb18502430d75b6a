using AgenticFlow.Messaging.Domain;
using AgenticFlow.Messaging.Storage;

namespace AgenticFlow.Messaging;

public static class Extensions
{
    public static IHostApplicationBuilder AddMessaging(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<MessagingOptions>()
            .BindConfiguration(MessagingOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<MessageStore>();
        builder.Services.AddSingleton<MessagingMetrics>();
        builder.Services.AddSingleton<ITeamDirectory, TeamDirectory>();
        builder.Services.AddSingleton<MessagingService>();
        builder.Services.AddHostedService<MailboxSweeper>();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        return builder;
    }
}
