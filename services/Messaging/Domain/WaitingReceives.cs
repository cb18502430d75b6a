using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Messaging.Domain;

/// <summary>
/// Counts the long-poll receives each queue has waiting on this replica. A waiting receive holds a request (and a
/// connection through the gateway and both sidecars) for up to 30 s: without a cap, one agent's key could open them by
/// the thousand and hold what every other caller needs. Receives that do not wait are not counted.
/// </summary>
public sealed class WaitingReceives(IOptions<MessagingOptions> options)
{
    private readonly ConcurrentDictionary<string, int> _waiting = new(StringComparer.Ordinal);

    public int Limit => options.Value.MaxWaitingReceivesPerQueue;

    /// <summary>A place for one more waiting receive of <paramref name="agentId"/>, or null when the queue has its limit.</summary>
    public IDisposable? TryEnter(string agentId)
    {
        while (true)
        {
            var current = _waiting.GetValueOrDefault(agentId);
            if (current >= Limit)
            {
                return null;
            }
            if (current == 0 ? _waiting.TryAdd(agentId, 1) : _waiting.TryUpdate(agentId, current + 1, current))
            {
                return new Place(this, agentId);
            }
        }
    }

    private void Leave(string agentId)
    {
        while (true)
        {
            var current = _waiting[agentId];
            if (current == 1 ? _waiting.TryRemove(KeyValuePair.Create(agentId, 1)) : _waiting.TryUpdate(agentId, current - 1, current))
            {
                return;
            }
        }
    }

    private sealed class Place(WaitingReceives owner, string agentId) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                owner.Leave(agentId);
            }
        }
    }
}
