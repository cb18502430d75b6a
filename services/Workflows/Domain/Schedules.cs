using Cronos;

namespace AgenticFlow.Workflows.Domain;

/// <summary>Cron expressions of schedule triggers (Cronos): five fields, or six with seconds first; UTC.</summary>
public static class Schedules
{
    public static CronExpression? Parse(string cron)
    {
        var fields = cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        try
        {
            return fields switch
            {
                5 => CronExpression.Parse(cron, CronFormat.Standard),
                6 => CronExpression.Parse(cron, CronFormat.IncludeSeconds),
                _ => null,
            };
        }
        catch (CronFormatException)
        {
            return null;
        }
    }

    /// <summary>The latest occurrence after <paramref name="after"/> and at or before <paramref name="now"/>: however
    /// many ticks were missed (the service was down), at most one is due.</summary>
    public static DateTimeOffset? LatestDue(CronExpression cron, DateTimeOffset after, DateTimeOffset now)
    {
        DateTimeOffset? due = null;
        var next = cron.GetNextOccurrence(after, TimeZoneInfo.Utc);
        // Skip through missed ticks without starting them (bounded: a per-second cron after a long outage).
        var guard = 0;
        while (next is { } n && n <= now && guard++ < 100_000)
        {
            due = n;
            next = cron.GetNextOccurrence(n, TimeZoneInfo.Utc);
        }
        if (guard >= 100_000)
        {
            // Far behind: the latest tick is the one before now.
            due = cron.GetOccurrences(now.AddMinutes(-1), now, TimeZoneInfo.Utc, fromInclusive: true, toInclusive: true).LastOrDefault() is var last && last != default ? last : due;
        }
        return due;
    }
}
