using System.Collections.Concurrent;
using AgenticFlow.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Providers.Domain;

/// <summary>
/// The value of <see cref="GenAiTelemetry.AgentTag"/> on the GenAI metrics: who a call was made for, as the caller
/// identity headers say, never free text a client chose. An agent key (or token) through the gateway is its agent id;
/// any other gateway caller is its highest role, <c>role:admin</c>, <c>role:operator</c>, <c>role:viewer</c> (not its
/// principal: a JWT's subject is a user's identifier, which metrics readers need not see, and users are unbounded); a
/// service calling through Dapr names the agent it calls for (the agents service sends its registered agents' ids),
/// else it is <c>service:&lt;app id&gt;</c>. Each value is a metric series per model and token type, so each providers
/// process (each replica) keeps at most <see cref="ProvidersOptions.MaxAgentLabels"/> distinct agent ids, and as many
/// other caller ids (those with a prefix, such as <c>workflow:&lt;id&gt;</c>); later new ones are <c>other</c>. Role and
/// service labels are few and fixed and never count against either.
/// </summary>
public sealed class AgentLabels(IOptions<ProvidersOptions> options)
{
    public const string Other = "other";
    private const string DaprCallerHeader = "dapr-caller-app-id";

    private static readonly string[] Roles = [CallerIdentity.Admin, CallerIdentity.Operator, CallerIdentity.Agent, CallerIdentity.Viewer];

    // Agent ids and other callers a service names (workflow:<id>, team ids with a prefix) are bounded apart, so many
    // workflow definitions cannot push later agents into "other".
    private readonly ConcurrentDictionary<string, byte> _agents = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _others = new(StringComparer.Ordinal);

    public string Of(HttpRequest request, string caller)
    {
        var identity = CallerIdentity.From(request);
        string label;
        if (identity.FromEdge)
        {
            if (identity.AgentId is null)
            {
                return "role:" + (Roles.FirstOrDefault(identity.Roles.Contains) ?? "none");
            }
            label = identity.AgentId;
        }
        else if (caller is { Length: > 0 } and not "anonymous")
        {
            label = caller;
        }
        else
        {
            var app = request.Headers[DaprCallerHeader].ToString();
            return "service:" + (app is { Length: > 0 and <= 64 } && app.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_') ? app : "unknown");
        }
        return Bounded(label.Length > 200 ? label[..200] : label);
    }

    public string Bounded(string label)
    {
        var seen = label.Contains(':') ? _others : _agents;
        if (seen.ContainsKey(label))
        {
            return label;
        }
        // Racing first uses may pass the limit by a few; the set stays bounded all the same.
        if (seen.Count >= options.Value.MaxAgentLabels)
        {
            return Other;
        }
        seen.TryAdd(label, 0);
        return label;
    }
}
