using AgenticFlow.Monitoring.Alerts;
using Microsoft.Extensions.Time.Testing;

namespace AgenticFlow.Monitoring.Tests;

public sealed class AlertStateMachineTests
{
    private static AlertRule Rule(int forSeconds, string comparator = "gt", double threshold = 5) =>
        new("r1", "deep queue", "depth", [], "max", comparator, threshold, 60, forSeconds, "warning", new AlertNotify(null, null), DateTimeOffset.UnixEpoch);

    [Fact]
    public void ARule_FiresOnlyAfterHoldingForSeconds_ThenResolvesOnce()
    {
        var time = new FakeTimeProvider();
        var rule = Rule(forSeconds: 10);
        var step = AlertStateMachine.Next(AlertStates.Ok, null, 9, rule, time.GetUtcNow());
        Assert.Equal((AlertStates.Pending, (string?)null), (step.State, step.Transition));
        var pendingSince = step.Since;

        time.Advance(TimeSpan.FromSeconds(9));
        step = AlertStateMachine.Next(step.State, step.Since, 9, rule, time.GetUtcNow());
        Assert.Equal((AlertStates.Pending, (string?)null, pendingSince), (step.State, step.Transition, step.Since));

        time.Advance(TimeSpan.FromSeconds(1));
        step = AlertStateMachine.Next(step.State, step.Since, 9, rule, time.GetUtcNow());
        Assert.Equal((AlertStates.Firing, AlertEventKinds.Firing), (step.State, step.Transition));

        time.Advance(TimeSpan.FromSeconds(5));
        step = AlertStateMachine.Next(step.State, step.Since, 8, rule, time.GetUtcNow());
        Assert.Equal((AlertStates.Firing, (string?)null), (step.State, step.Transition));

        step = AlertStateMachine.Next(step.State, step.Since, 2, rule, time.GetUtcNow());
        Assert.Equal((AlertStates.Ok, AlertEventKinds.Resolved), (step.State, step.Transition));
        step = AlertStateMachine.Next(step.State, step.Since, 2, rule, time.GetUtcNow());
        Assert.Null(step.Transition);
    }

    [Fact]
    public void APendingRule_ThatStopsHolding_GoesBackWithoutAnEvent()
    {
        var time = new FakeTimeProvider();
        var rule = Rule(forSeconds: 10);
        var step = AlertStateMachine.Next(AlertStates.Ok, null, 9, rule, time.GetUtcNow());
        time.Advance(TimeSpan.FromSeconds(5));
        step = AlertStateMachine.Next(step.State, step.Since, 1, rule, time.GetUtcNow());
        Assert.Equal((AlertStates.Ok, (string?)null), (step.State, step.Transition));
        // Holding again starts a new wait.
        time.Advance(TimeSpan.FromSeconds(6));
        step = AlertStateMachine.Next(step.State, step.Since, 9, rule, time.GetUtcNow());
        Assert.Equal(AlertStates.Pending, step.State);
        Assert.Equal(time.GetUtcNow(), step.Since);
    }

    [Fact]
    public void NoData_ChangesNothing_AndForSecondsZero_FiresAtOnce()
    {
        var now = new FakeTimeProvider().GetUtcNow();
        Assert.Equal(AlertStates.Ok, AlertStateMachine.Next(AlertStates.Ok, null, null, Rule(0), now).State);
        // A late export leaves a window empty: a firing rule stays firing rather than resolving and firing again.
        var firing = AlertStateMachine.Next(AlertStates.Firing, now, null, Rule(0), now);
        Assert.Equal((AlertStates.Firing, (string?)null), (firing.State, firing.Transition));
        Assert.Equal(AlertStates.Pending, AlertStateMachine.Next(AlertStates.Pending, now, null, Rule(10), now).State);
        Assert.Equal(AlertEventKinds.Firing, AlertStateMachine.Next(AlertStates.Ok, null, 6, Rule(0), now).Transition);
    }

    [Theory]
    [InlineData("gt", 5, false)]
    [InlineData("gte", 5, true)]
    [InlineData("lt", 4, true)]
    [InlineData("lte", 5, true)]
    [InlineData("eq", 5, true)]
    [InlineData("eq", 5.5, false)]
    public void Comparators_CompareTheValueWithTheThreshold(string comparator, double value, bool holds) =>
        Assert.Equal(holds, Comparators.Holds(comparator, value, 5));
}
