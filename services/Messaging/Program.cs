using AgenticFlow.Messaging;
using AgenticFlow.Messaging.Apis;
using AgenticFlow.ServiceDefaults;
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddMessaging();

var app = builder.Build();
app.UseCloudEvents();
app.MapDefaultEndpoints();
app.MapSubscribeHandler();
app.MapMailboxActors();
app.MapMessagesApi();
app.MapSubscriptionsApi();
app.MapFanOut(app.Services.GetRequiredService<IOptions<MessagingOptions>>().Value.PubSub);
app.Run();
