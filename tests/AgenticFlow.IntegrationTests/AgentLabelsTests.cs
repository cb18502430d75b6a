using AgenticFlow.Providers.Domain;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace AgenticFlow.IntegrationTests;

/// <summary>The agent attribute of the GenAI metrics comes from the caller identity headers and stays bounded.</summary>
public sealed class AgentLabelsTests
{
    private static HttpRequest Request(params (string Header, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        foreach (var (header, value) in headers)
        {
            context.Request.Headers[header] = value;
        }
        return context.Request;
    }

    [Fact]
    public void Labels_FollowTheIdentityHeaders_NotTheCallersFreeText()
    {
        var labels = new AgentLabels(Options.Create(new ProvidersOptions()));
        // An agent key through the gateway: its agent, whatever the body named.
        Assert.Equal("a1", labels.Of(Request((CallerIdentity.PrincipalHeader, "dev-agent-a1"), (CallerIdentity.RolesHeader, "agent"), (CallerIdentity.AgentHeader, "a1")), "a1"));
        // An operator naming any caller in the body, or a user's JWT: the highest role, never the text or the subject.
        Assert.Equal("role:operator", labels.Of(Request((CallerIdentity.PrincipalHeader, "dev-operator"), (CallerIdentity.RolesHeader, "viewer,operator")), "made-up-" + Guid.NewGuid()));
        Assert.Equal("role:viewer", labels.Of(Request((CallerIdentity.PrincipalHeader, "jane@example.com"), (CallerIdentity.RolesHeader, "viewer")), "x"));
        // A service through Dapr naming the agent it calls for, or no one.
        Assert.Equal("writer-1", labels.Of(Request(("dapr-caller-app-id", "agents")), "writer-1"));
        Assert.Equal("service:workflows", labels.Of(Request(("dapr-caller-app-id", "workflows")), "anonymous"));
        Assert.Equal("service:unknown", labels.Of(Request(("dapr-caller-app-id", "bad app/" + new string('x', 100))), "anonymous"));
    }

    [Fact]
    public void NewValuesPastTheLimit_AreOther_AndKnownOnesStay()
    {
        var labels = new AgentLabels(Options.Create(new ProvidersOptions { MaxAgentLabels = 3 }));
        Assert.Equal(["x1", "x2", "x3", AgentLabels.Other, AgentLabels.Other], new[] { "x1", "x2", "x3", "x4", "x5" }.Select(x => labels.Of(Request(), x)));
        Assert.Equal("x2", labels.Of(Request(), "x2"));
        // Prefixed callers (workflows) have their own budget: they do not crowd agents out, nor agents them.
        Assert.Equal(["workflow:w1", "workflow:w2", "workflow:w3", AgentLabels.Other], new[] { "workflow:w1", "workflow:w2", "workflow:w3", "workflow:w4" }.Select(x => labels.Of(Request(), x)));
        // Role and service labels are few and fixed: they are never crowded out.
        Assert.Equal("role:admin", labels.Of(Request((CallerIdentity.PrincipalHeader, "dev-admin"), (CallerIdentity.RolesHeader, "admin")), "x9"));
        Assert.Equal("service:agents", labels.Of(Request(("dapr-caller-app-id", "agents")), ""));
    }
}
