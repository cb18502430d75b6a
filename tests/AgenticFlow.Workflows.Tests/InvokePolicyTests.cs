using AgenticFlow.Workflows.Domain;

namespace AgenticFlow.Workflows.Tests;

public sealed class InvokePolicyTests
{
    private static readonly string[] Targets = ["messaging/api/v1/messages", "billing"];

    [Theory]
    [InlineData("messaging", "api/v1/messages")]
    [InlineData("messaging", "/api/v1/messages")]
    [InlineData("billing", "charge/card")]
    public void ListedTargets_AreAllowed(string app, string method) => Assert.Null(InvokePolicy.Refusal(app, method, Targets));

    [Theory]
    [InlineData("providers", "api/v1/providers/openai/config")] // not listed
    [InlineData("messaging", "api/v1/subscriptions")] // another route of a listed app
    [InlineData("workflows", "api/v1/workflows")] // itself, even if listed
    [InlineData("billing", "internal/agents/a1/tasks")] // internal routes, even of a listed app
    [InlineData("billing", "v2/internal/x")]
    public void EverythingElse_IsRefused(string app, string method)
    {
        Assert.NotNull(InvokePolicy.Refusal(app, method, [.. Targets, "workflows"]));
    }

    [Fact]
    public void NothingIsAllowed_ByDefault() => Assert.NotNull(InvokePolicy.Refusal("messaging", "api/v1/messages", []));

    [Fact]
    public void AllSteps_FindsNestedAndCompensationSteps_WithTheirPointers()
    {
        var inner = new StepDefinition { Id = "in", Kind = StepKinds.Invoke, Compensate = new StepDefinition { Id = "undo", Kind = StepKinds.Invoke } };
        var steps = new List<StepDefinition> { new() { Id = "p", Kind = StepKinds.Parallel, Branches = [[inner]] } };

        var pointers = InvokePolicy.AllSteps(steps, "/steps").Select(s => s.Pointer).ToList();

        Assert.Equal(["/steps/0", "/steps/0/branches/0/0", "/steps/0/branches/0/0/compensate"], pointers);
    }
}
