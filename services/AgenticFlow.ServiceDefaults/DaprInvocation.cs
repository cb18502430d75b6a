using Dapr.Client;
using Microsoft.Extensions.Configuration;

namespace AgenticFlow.ServiceDefaults;

/// <summary>
/// The one way services call each other: an HttpClient whose <c>http://{app-id}/path</c> becomes this app's sidecar's
/// <c>/v1.0/invoke/{app-id}/method/path</c>, always with the sidecar's API token (<c>DAPR_API_TOKEN</c>). The SDK
/// does not add the token by itself; a client made without it is refused 401 wherever tokens are on (tools/run.sh,
/// Kubernetes) — one service forgot it once.
/// </summary>
public static class DaprInvocation
{
    public static HttpClient Client(IConfiguration configuration, string? appId = null) =>
        DaprClient.CreateInvokeHttpClient(appId, daprApiToken: configuration["DAPR_API_TOKEN"]);
}
