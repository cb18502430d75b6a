namespace AgenticFlow.LocalRuntime.Bindings;

/// <summary>
/// A schedule in the forms <c>bindings.cron</c> accepts: <c>@every 15s</c>, <c>@hourly</c>/<c>@daily</c>/...,
/// and cron fields with optional seconds (<c>sec min hour dom month dow</c> or <c>min hour dom month dow</c>),
/// each field <c>*</c>, <c>*/n</c>, <c>a-b</c>, <c>a-b/n</c> or comma lists. Times are UTC.
/// </summary>
public sealed class CronSchedule
{
    private readonly TimeSpan? _every;
    private readonly bool[][] _fields = [];

    private static readonly (int Min, int Max)[] Ranges = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];

    private CronSchedule(TimeSpan every) => _every = every;

    private CronSchedule(bool[][] fields) => _fields = fields;

    public static CronSchedule Parse(string text)
    {
        text = text.Trim();
        if (text.StartsWith("@every ", StringComparison.Ordinal))
        {
            var every = Timing.DurationParser.Parse(text[7..]);
            return every > TimeSpan.Zero ? new CronSchedule(every) : throw new FormatException("@every needs a positive duration");
        }
        text = text switch
        {
            "@yearly" or "@annually" => "0 0 0 1 1 *",
            "@monthly" => "0 0 0 1 * *",
            "@weekly" => "0 0 0 * * 0",
            "@daily" or "@midnight" => "0 0 0 * * *",
            "@hourly" => "0 0 * * * *",
            _ => text,
        };
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 5)
        {
            parts = ["0", .. parts];
        }
        if (parts.Length != 6)
        {
            throw new FormatException($"'{text}' is not a cron schedule: expected 5 or 6 fields");
        }
        var fields = new bool[6][];
        for (var i = 0; i < 6; i++)
        {
            fields[i] = ParseField(parts[i], Ranges[i].Min, Ranges[i].Max);
        }
        return new CronSchedule(fields);
    }

    private static bool[] ParseField(string field, int min, int max)
    {
        var allowed = new bool[max + 1];
        foreach (var part in field.Split(','))
        {
            var step = 1;
            var range = part;
            var slash = part.IndexOf('/');
            if (slash >= 0)
            {
                step = int.Parse(part[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                range = part[..slash];
                if (step <= 0)
                {
                    throw new FormatException($"step in '{part}' must be positive");
                }
            }
            int lo, hi;
            if (range is "*" or "?")
            {
                (lo, hi) = (min, max);
            }
            else if (range.Contains('-'))
            {
                var bounds = range.Split('-');
                (lo, hi) = (int.Parse(bounds[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(bounds[1], System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                lo = int.Parse(range, System.Globalization.CultureInfo.InvariantCulture);
                hi = slash >= 0 ? max : lo;
            }
            if (lo < min || hi > max || lo > hi)
            {
                throw new FormatException($"'{part}' is outside {min}-{max}");
            }
            for (var v = lo; v <= hi; v += step)
            {
                allowed[v] = true;
            }
        }
        return allowed;
    }

    /// <summary>The first firing strictly after <paramref name="after"/>.</summary>
    public DateTimeOffset Next(DateTimeOffset after)
    {
        if (_every is { } every)
        {
            return after + every;
        }
        var t = new DateTimeOffset(after.UtcDateTime.Ticks - after.UtcDateTime.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero).AddSeconds(1);
        var limit = t.AddYears(5);
        while (t < limit)
        {
            if (!_fields[4][t.Month]) { t = new DateTimeOffset(t.Year, t.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1); continue; }
            if (!_fields[3][t.Day] || !_fields[5][(int)t.DayOfWeek]) { t = new DateTimeOffset(t.Year, t.Month, t.Day, 0, 0, 0, TimeSpan.Zero).AddDays(1); continue; }
            if (!_fields[2][t.Hour]) { t = new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, 0, 0, TimeSpan.Zero).AddHours(1); continue; }
            if (!_fields[1][t.Minute]) { t = new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero).AddMinutes(1); continue; }
            if (!_fields[0][t.Second]) { t = t.AddSeconds(1); continue; }
            return t;
        }
        throw new InvalidOperationException("the schedule never fires");
    }
}
