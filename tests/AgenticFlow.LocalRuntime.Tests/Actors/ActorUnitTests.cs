using System.Text.Json;
using AgenticFlow.LocalRuntime.Actors;
using AgenticFlow.LocalRuntime.Peers;

namespace AgenticFlow.LocalRuntime.Tests.Actors;

public sealed class ActorUnitTests
{
    [Theory]
    [InlineData("0h0m5s0ms", 5000)]
    [InlineData("1h2m3s4ms", 3_723_004)]
    [InlineData("500ms", 500)]
    [InlineData("1.5s", 1500)]
    [InlineData(".5s", 500)]
    [InlineData("0h0m5s0ms0\u03bcs", 5000)]
    [InlineData("0h0m1s500000\u00b5s", 1500)]
    [InlineData("5s", 5000)]
    [InlineData("0", 0)]
    [InlineData("PT10S", 10_000)]
    [InlineData("P1DT2H", 93_600_000)]
    [InlineData("PT1M30S", 90_000)]
    public void Durations_InGoAndIsoForms(string text, long milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), ActorDurations.ParseDuration(text));

    [Theory]
    [InlineData("R5/PT10S", 10_000, 5)]
    [InlineData("PT2S", 2000, null)]
    [InlineData("0h0m1s0ms", 1000, null)]
    public void Periods_CarryTheirRepetitions(string text, long milliseconds, int? repetitions)
    {
        var period = ActorDurations.ParsePeriod(text);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), period.Every);
        Assert.Equal(repetitions, period.Repetitions);
    }

    [Theory]
    [InlineData("every minute")]
    [InlineData("5")]
    [InlineData("P")]
    [InlineData("PT")]
    [InlineData("R0/PT1S")]
    [InlineData("1x")]
    public void BadPeriods_AreRefused(string text) => Assert.Throws<FormatException>(() => ActorDurations.ParsePeriod(text));

    [Theory]
    [InlineData("0s", "0h0m0s0ms")]
    [InlineData("PT1M30S", "0h1m30s0ms")]
    [InlineData("26h0m0s5ms", "26h0m0s5ms")]
    [InlineData("R2/PT1S", "R2/PT1S")]
    [InlineData("R3/PT600S", "R3/PT10M")]
    [InlineData("R1/P1DT2H", "R1/P1DT2H")]
    [InlineData("2026-01-01T00:05:00Z", "2026-01-01T00:05:00Z")]
    [InlineData(null, "")]
    public void TimesHandedToTheApp_AreInTheFormEverySdkParses(string? registered, string toApp) =>
        Assert.Equal(toApp, ActorDurations.ForApp(registered));

    [Fact]
    public void DueTime_MayBeAnInstant()
    {
        var now = DateTimeOffset.Parse("2026-01-01T00:00:00Z");
        Assert.Equal(now.AddMinutes(5), ActorDurations.ParseInstant("2026-01-01T00:05:00Z", now));
        Assert.Equal(now.AddSeconds(3), ActorDurations.ParseInstant("3s", now));
    }

    [Fact]
    public void Config_ReadsDefaultsAndPerTypeSettings()
    {
        using var json = JsonDocument.Parse("""
            {"entities":["A","B"],"actorIdleTimeout":"0h0m2s0ms","actorScanInterval":"0h0m0s500ms",
             "reentrancy":{"enabled":false},
             "entitiesConfig":[{"entities":["B"],"actorIdleTimeout":"0h1m0s0ms","reentrancy":{"enabled":true,"maxStackDepth":7}}]}
            """);
        var config = ActorConfig.Parse(json.RootElement);

        Assert.Equal(["A", "B"], config.Types);
        Assert.Equal(TimeSpan.FromMilliseconds(500), config.ScanInterval);
        Assert.Equal(new ActorTypeSettings(TimeSpan.FromSeconds(2), false, 32), config.For("A"));
        Assert.Equal(new ActorTypeSettings(TimeSpan.FromMinutes(1), true, 7), config.For("B"));
    }

    [Fact]
    public void Config_AsThePythonSdkWritesIt_IsRead()
    {
        // ActorRuntimeConfig.as_dict() serialised by the Python SDK: durations with microseconds in Greek mu,
        // settings daprd ignores here (drainRebalancedActors, remindersStoragePartitions).
        using var json = JsonDocument.Parse("""
            {"actorIdleTimeout":"1h0m0s0ms0\u03bcs","actorScanInterval":"0h0m30s0ms0\u03bcs","drainOngoingCallTimeout":"0h1m0s0ms0\u03bcs",
             "drainRebalancedActors":true,"reentrancy":{"enabled":true,"maxStackDepth":32},"remindersStoragePartitions":0,
             "entitiesConfig":[{"entities":["B"],"actorIdleTimeout":"0h5m0s0ms0\u03bcs"}],"entities":["A","B"]}
            """);
        var config = ActorConfig.Parse(json.RootElement);

        Assert.Equal(["A", "B"], config.Types);
        Assert.Equal(TimeSpan.FromSeconds(30), config.ScanInterval);
        Assert.Equal(TimeSpan.FromMinutes(1), config.DrainTimeout);
        Assert.Equal(new ActorTypeSettings(TimeSpan.FromHours(1), true, 32), config.For("A"));
        Assert.Equal(TimeSpan.FromMinutes(5), config.For("B").IdleTimeout);
    }

    [Fact]
    public void Placement_IsStable_AndMovesFewActorsWhenAHostJoins()
    {
        static SidecarAddress Host(string instance) => new("app", instance, 1, 2, 3, "key", ["T"]);
        IReadOnlyList<SidecarAddress> three = [Host("a"), Host("b"), Host("c")];
        IReadOnlyList<SidecarAddress> four = [Host("a"), Host("b"), Host("c"), Host("d")];
        IReadOnlyList<SidecarAddress> threeAgain = [Host("a"), Host("b"), Host("c")];
        var ids = Enumerable.Range(0, 2000).Select(i => "actor-" + i).ToList();

        var before = ids.ToDictionary(id => id, id => ActorPlacement.Owner(three, "T", id)!.InstanceId);
        var after = ids.ToDictionary(id => id, id => ActorPlacement.Owner(four, "T", id)!.InstanceId);

        Assert.All(ids, id => Assert.Equal(before[id], ActorPlacement.Owner(threeAgain, "T", id)!.InstanceId));
        Assert.All(new[] { "a", "b", "c" }, host => Assert.InRange(before.Values.Count(v => v == host), 400, 933));
        var moved = ids.Count(id => before[id] != after[id]);
        // Only actors that now land on the new host move: about a quarter, never the others.
        Assert.All(ids.Where(id => before[id] != after[id]), id => Assert.Equal("d", after[id]));
        Assert.InRange(moved, 250, 800);
    }
}
