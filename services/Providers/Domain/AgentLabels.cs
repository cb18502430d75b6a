using System.Collections.Concurrent;
using AgenticFlow.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Providers.Domain;

/// <summary>
/// The value of <see cref="GenAiTelemetry.AgentTag"/> on the GenAI metrics: who a call was made for, as the caller
/// identity headers say, never free text a client chose. An agent key through the gateway is its agent id; another
/// gateway key is <c>principal:&lt;key name&gt;</c> (a body's <c>caller</c> is for charging, not for metrics); a service
/// calling through Dapr names the agent it calls for (the agents service sends its registered agents' ids), else it
/// is <c>service:&lt;app id&gt;</c>. Each value is a metric series per model and token type, so this process keeps at most
/// <see cref="ProvidersOptions.MaxAgentLabels"/> distinct values; later new ones are <c>other</c>.
/// </summary>
public sealed class AgentLabels(IOptions<ProvidersOptions> options)
{
    public const string Other = "other";
    private const string DaprCallerHeader = "dapr-caller-app-id";

    private readonly ConcurrentDictionary<string, byte> _seen = new(StringComparer.Ordinal);

    public string Of(HttpRequest request, string caller)
    {
        var identity = CallerIdentity.From(request);
        string label;
        if (identity.FromEdge)
        {
            label = identity.AgentId ?? "principal:" + identity.Principal;
        }
        else if (caller is { Length: > 0 } and not "anonymous")
        {
            label = caller;
        }
        else
        {
            label = "service:" + (request.Headers[DaprCallerHeader].ToString() is { Length: > 0 } app ? app : "unknown");
        }
        return Bounded(label.Length > 200 ? label[..200] : label);
    }

    public string Bounded(string label)
    {
        if (_seen.ContainsKey(label))
        {
            return label;
        }
        // Racing first uses may pass the limit by a few; the set stays bounded all the same.
        if (_seen.Count >= options.Value.MaxAgentLabels)
        {
            return Other;
        }
        _seen.TryAdd(label, 0);
        return label;
    }
}
