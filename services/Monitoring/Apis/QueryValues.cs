using System.Globalization;

namespace AgenticFlow.Monitoring.Apis;

/// <summary>Reads times and durations from query strings, collecting field errors instead of throwing.</summary>
public sealed class QueryValues(TimeProvider time)
{
    public Dictionary<string, string[]> Errors { get; } = [];

    /// <summary>An ISO 8601 instant, Unix seconds, or a duration back from now (<c>-15m</c>, <c>-2h</c>).</summary>
    public DateTimeOffset? Instant(string field, string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        if (text.StartsWith('-') && Duration(field, text[1..], report: false) is { } back)
        {
            return time.GetUtcNow() - back;
        }
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 0 and < 253402300799)
        {
            return DateTimeOffset.FromUnixTimeSeconds(seconds);
        }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var instant))
        {
            return instant;
        }
        Errors[field] = ["Expected an ISO 8601 time, Unix seconds, or a duration back from now such as -15m."];
        return null;
    }

    /// <summary>Seconds (<c>30</c>) or a number with a unit: <c>500ms</c>, <c>30s</c>, <c>5m</c>, <c>1h</c>, <c>1d</c>.</summary>
    public TimeSpan? Duration(string field, string? text, bool report = true)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        var (number, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text[^1] switch { 's' => (text[..^1], 1.0), 'm' => (text[..^1], 60.0), 'h' => (text[..^1], 3600.0), 'd' => (text[..^1], 86400.0), _ => (text, 1.0) };
        if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0 && value * unit <= 366 * 86400)
        {
            return TimeSpan.FromSeconds(value * unit);
        }
        if (report)
        {
            Errors[field] = ["Expected a positive duration such as 30s, 5m or 1h (at most a year)."];
        }
        return null;
    }

    public int Limit(string field, int? value, int fallback, int max)
    {
        if (value is null)
        {
            return fallback;
        }
        if (value < 1 || value > max)
        {
            Errors[field] = [$"Must be between 1 and {max}."];
        }
        return Math.Clamp(value.Value, 1, max);
    }
}
