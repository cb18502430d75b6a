using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.PubSub;

namespace AgenticFlow.LocalRuntime.Api;

public static class Publishing
{
    /// <summary>Publishes each entry of a bulk publish; the entries that failed come back with their errors.</summary>
    public static async Task<List<(string EntryId, string Error)>> PublishAllAsync(
        Sidecar sidecar, string pubsub, string topic, IReadOnlyList<(string EntryId, BrokerMessage Message)> entries, CancellationToken ct)
    {
        var failed = new List<(string, string)>();
        var results = await Task.WhenAll(entries.Select(async e =>
        {
            try
            {
                await sidecar.PublishAsync(pubsub, topic, e.Message, ct);
                return (e.EntryId, (string?)null);
            }
            catch (DaprError ex)
            {
                return (e.EntryId, ex.Message);
            }
        }));
        foreach (var (id, error) in results)
        {
            if (error is not null)
            {
                failed.Add((id, error));
            }
        }
        return failed;
    }
}
