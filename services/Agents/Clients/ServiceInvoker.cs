using AgenticFlow.ServiceDefaults;
using System.Collections.Concurrent;
using Dapr.Client;

namespace AgenticFlow.Agents.Clients;

/// <summary>HTTP clients that reach other apps through this app's Dapr sidecar (service invocation), one per app id:
/// <c>http://{appId}/path</c> becomes <c>/v1.0/invoke/{appId}/method/path</c> with the sidecar's API token.</summary>
public sealed class ServiceInvoker(IConfiguration configuration) : IDisposable
{
    private readonly ConcurrentDictionary<string, HttpClient> _clients = new(StringComparer.Ordinal);

    public HttpClient For(string appId) => _clients.GetOrAdd(appId, id =>
    {
        var client = DaprInvocation.Client(configuration, id);
        client.Timeout = TimeSpan.FromSeconds(100);
        return client;
    });

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }
}
