using System.Text.Json;
using AgenticFlow.Agents.Apis;

namespace AgenticFlow.Agents.Tests;

public sealed class RequestRulesTests
{
    private static CapabilityDto Cap(string name, double? proficiency = 0.5) => new(name, null, proficiency);

    [Fact]
    public void Register_AValidLlmAgent_BecomesARecord()
    {
        var errors = RequestRules.Register(new RegisterAgentRequest("w1", " Writer ", "llm", [Cap("summarise", 0.9)], 3, new() { ["team"] = "docs" },
            new LlmDto("local-echo", null, "Be brief.", [new ToolDto("lookup", "find", null)])), out var agent);
        Assert.Empty(errors);
        Assert.Equal(("w1", "Writer", 3), (agent!.Id, agent.Name, agent.MaxConcurrentTasks));
        Assert.Equal("Be brief.", agent.Llm!.SystemPrompt);
        Assert.Equal("lookup", Assert.Single(agent.Llm.Tools).Name);
    }

    [Fact]
    public void Register_WithoutAnId_GetsOne()
    {
        Assert.Empty(RequestRules.Register(new RegisterAgentRequest(null, "X", "external", [Cap("a")], null, null, null), out var agent));
        Assert.True(RequestRules.IsId(agent!.Id));
        Assert.Equal(1, agent.MaxConcurrentTasks);
    }

    [Theory]
    [InlineData("query")]
    [InlineData("Knowledge-Graph")]
    [InlineData("shared")]
    [InlineData("messaging")]
    public void Register_RefusesIdsThePlatformReserves(string id)
    {
        var errors = RequestRules.Register(new RegisterAgentRequest(id, "X", "external", [Cap("a")], null, null, null), out var agent);
        Assert.Contains("reserved", Assert.Single(errors["id"]));
        Assert.Null(agent);
    }

    [Theory]
    [InlineData("id")]
    [InlineData("name")]
    [InlineData("kind")]
    [InlineData("capabilities")]
    [InlineData("capabilities[0].proficiency")]
    [InlineData("capabilities[1].name")]
    [InlineData("maxConcurrentTasks")]
    [InlineData("llm")]
    public void Register_NamesTheFieldThatIsWrong(string field)
    {
        var request = field switch
        {
            "id" => new RegisterAgentRequest("../etc", "X", "external", [Cap("a")], null, null, null),
            "name" => new RegisterAgentRequest(null, " ", "external", [Cap("a")], null, null, null),
            "kind" => new RegisterAgentRequest(null, "X", "robot", [Cap("a")], null, null, null),
            "capabilities" => new RegisterAgentRequest(null, "X", "external", [], null, null, null),
            "capabilities[0].proficiency" => new RegisterAgentRequest(null, "X", "external", [Cap("a", 1.2)], null, null, null),
            "capabilities[1].name" => new RegisterAgentRequest(null, "X", "external", [Cap("a"), Cap("a")], null, null, null),
            "maxConcurrentTasks" => new RegisterAgentRequest(null, "X", "external", [Cap("a")], 0, null, null),
            _ => new RegisterAgentRequest(null, "X", "llm", [Cap("a")], null, null, null),
        };
        var errors = RequestRules.Register(request, out var agent);
        Assert.Null(agent);
        Assert.Contains(field, errors.Keys);
    }

    [Fact]
    public void State_ChecksStatusLoadCustomAndIfMatch()
    {
        Assert.Contains("status", RequestRules.State(new UpdateStateRequest("draining", null, null), null, out _).Keys);
        Assert.Contains("load", RequestRules.State(new UpdateStateRequest(null, 1.5, null), null, out _).Keys);
        Assert.Contains("body", RequestRules.State(new UpdateStateRequest(null, null, null), null, out _).Keys);
        Assert.Contains("If-Match", RequestRules.State(new UpdateStateRequest("busy", null, null), "abc", out _).Keys);
        var custom = new Dictionary<string, JsonElement?> { ["gpu"] = JsonDocument.Parse("\"a100\"").RootElement };
        Assert.Empty(RequestRules.State(new UpdateStateRequest("busy", 0.5, custom), "\"4\"", out var change));
        Assert.Equal(("busy", 0.5, "\"4\""), (change!.Status, change.Load, change.IfMatch));
    }

    [Fact]
    public void Result_AFailureMustSayWhy()
    {
        Assert.Contains("error", RequestRules.Result(new TaskResultRequest("failed", null, null), out _).Keys);
        Assert.Contains("status", RequestRules.Result(new TaskResultRequest("done", null, null), out _).Keys);
        Assert.Empty(RequestRules.Result(new TaskResultRequest("failed", null, "disk full"), out var result));
        Assert.Equal("disk full", result!.Error);
    }

    [Fact]
    public void Vote_NeedsTwoDistinctOptions()
    {
        Assert.Contains("options", RequestRules.Vote(new VoteRequest("r1", "t", "p", ["yes"], null), out _).Keys);
        Assert.Contains("options", RequestRules.Vote(new VoteRequest("r1", "t", "p", ["yes", "yes"], null), out _).Keys);
        Assert.Empty(RequestRules.Vote(new VoteRequest("r1", "t", "p", ["yes", "no"], null), out var work));
        Assert.Equal("vote:r1", work!.Id);
    }
}
