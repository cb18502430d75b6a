using System.Text.Json;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Json;

namespace AgenticFlow.LocalRuntime.Actors;

/// <summary>When a timer or reminder fires: first at <see cref="FirstAt"/>, then every period (a number of
/// times, or until deleted), never after <see cref="ExpiresAt"/>.</summary>
public sealed record ActorSchedule(DateTimeOffset FirstAt, ActorDurations.Period? Period, DateTimeOffset? ExpiresAt)
{
    /// <summary>Reads <c>dueTime</c>, <c>period</c> and <c>ttl</c> of a timer or reminder body; bad values are a 400.</summary>
    public static ActorSchedule Parse(JsonElement body, DateTimeOffset now, bool requireCallback)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw DaprError.Malformed("the body must be a JSON object with dueTime, period, ttl and data");
        }
        try
        {
            var due = Text(body, "dueTime");
            var first = string.IsNullOrEmpty(due) ? now : ActorDurations.ParseInstant(due, now);
            var periodText = Text(body, "period");
            ActorDurations.Period? period = string.IsNullOrEmpty(periodText) ? null : ActorDurations.ParsePeriod(periodText);
            if (period is { Every.Ticks: 0, Repetitions: not null and not 1 })
            {
                throw new FormatException("a period of zero cannot repeat");
            }
            var ttl = Text(body, "ttl");
            DateTimeOffset? expires = string.IsNullOrEmpty(ttl) ? null : ActorDurations.ParseInstant(ttl, now);
            if (expires is { } e && e < first)
            {
                throw new FormatException($"ttl ends at {e:O}, before the first firing at {first:O}");
            }
            if (requireCallback && string.IsNullOrEmpty(Text(body, "callback")))
            {
                throw new FormatException("callback is required");
            }
            return new ActorSchedule(first, period is { Every.Ticks: 0 } ? null : period, expires);
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentOutOfRangeException)
        {
            throw DaprError.Malformed(ex is FormatException ? ex.Message : "a time in the schedule is out of range: " + ex.Message);
        }
    }

    private static string? Text(JsonElement body, string name) =>
        body.TryGetField(name, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Null => null,
            _ => throw new FormatException($"{name} must be a string"),
        } : null;
}
