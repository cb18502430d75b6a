using System.Diagnostics;
using System.Security.Claims;
using AgenticFlow.Gateway.Routing;
using AgenticFlow.Gateway.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;

namespace AgenticFlow.IntegrationTests;

/// <summary>The gateway's propagator: a client's trace context is not taken in; the gateway's own calls to itself are.</summary>
public sealed class IngressTraceContextTests
{
    private const string Parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    private static (string? TraceId, string? State, IEnumerable<KeyValuePair<string, string?>>? Baggage) Extract(Dictionary<string, string> headers)
    {
        var propagator = new IngressTraceContext();
        DistributedContextPropagator.PropagatorGetterCallback getter = (carrier, name, out value, out values) =>
        {
            values = null;
            value = ((Dictionary<string, string>)carrier!).TryGetValue(name, out var v) ? v : null;
        };
        propagator.ExtractTraceIdAndState(headers, getter, out var traceId, out var state);
        return (traceId, state, propagator.ExtractBaggage(headers, getter));
    }

    [Fact]
    public void AClientsContext_IsNotTakenIn()
    {
        var (traceId, state, baggage) = Extract(new() { ["traceparent"] = Parent, ["tracestate"] = "a=1", ["baggage"] = "user=mallory" });
        Assert.Null(traceId);
        Assert.Null(state);
        Assert.Null(baggage);
    }

    [Fact]
    public void AClientThatGuessesTheSelfHeader_IsStillAClient()
    {
        var (traceId, _, _) = Extract(new() { ["traceparent"] = Parent, [IngressTraceContext.SelfHeader] = new string('0', IngressTraceContext.SelfKey.Length) });
        Assert.Null(traceId);
    }

    [Fact]
    public void TheGatewaysOwnCall_KeepsItsTrace()
    {
        // An MCP tool's REST call re-enters the gateway: it stays in the tool call's trace.
        var (traceId, state, _) = Extract(new() { ["traceparent"] = Parent, ["tracestate"] = "a=1", [IngressTraceContext.SelfHeader] = IngressTraceContext.SelfKey });
        Assert.Equal(Parent, traceId);
        Assert.Equal("a=1", state);
    }
}

/// <summary>Who reads traces and logs at the gateway: people, not agents, whatever other roles an agent holds.</summary>
public sealed class ObserversPolicyTests
{
    [Theory]
    [InlineData("admin", true)]
    [InlineData("operator", true)]
    [InlineData("viewer", true)]
    [InlineData("agent", false)]
    [InlineData("agent,viewer", false)]
    [InlineData("agent,operator", true)]
    public async Task TracesAndLogs_AreForPeople(string roles, bool allowed)
    {
        var services = new ServiceCollection().AddLogging().AddAuthorizationCore(RouteTable.AddPolicies);
        using var provider = services.BuildServiceProvider();
        var identity = new ClaimsIdentity(roles.Split(',').Select(r => new Claim(ClaimTypes.Role, r)), "test");
        var result = await provider.GetRequiredService<IAuthorizationService>().AuthorizeAsync(new ClaimsPrincipal(identity), null, RouteTable.Observers);
        Assert.Equal(allowed, result.Succeeded);
    }
}
