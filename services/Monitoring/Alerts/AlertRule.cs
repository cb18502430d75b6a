namespace AgenticFlow.Monitoring.Alerts;

public sealed record AlertNotify(string? Topic, string? Webhook);

/// <summary>A rule and where it stands. <see cref="State"/> changes only on a transition, so the stored rule says
/// whether it is firing after a restart.</summary>
public sealed record AlertRule(
    string Id,
    string Name,
    string Metric,
    Dictionary<string, string> Filter,
    string Aggregation,
    string Comparator,
    double Threshold,
    int WindowSeconds,
    int ForSeconds,
    string Severity,
    AlertNotify Notify,
    DateTimeOffset CreatedAt,
    DateTimeOffset? SilencedUntil = null,
    string State = AlertStates.Ok,
    DateTimeOffset? StateSince = null)
{
    public bool IsSilenced(DateTimeOffset now) => SilencedUntil is { } until && until > now;
}

public static class AlertStates
{
    public const string Ok = "ok", Pending = "pending", Firing = "firing";
}

public static class Comparators
{
    public static readonly string[] All = ["gt", "gte", "lt", "lte", "eq"];

    public static bool Holds(string comparator, double value, double threshold) => comparator switch
    {
        "gt" => value > threshold,
        "gte" => value >= threshold,
        "lt" => value < threshold,
        "lte" => value <= threshold,
        "eq" => Math.Abs(value - threshold) < 1e-9,
        _ => false,
    };
}

/// <summary>A stored transition: a rule began firing or resolved.</summary>
public sealed record AlertEvent(
    string Id, string RuleId, string RuleName, string Kind, string Severity, string Metric, double? Value, double Threshold, string Comparator,
    DateTimeOffset At, bool Silenced);

public static class AlertEventKinds
{
    public const string Firing = "firing", Resolved = "resolved";
}
