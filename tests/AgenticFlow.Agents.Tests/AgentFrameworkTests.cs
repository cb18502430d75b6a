using System.Net;
using System.Text;
using System.Text.Json;
using AgenticFlow.Agents.Domain;
using AgenticFlow.Agents.Llm;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;

namespace AgenticFlow.Agents.Tests;

/// <summary>The llm side without processes: what <see cref="ProvidersChatClient"/> sends the providers service and reads
/// back, and a Microsoft Agent Framework session that survives serialization, as the actor keeps it.</summary>
public sealed class AgentFrameworkTests
{
    /// <summary>Answers like the providers service's /api/v1/providers/complete and keeps every request body.</summary>
    private sealed class ProvidersDouble(Func<int, string> answer) : HttpMessageHandler
    {
        public List<JsonElement> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Assert.Equal("/api/v1/providers/complete", request.RequestUri!.AbsolutePath);
            Requests.Add(JsonDocument.Parse(await request.Content!.ReadAsStringAsync(cancellationToken)).RootElement.Clone());
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(answer(Requests.Count), Encoding.UTF8, "application/json") };
        }
    }

    private static string Completion(string text, string toolCalls = "[]") =>
        $$"""{"text": {{JsonSerializer.Serialize(text)}}, "toolCalls": {{toolCalls}}, "provider": "p", "model": "m", "usage": {"inputTokens": 3, "outputTokens": 2}, "finishReason": "stop"}""";

    [Fact]
    public async Task ChatClientAgent_SendsSystemPromptToolsModelAndCaller_ThroughProviders()
    {
        var providers = new ProvidersDouble(_ => Completion("", """[{"id": "c1", "name": "lookup", "arguments": {"word": "actor"}}]"""));
        var client = new ProvidersChatClient(new HttpClient(providers) { BaseAddress = new Uri("http://providers/") }, "agent-7", "gpt-x", "large");
        var tool = AIFunctionFactory.CreateDeclaration("lookup", "Looks a word up", JsonDocument.Parse("""{"type":"object","properties":{"word":{"type":"string"}}}""").RootElement);
        var agent = new ChatClientAgent(client, "You define words.", "Definer", null, [tool]);

        var response = await agent.RunAsync("What is an actor?");

        var sent = Assert.Single(providers.Requests);
        Assert.Equal("agent-7", sent.GetProperty("caller").GetString());
        Assert.Equal("gpt-x", sent.GetProperty("model").GetString());
        Assert.Equal("large", sent.GetProperty("modelClass").GetString());
        var messages = sent.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(("system", "You define words."), (messages[0].GetProperty("role").GetString(), messages[0].GetProperty("content").GetString()));
        Assert.Equal(("user", "What is an actor?"), (messages[^1].GetProperty("role").GetString(), messages[^1].GetProperty("content").GetString()));
        Assert.Equal("lookup", sent.GetProperty("options").GetProperty("tools")[0].GetProperty("name").GetString());
        // A declared tool is not run here: the model's call comes back to the caller.
        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("lookup", call.Name);
        Assert.Equal("actor", call.Arguments!["word"]!.ToString());
    }

    [Fact]
    public async Task SerializedSession_ResumedByANewAgent_CarriesTheConversation()
    {
        var providers = new ProvidersDouble(n => Completion(n == 1 ? "First answer." : "Second answer."));
        ChatClientAgent NewAgent() => new(new ProvidersChatClient(new HttpClient(providers) { BaseAddress = new Uri("http://providers/") }, "a", null, null), "Be brief.", "A", null, []);

        var first = NewAgent();
        var session = await first.CreateSessionAsync();
        await first.RunAsync("Question one", session);
        var stored = await first.SerializeSessionAsync(session);

        // As after a restart: another agent object, the session read back from what the actor stored.
        var second = NewAgent();
        var resumed = await second.DeserializeSessionAsync(JsonDocument.Parse(stored.GetRawText()).RootElement);
        var answer = await second.RunAsync("Question two", resumed);

        Assert.Equal("Second answer.", answer.Text);
        var texts = providers.Requests[1].GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()).ToList();
        Assert.Equal(["Be brief.", "Question one", "First answer.", "Question two"], texts);
    }

    [Theory]
    [InlineData("{\"choice\": \"ship\", \"reason\": \"green\"}", "ship", "green")]
    [InlineData("Sure! {\"choice\": \"wait\", \"reason\": \"risky\"} hope that helps", "wait", "risky")]
    [InlineData("ship", "ship", "")]
    public void ReadVote_TakesAChoiceThatIsAnOption(string answer, string choice, string reason) =>
        Assert.Equal((choice, reason), LlmWork.ReadVote(answer, ["ship", "wait"]));

    [Theory]
    [InlineData("{\"choice\": \"maybe\", \"reason\": \"unsure\"}", "maybe")]
    [InlineData("I cannot decide.", "I cannot decide.")]
    public void ReadVote_AnythingElseIsAnAbstention_WithTheAnswerAsReason(string answer, string mentioned)
    {
        var (choice, reason) = LlmWork.ReadVote(answer, ["ship", "wait"]);
        Assert.Null(choice);
        Assert.StartsWith("abstained", reason);
        Assert.Contains(mentioned, reason);
    }

    [Fact]
    public void TaskPrompt_CarriesDescriptionInputCapabilitiesAndDeadline()
    {
        var prompt = LlmWork.TaskPrompt(new WorkItem
        {
            Id = "t1", Kind = WorkKinds.Task, Description = "Summarise", Input = JsonDocument.Parse("{\"doc\":42}").RootElement,
            RequiredCapabilities = ["summarise"], Deadline = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero),
        });
        Assert.Contains("Task t1: Summarise", prompt);
        Assert.Contains("{\"doc\":42}", prompt);
        Assert.Contains("summarise", prompt);
        Assert.Contains("2030-01-02T03:04:05", prompt);
    }
}
