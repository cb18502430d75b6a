using AgenticFlow.Monitoring.Domain;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Monitoring.Storage;

public sealed record LogQuery(string? Service, string? Level, string? TraceId, string? Text, DateTimeOffset? From, DateTimeOffset? To, int Limit);

/// <summary>Log records kept in memory, newest last, bounded by <see cref="MonitoringOptions.MaxLogRecords"/>.</summary>
public sealed class LogStore(IOptions<MonitoringOptions> options)
{
    private readonly LinkedList<LogEntry> _entries = new();
    private readonly Lock _lock = new();

    public void Add(IEnumerable<LogEntry> entries)
    {
        lock (_lock)
        {
            foreach (var entry in entries)
            {
                _entries.AddLast(entry);
            }
            while (_entries.Count > options.Value.MaxLogRecords)
            {
                _entries.RemoveFirst();
            }
        }
    }

    /// <summary>Newest first; <see cref="LogQuery.Level"/> is the lowest level wanted.</summary>
    public IReadOnlyList<LogEntry> Find(LogQuery query)
    {
        var minimum = query.Level is null ? 0 : LogLevels.Rank(query.Level);
        lock (_lock)
        {
            var found = new List<LogEntry>();
            for (var node = _entries.Last; node is not null && found.Count < query.Limit; node = node.Previous)
            {
                var e = node.Value;
                if ((query.Service is null || e.Service == query.Service)
                    && LogLevels.Rank(e.Level) >= minimum
                    && (query.TraceId is null || string.Equals(e.TraceId, query.TraceId, StringComparison.OrdinalIgnoreCase))
                    && (query.Text is null || e.Message.Contains(query.Text, StringComparison.OrdinalIgnoreCase))
                    && (query.From is null || e.Time >= query.From)
                    && (query.To is null || e.Time <= query.To))
                {
                    found.Add(e);
                }
            }
            return found;
        }
    }
}
