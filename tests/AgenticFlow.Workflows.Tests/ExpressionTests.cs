using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.Workflows.Domain;

namespace AgenticFlow.Workflows.Tests;

public sealed class ExpressionTests
{
    private static readonly Dictionary<string, JsonNode?> Scope = new()
    {
        ["input"] = JsonNode.Parse("""{"ticket":"T-7","amount":12,"items":[1,2,3],"rate":1.5}"""),
        ["steps"] = JsonNode.Parse("""{"draft":{"status":"completed","output":"Dear customer"},"approve":{"status":"completed","output":{"approved":true,"comment":"ok"}}}"""),
    };

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    [Fact]
    public void WholeStringExpression_KeepsTheValuesJsonType()
    {
        Assert.Equal(12, Expressions.Render("${input.amount}", Scope)!.GetValue<long>());
        Assert.True(Expressions.Render("${steps.approve.output}", Scope) is JsonObject { Count: 2 });
        Assert.Equal("[1,2,3]", Expressions.Render("${input.items}", Scope)!.ToJsonString());
    }

    [Fact]
    public void InterpolatedString_WritesEachExpressionIntoTheText()
    {
        Assert.Equal("Draft a reply to T-7 (12 EUR, 3 items)", Expressions.RenderText("Draft a reply to ${input.ticket} (${input.amount} EUR, ${size(input.items)} items)", Scope));
        Assert.Equal("braces {x} stay", Expressions.RenderText("braces {x} stay", Scope));
        Assert.Equal("map: {\"a\":1}", Expressions.RenderText("map: ${ {'a': 1} }", Scope));
    }

    [Fact]
    public void Templates_AreRenderedInsideObjectsAndArrays()
    {
        var rendered = Expressions.Render(Json("""{"to":"${input.ticket}","lines":["${steps.draft.output}", 5, true],"n":null}"""), Scope)!;
        Assert.Equal("""{"to":"T-7","lines":["Dear customer",5,true],"n":null}""", rendered.ToJsonString());
    }

    [Fact]
    public void WhenExpressions_AreCelOverInputAndSteps()
    {
        Assert.True(Expressions.IsTrue("steps.approve.output.approved", Scope));
        Assert.True(Expressions.IsTrue("input.amount > 10 && input.items.exists(i, i == 2)", Scope));
        Assert.False(Expressions.IsTrue("input.ticket.startsWith('X')", Scope));
        Assert.Throws<ExpressionException>(() => Expressions.IsTrue("input.amount", Scope));
    }

    [Fact]
    public void MissingFieldsAndUnknownNames_AreErrorsNotNulls()
    {
        Assert.Throws<ExpressionException>(() => Expressions.Evaluate("input.nope", Scope));
        Assert.Throws<ExpressionException>(() => Expressions.Evaluate("nobody", Scope));
        Assert.Throws<ExpressionException>(() => Expressions.Evaluate("1 / 0", Scope));
        Assert.False(Expressions.Evaluate("has(input.nope)", Scope)!.GetValue<bool>());
    }

    [Fact]
    public void StepReferences_AreFoundInSelectAndIndexForms()
    {
        Assert.Equal(["draft", "approve"], Expressions.StepReferences("steps.draft.output + string(steps['approve'].output.approved)"));
        Assert.Empty(Expressions.StepReferences("input.steps"));
    }

    [Fact]
    public void SyntaxErrors_AreReported()
    {
        Assert.NotNull(Expressions.SyntaxError("input.amount >"));
        Assert.Null(Expressions.SyntaxError("input.amount > 1"));
        Assert.Throws<ExpressionException>(() => Expressions.Embedded("unclosed ${input.ticket"));
    }
}
