namespace AgenticFlow.LocalRuntime.Timing;

/// <summary>
/// Go durations, as Go's time.ParseDuration reads them (<c>1h2m3.5s</c>, <c>500ms</c>, <c>.5s</c>, <c>0h0m5s0ms0μs</c>,
/// microseconds as <c>us</c>, the micro sign or the Greek mu): the one parser for every duration the runtime reads.
/// Resource files may also give plain seconds.
/// </summary>
public static partial class DurationParser
{
    public static TimeSpan Parse(string text)
    {
        if (TryParse(text, out var value))
        {
            return value;
        }
        throw new FormatException($"'{text}' is not a duration (use forms like 500ms, 5s, 1m30s)");
    }

    /// <summary>A Go duration, or a plain number of seconds.</summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        text = text.Trim();
        if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
        {
            value = TimeSpan.FromSeconds(seconds);
            return true;
        }
        return TryParseGo(text, out value);
    }

    /// <summary>Exactly Go's duration form (no bare numbers but <c>0</c>).</summary>
    public static bool TryParseGo(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var match = GoDuration().Match(text);
        if (!match.Success || text.Length == 0)
        {
            return false;
        }
        if (text == "0")
        {
            return true;
        }
        double ticks = 0;
        foreach (System.Text.RegularExpressions.Capture part in match.Groups["part"].Captures)
        {
            var unitAt = part.Value.IndexOfAny(['h', 'm', 's', 'u', '\u00b5', '\u03bc', 'n']);
            var number = double.Parse(part.Value[..unitAt], System.Globalization.CultureInfo.InvariantCulture);
            ticks += part.Value[unitAt..] switch
            {
                "h" => number * TimeSpan.TicksPerHour,
                "m" => number * TimeSpan.TicksPerMinute,
                "s" => number * TimeSpan.TicksPerSecond,
                "ms" => number * TimeSpan.TicksPerMillisecond,
                "us" or "\u00b5s" or "\u03bcs" => number * 10,
                _ => number / 100,
            };
        }
        value = TimeSpan.FromTicks((long)ticks);
        return match.Groups["part"].Captures.Count > 0;
    }

    // Go's units; microseconds as us, the micro sign or the Greek mu (the Python SDK writes 0h0m5s0ms0μs), and
    // numbers as Go writes them (1.5, .5, 1.).
    [System.Text.RegularExpressions.GeneratedRegex(@"^(?:0|(?<part>(?:\d+(?:\.\d*)?|\.\d+)(?:h|ms|m|s|us|\u00b5s|\u03bcs|ns))+)$")]
    private static partial System.Text.RegularExpressions.Regex GoDuration();
}
