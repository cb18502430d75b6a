using System.Net;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr.Actors;

namespace AgenticFlow.LocalRuntime.Tests.Actors;

/// <summary>Reminders are kept in the actor state store: they go on firing after the runtime is killed with -9,
/// and after the app is stopped and started again.</summary>
public sealed class ReminderDurabilityTests
{
    [Theory, MemberData(nameof(ActorCluster.Stores), MemberType = typeof(ActorCluster))]
    public async Task Reminder_Fires_Repeats_AndStillFiresAfterTheRuntimeIsKilled_AndAfterTheAppRestarts(string store)
    {
        using var folder = new ComponentsFolder().State(store, extraMetadata: ComponentsFolder.ActorStateStore);
        var appId = TestServers.NewId("reminders");
        var id = TestServers.NewId("reminded");
        var resolver = Path.Combine(folder.Path, "names");
        int httpPort = TestSidecar.FreePort(), grpcPort = TestSidecar.FreePort();
        var app = await ActorTestApp.StartAsync(httpPort, "only");
        var appPort = app.Port;
        var actor = ActorTestApp.Proxies(httpPort).CreateActorProxy<ICounterActor>(new ActorId(id), "Counter");
        const string fired = "reminder:beat:payload-beat";

        await using (var first = await RuntimeProcess.StartAsync(appId, folder.Path, appPort, httpPort, grpcPort, resolver))
        {
            await actor.StartReminder("beat", 0, 400);
            await Eventually.True(() => ActorLog.Count(id, fired) >= 3, "the reminder to fire three times");
            await first.KillAsync();
        }
        var beforeRestart = ActorLog.Count(id, fired);

        await using var second = await RuntimeProcess.StartAsync(appId, folder.Path, appPort, httpPort, grpcPort, resolver);
        await Eventually.True(() => ActorLog.Count(id, fired) >= beforeRestart + 3, "the reminder to fire again after the restart", 30);

        // The app goes away for a while; firings fail meanwhile and resume once it is back.
        await app.DisposeAsync();
        await Task.Delay(1000);
        var whileDown = ActorLog.Count(id, fired);
        app = await ActorTestApp.StartAsync(httpPort, "only", port: appPort);
        await Eventually.True(() => ActorLog.Count(id, fired) >= whileDown + 3, "the reminder to fire again after the app restarted", 30);
        var described = await second.Http.GetStringAsync($"/v1.0/actors/Counter/{id}/reminders/beat");
        Assert.Contains("0h0m0s400ms", described);

        await actor.StopReminder("beat");
        Assert.Equal("null", await second.Http.GetStringAsync($"/v1.0/actors/Counter/{id}/reminders/beat"));
        var afterStop = ActorLog.Count(id, fired);
        await Task.Delay(1200);
        Assert.True(ActorLog.Count(id, fired) <= afterStop + 1, "a deleted reminder stops firing (one firing may have been under way)");
        await app.DisposeAsync();
    }
}
