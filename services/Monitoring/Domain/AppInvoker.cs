using AgenticFlow.ServiceDefaults;
using Dapr.Client;

namespace AgenticFlow.Monitoring.Domain;

/// <summary>Calls other apps through this service's Dapr sidecar (<c>http://{app-id}/{path}</c>), with the sidecar's API token.</summary>
public sealed class AppInvoker(IConfiguration configuration)
{
    public HttpClient Http { get; } = DaprInvocation.Client(configuration);
}
