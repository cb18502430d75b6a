namespace AgenticFlow.Monitoring.Alerts;

/// <summary>
/// ok → pending when the condition first holds; pending → firing once it held for forSeconds (at once when
/// forSeconds is 0); pending → ok when it stops holding before that; firing → ok (a "resolved" transition) when it
/// stops holding. A window without data changes nothing: a firing rule stays firing (and a pending one pending) until
/// data says otherwise, so a late export does not resolve and re-fire an alert.
/// </summary>
public static class AlertStateMachine
{
    public sealed record Step(string State, DateTimeOffset? Since, string? Transition);

    public static Step Next(string state, DateTimeOffset? since, double? value, AlertRule rule, DateTimeOffset now)
    {
        if (value is null)
        {
            return new Step(state, since, null);
        }
        var holds = Comparators.Holds(rule.Comparator, value.Value, rule.Threshold);
        var forTime = TimeSpan.FromSeconds(rule.ForSeconds);
        switch (state)
        {
            case AlertStates.Firing:
                return holds ? new Step(AlertStates.Firing, since, null) : new Step(AlertStates.Ok, now, AlertEventKinds.Resolved);
            case AlertStates.Pending:
                if (!holds)
                {
                    return new Step(AlertStates.Ok, now, null);
                }
                return now - (since ?? now) >= forTime ? new Step(AlertStates.Firing, now, AlertEventKinds.Firing) : new Step(AlertStates.Pending, since, null);
            default:
                if (!holds)
                {
                    return new Step(AlertStates.Ok, since, null);
                }
                return forTime <= TimeSpan.Zero ? new Step(AlertStates.Firing, now, AlertEventKinds.Firing) : new Step(AlertStates.Pending, now, null);
        }
    }
}
