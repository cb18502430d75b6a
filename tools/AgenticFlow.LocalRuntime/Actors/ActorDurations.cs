using System.Globalization;
using System.Text.RegularExpressions;

namespace AgenticFlow.LocalRuntime.Actors;

/// <summary>
/// The time forms daprd accepts for actor timers and reminders: Go durations (<c>1h2m3.5s</c>, <c>0h0m5s0ms</c>,
/// <c>500ms</c>), ISO-8601 durations (<c>PT10S</c>, <c>P1DT2H</c>) with an optional repetition count
/// (<c>R5/PT10S</c>), and, for due times and TTLs, an RFC 3339 instant.
/// </summary>
public static partial class ActorDurations
{
    /// <summary>A period: how often, and how many times in all (null: until deleted).</summary>
    public readonly record struct Period(TimeSpan Every, int? Repetitions);

    public static TimeSpan ParseDuration(string text)
    {
        if (TryParseGo(text, out var go))
        {
            return go;
        }
        if (TryParseIso(text, out var iso, out var repetitions) && repetitions is null)
        {
            return iso;
        }
        throw new FormatException($"'{text}' is not a duration (Go form like 1h5m10s or ISO-8601 like PT1H5M10S)");
    }

    public static Period ParsePeriod(string text)
    {
        if (TryParseGo(text, out var go))
        {
            return new Period(go, null);
        }
        if (TryParseIso(text, out var iso, out var repetitions))
        {
            if (repetitions is 0)
            {
                throw new FormatException($"period '{text}' repeats zero times");
            }
            return new Period(iso, repetitions);
        }
        throw new FormatException($"'{text}' is not a period (Go form like 10s, ISO-8601 like PT10S or R5/PT10S)");
    }

    /// <summary>A due time or TTL: a duration from <paramref name="now"/>, or an RFC 3339 instant.</summary>
    public static DateTimeOffset ParseInstant(string text, DateTimeOffset now)
    {
        if (text.Contains('T', StringComparison.Ordinal) && !text.StartsWith('P') && !text.StartsWith('R')
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return at;
        }
        return now + ParseDuration(text);
    }

    /// <summary>
    /// A due time or period as it is handed back to the app (timer and reminder callbacks, reminder reads): plain
    /// durations in daprd's <c>0h0m5s0ms</c> form and repetitions as <c>R{n}/P…T…H…M…S</c>, which every SDK parses
    /// (the .NET SDK reads nothing else), whatever form they were registered in. Instants and anything else pass
    /// through unchanged.
    /// </summary>
    public static string ForApp(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }
        if (TryParseGo(text, out var go) || (TryParseIso(text, out go, out var repetitions) && repetitions is null))
        {
            return FormattableString.Invariant($"{(long)go.TotalHours}h{go.Minutes}m{go.Seconds}s{go.Milliseconds}ms");
        }
        if (TryParseIso(text, out var every, out repetitions) && every.Milliseconds == 0)
        {
            var iso = new System.Text.StringBuilder(FormattableString.Invariant($"R{repetitions}/P"));
            if (every.Days > 0)
            {
                iso.Append(CultureInfo.InvariantCulture, $"{every.Days}D");
            }
            iso.Append('T');
            if (every.Hours > 0)
            {
                iso.Append(CultureInfo.InvariantCulture, $"{every.Hours}H");
            }
            if (every.Minutes > 0)
            {
                iso.Append(CultureInfo.InvariantCulture, $"{every.Minutes}M");
            }
            if (every.Seconds > 0 || every.TotalSeconds < 1)
            {
                iso.Append(CultureInfo.InvariantCulture, $"{every.Seconds}S");
            }
            return iso.ToString();
        }
        return text;
    }

    private static bool TryParseGo(string text, out TimeSpan value) => Timing.DurationParser.TryParseGo(text, out value);

    private static bool TryParseIso(string text, out TimeSpan value, out int? repetitions)
    {
        value = TimeSpan.Zero;
        repetitions = null;
        var match = IsoDuration().Match(text);
        if (!match.Success || text.EndsWith('P') || text.EndsWith('T'))
        {
            return false;
        }
        if (match.Groups["r"].Success)
        {
            repetitions = int.Parse(match.Groups["r"].Value, CultureInfo.InvariantCulture);
        }
        double Part(string name) => match.Groups[name].Success ? double.Parse(match.Groups[name].Value, CultureInfo.InvariantCulture) : 0;
        // Months and years have no fixed length; daprd counts them as 30 and 365 days.
        var days = Part("y") * 365 + Part("mo") * 30 + Part("w") * 7 + Part("d");
        value = TimeSpan.FromDays(days) + TimeSpan.FromHours(Part("h")) + TimeSpan.FromMinutes(Part("mi")) + TimeSpan.FromSeconds(Part("s"));
        return true;
    }

    [GeneratedRegex(@"^(?:R(?<r>\d+)/)?P(?:(?<y>\d+)Y)?(?:(?<mo>\d+)M)?(?:(?<w>\d+)W)?(?:(?<d>\d+)D)?(?:T(?:(?<h>\d+)H)?(?:(?<mi>\d+)M)?(?:(?<s>\d+(?:\.\d+)?)S)?)?$")]
    private static partial Regex IsoDuration();
}
