using System.Text.Json.Nodes;
using AgenticFlow.Workflows.Domain;

namespace AgenticFlow.Workflows.Tests;

public sealed class ValidationTests
{
    private static List<DefinitionProblem> Check(string json) => DefinitionValidator.Check(JsonNode.Parse(json));

    [Fact]
    public void TheIssuesExample_IsValid()
    {
        var problems = Check("""
            {"name": "review", "inputs": {"type": "object"}, "steps": [
            {"id": "draft", "kind": "llm", "prompt": "Draft a reply to ${input.ticket}"},
            {"id": "wait", "kind": "delay", "seconds": 1},
            {"id": "approve", "kind": "wait-for-event", "event": "approval", "timeoutSeconds": 3600},
            {"id": "send", "kind": "publish", "topic": "replies", "data": "${steps.draft.output}", "when": "steps.approve.output.approved"}]}
            """);
        Assert.Empty(problems);
    }

    [Fact]
    public void EveryKindOfError_IsListedWithItsPointer()
    {
        var problems = Check("""
            {"name": "", "inputs": {"type": 12}, "steps": [
              {"id": "a", "kind": "teleport"},
              {"id": "b", "kind": "llm", "prompt": "${steps.ghost.output}"},
              {"id": "c", "kind": "invoke", "app": "svc", "method": "x", "data": "${steps.d.output}"},
              {"id": "d", "kind": "publish", "topic": "t", "when": "steps.d.output == 1"},
              {"id": "e", "kind": "condition", "if": "input.x >", "then": [{"id": "f", "kind": "delay"}]},
              {"id": "a", "kind": "delay", "seconds": -1},
              {"id": "g", "kind": "parallel", "branches": [[{"id": "h", "kind": "delay", "seconds": 1}]], "join": "n-of-m", "n": 3},
              {"id": "bad-id", "kind": "wait-for-event"}
            ],
            "triggers": [{"kind": "schedule", "cron": "every day"}, {"kind": "webhook"}, {"kind": "event", "topic": "orders", "filter": "event.data.total >"}]}
            """);
        var byPointer = problems.GroupBy(p => p.Pointer).ToDictionary(g => g.Key, g => string.Join(" | ", g.Select(p => p.Message)));
        Assert.Contains("/name", byPointer.Keys);
        Assert.Contains("/inputs", byPointer.Keys);
        Assert.Contains("unknown step kind 'teleport'", byPointer["/steps/0/kind"]);
        Assert.Contains("'ghost', which does not exist", byPointer["/steps/1/prompt"]);
        Assert.Contains("(a cycle)", byPointer["/steps/2/data"]);
        Assert.Contains("(a cycle)", byPointer["/steps/3/when"]);
        Assert.Contains("does not parse", byPointer["/steps/4/if"]);
        Assert.Contains("/steps/4/then/0/seconds", byPointer.Keys);
        Assert.Contains("used twice", byPointer["/steps/5/id"]);
        Assert.Contains("/steps/5/seconds", byPointer.Keys);
        Assert.Contains("more than the 1 branches", byPointer["/steps/6/n"]);
        Assert.Contains("/steps/7/id", byPointer.Keys);
        Assert.Contains("/steps/7/event", byPointer.Keys);
        Assert.Contains("not a cron expression", byPointer["/triggers/0/cron"]);
        Assert.Contains("unknown trigger kind 'webhook'", byPointer["/triggers/1/kind"]);
        Assert.Contains("does not parse", byPointer["/triggers/2/filter"]);
    }

    [Fact]
    public void ShapeErrors_AreReportedNotThrown()
    {
        Assert.Equal("", Assert.Single(Check("[]")).Pointer);
        Assert.Contains(Check("""{"name":"x","steps":{}}"""), p => p.Pointer == "/steps");
        Assert.Contains(Check("""{"name":"x","steps":[]}"""), p => p.Pointer == "/steps");
        Assert.Contains(Check("""{"name":"x","steps":[7]}"""), p => p.Pointer == "/steps/0");
        Assert.Contains(Check("""{"name":"x","steps":[{"id":"a","kind":"delay","seconds":"1"}]}"""), p => p.Pointer == "/steps/0/seconds");
        Assert.Contains(Check("""{"name":"x","steps":[{"id":"a","kind":"llm","prompt":"p","retry":{"maxAttempts":0}}]}"""), p => p.Pointer == "/steps/0/retry/maxAttempts");
    }

    [Fact]
    public void ItemAndIndex_BelongToForEachBlocks()
    {
        Assert.Empty(Check("""{"name":"x","steps":[{"id":"fan","kind":"parallel","forEach":"input.items","steps":[{"id":"call","kind":"invoke","app":"a","method":"m","data":{"i":"${item}","n":"${index}"}}]}]}"""));
        Assert.Contains(Check("""{"name":"x","steps":[{"id":"a","kind":"publish","topic":"t","data":"${item}"}]}"""), p => p.Pointer == "/steps/0/data");
    }

    [Fact]
    public void LaterStepsMayReadABlocksInnerSteps_AndCompensationsMayReadAnyStep()
    {
        Assert.Empty(Check("""
            {"name":"x","steps":[
              {"id":"both","kind":"parallel","branches":[[{"id":"left","kind":"delay","seconds":0}],[{"id":"right","kind":"delay","seconds":0}]]},
              {"id":"after","kind":"publish","topic":"t","data":"${steps.left.status}",
               "compensate":{"kind":"publish","topic":"undo","data":"${steps.after.output}"}}]}
            """));
    }

    [Fact]
    public void Schedules_StartAtMostOneMissedTick()
    {
        var cron = Schedules.Parse("*/5 * * * * *")!;
        var from = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(from.AddHours(2), Schedules.LatestDue(cron, from, from.AddHours(2)));
        Assert.Null(Schedules.LatestDue(cron, from, from.AddSeconds(4)));
        Assert.Null(Schedules.Parse("61 * * * *"));
    }

    [Fact]
    public void RunIds_MayBeLongerThanNames_ButNotLongerThanDaprInstanceIds()
    {
        var scheduled = "sched-" + new string('d', 128) + "-v12-0-20300101000000";
        Assert.False(DefinitionValidator.IsName(scheduled));
        Assert.True(DefinitionValidator.IsRunId(scheduled));
        Assert.False(DefinitionValidator.IsRunId(new string('r', 257)));
        Assert.False(DefinitionValidator.IsRunId("../run"));
    }
}
