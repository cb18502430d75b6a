using AgenticFlow.Messaging.Actors;
using AgenticFlow.Messaging.Domain;
using AgenticFlow.Messaging.Storage;
using AgenticFlow.ServiceDefaults;
using Microsoft.Extensions.Options;

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
        builder.AddMailboxes();
        builder.Services.AddSingleton<MessagingMetrics>();
        builder.Services.AddSingleton<ITeamDirectory, TeamDirectory>();
        builder.Services.AddBatchedEvents<MessageSent>(sp => sp.GetRequiredService<IOptions<MessagingOptions>>().Value.PubSub, MessagingService.SentTopic);
        builder.Services.AddSingleton<MessagingService>();
        builder.Services.AddSingleton<WaitingReceives>();
        builder.Services.AddHostedService<MailboxSweeper>();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        return builder;
    }

    /// <summary>The mailbox design <c>Messaging:Mailboxes</c> names; the actor design hosts its actors in this service.</summary>
    private static void AddMailboxes(this IHostApplicationBuilder builder)
    {
        var design = builder.Configuration[$"{MessagingOptions.Section}:{nameof(MessagingOptions.Mailboxes)}"] ?? MailboxDesigns.Actor;
        if (design != MailboxDesigns.Actor)
        {
            builder.Services.AddSingleton<IMailboxStore, DocumentMailboxStore>();
            return;
        }
        builder.Services.AddActors(options =>
        {
            options.Actors.RegisterActor<MailboxActor>(MailboxActor.TypeName);
            // The sweeper calls every listed mailbox each Messaging:SweepSeconds, which keeps them active; an
            // activation that does go idle is reloaded from its records on the next call.
            options.ActorIdleTimeout = TimeSpan.FromMinutes(10);
        });
        builder.Services.AddSingleton<IMailboxStore, ActorMailboxStore>();
    }

    /// <summary>The actor endpoints the sidecar calls (<c>/dapr/config</c>, <c>/actors/...</c>), in the actor design only.</summary>
    public static void MapMailboxActors(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<MessagingOptions>>().Value.Mailboxes == MailboxDesigns.Actor)
        {
            app.MapActorsHandlers();
        }
    }
}
