using System.Net;
using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Grpc.Core;

namespace AgenticFlow.LocalRuntime.Tests.Workflows;

/// <summary>daprd's HTTP workflow API, as an app in another language calls it, over the same backend.</summary>
public sealed class WorkflowHttpApiTests
{
    [Theory, InlineData("sqlite"), InlineData("redis")]
    public async Task StartGetPauseResumeRaisePurge_ThroughHttp(string store)
    {
        await using var env = await WorkflowEnvironment.StartAsync(store);
        var http = env.Sidecar.Http;
        var id = "http-" + Guid.NewGuid().ToString("N");

        var start = await http.PostAsync($"/v1.0/workflows/dapr/AwaitEvent/start?instanceID={id}", Json("\"go\""));
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        Assert.Equal(id, (await ReadAsync(start)).GetProperty("instanceID").GetString());
        await Eventually.True(async () => (await StatusAsync(http, id)) == "RUNNING", "the workflow to run");
        var running = await ReadAsync(await http.GetAsync($"/v1.0/workflows/dapr/{id}"));
        Assert.Equal("AwaitEvent", running.GetProperty("workflowName").GetString());
        Assert.Equal("\"go\"", running.GetProperty("properties").GetProperty("dapr.workflow.input").GetString());

        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync($"/v1.0/workflows/dapr/{id}/pause", null)).StatusCode);
        Assert.Equal("SUSPENDED", await StatusAsync(http, id));
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync($"/v1.0/workflows/dapr/{id}/resume", null)).StatusCode);
        Assert.Equal("RUNNING", await StatusAsync(http, id));

        var refused = await http.PostAsync($"/v1.0/workflows/dapr/{id}/purge", null);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Equal("ERR_PURGE_WORKFLOW", (await ReadAsync(refused)).GetProperty("errorCode").GetString());

        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync($"/v1.0/workflows/dapr/{id}/raiseEvent/go", Json("\"from http\""))).StatusCode);
        await Eventually.True(async () => (await StatusAsync(http, id)) == "COMPLETED", "the workflow to complete");
        var done = await ReadAsync(await http.GetAsync($"/v1.0/workflows/dapr/{id}"));
        Assert.Equal("\"from http\"", done.GetProperty("properties").GetProperty("dapr.workflow.output").GetString());

        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync($"/v1.0/workflows/dapr/{id}/purge", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/v1.0/workflows/dapr/{id}")).StatusCode);
    }

    [Fact]
    public async Task Terminate_ThroughTheBetaPrefix()
    {
        await using var env = await WorkflowEnvironment.StartAsync("sqlite");
        var http = env.Sidecar.Http;
        var id = "beta-" + Guid.NewGuid().ToString("N");

        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync($"/v1.0-beta1/workflows/dapr/AwaitEvent/start?instanceID={id}", Json("\"never\""))).StatusCode);
        await Eventually.True(async () => (await StatusAsync(http, id, "v1.0-beta1")) == "RUNNING", "the workflow to run");
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync($"/v1.0-beta1/workflows/dapr/{id}/terminate", null)).StatusCode);

        Assert.Equal("TERMINATED", await StatusAsync(http, id, "v1.0-beta1"));
    }

    [Fact]
    public async Task StartAndRaiseEvent_TakeTheBodyAsSent_EvenWhenItIsNotJson()
    {
        await using var env = await WorkflowEnvironment.StartAsync("sqlite");
        var http = env.Sidecar.Http;
        var id = "text-" + Guid.NewGuid().ToString("N");

        // daprd assumes nothing about the body's format; the JavaScript SDK sends a string input as plain text.
        var start = await http.PostAsync($"/v1.0/workflows/dapr/AwaitEvent/start?instanceID={id}", new StringContent("plain words", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var state = await ReadAsync(await http.GetAsync($"/v1.0/workflows/dapr/{id}"));
        Assert.Equal("plain words", state.GetProperty("properties").GetProperty("dapr.workflow.input").GetString());
        var raise = await http.PostAsync($"/v1.0/workflows/dapr/{id}/raiseEvent/go", new StringContent("done", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.Accepted, raise.StatusCode);
    }

    [Fact]
    public async Task BadInput_Answers4xxInDaprsErrorShape_AndStoresNothing()
    {
        await using var env = await WorkflowEnvironment.StartAsync("sqlite");
        var http = env.Sidecar.Http;

        await AssertError(await http.PostAsync("/v1.0/workflows/dapr/Chain/start?instanceID=bad%20id!", Json("\"x\"")), HttpStatusCode.BadRequest, "ERR_INSTANCE_ID_INVALID");
        await AssertError(await http.PostAsync("/v1.0/workflows/dapr/Chain/start?instanceID=" + new string('a', 300), Json("\"x\"")), HttpStatusCode.BadRequest, "ERR_INSTANCE_ID_TOO_LONG");
        await AssertError(await http.PostAsync("/v1.0/workflows/other/Chain/start?instanceID=othercomponent", Json("\"x\"")), HttpStatusCode.BadRequest, "ERR_NON_EXISTENT_WORKFLOW_COMPONENT_PROVIDED");
        await AssertError(await http.PostAsync("/v1.0/workflows/dapr/nobody/raiseEvent/go", Json("1")), HttpStatusCode.NotFound, "ERR_RAISE_EVENT_WORKFLOW");
        await AssertError(await http.PostAsync("/v1.0/workflows/dapr/nobody/terminate", null), HttpStatusCode.NotFound, "ERR_TERMINATE_WORKFLOW");
        await AssertError(await http.PostAsync("/v1.0/workflows/dapr/nobody/pause", null), HttpStatusCode.NotFound, "ERR_PAUSE_WORKFLOW");
        await AssertError(await http.PostAsync("/v1.0/workflows/dapr/nobody/resume", null), HttpStatusCode.NotFound, "ERR_RESUME_WORKFLOW");
        await AssertError(await http.PostAsync("/v1.0/workflows/dapr/nobody/purge", null), HttpStatusCode.NotFound, "ERR_PURGE_WORKFLOW");

        foreach (var id in new[] { "othercomponent", "nobody" })
        {
            await AssertError(await http.GetAsync($"/v1.0/workflows/dapr/{id}"), HttpStatusCode.NotFound, "ERR_GET_WORKFLOW");
        }
        Assert.Empty((await env.Client.ListInstanceIdsAsync()).InstanceIds);
    }

    [Fact]
    public async Task WithoutAnActorStateStore_WorkflowCallsFail_NamingTheMissingSetting()
    {
        using var folder = new ComponentsFolder().State("sqlite");
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("wfnostore"), folder.Path);
        await using var app = await WorkflowTestApp.StartAsync(sidecar);

        var response = await sidecar.Http.PostAsync("/v1.0/workflows/dapr/Chain/start?instanceID=x", Json("\"x\""));
        var body = await AssertError(response, HttpStatusCode.InternalServerError, "ERR_WORKFLOW_COMPONENT_MISSING");
        Assert.Contains("actorStateStore: \"true\"", body.GetProperty("message").GetString());
        Assert.Contains("statestore", body.GetProperty("message").GetString());

        var grpc = await Assert.ThrowsAsync<RpcException>(() => app.Client.ScheduleNewWorkflowAsync("Chain", input: "x"));
        Assert.Equal(StatusCode.FailedPrecondition, grpc.StatusCode);
        Assert.Contains("actorStateStore: \"true\"", grpc.Status.Detail);
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    private static async Task<string?> StatusAsync(HttpClient http, string id, string version = "v1.0")
    {
        var response = await http.GetAsync($"/{version}/workflows/dapr/{id}");
        response.EnsureSuccessStatusCode();
        return (await ReadAsync(response)).GetProperty("runtimeStatus").GetString();
    }

    private static async Task<JsonElement> AssertError(HttpResponseMessage response, HttpStatusCode status, string errorCode)
    {
        Assert.Equal(status, response.StatusCode);
        var body = await ReadAsync(response);
        Assert.Equal(errorCode, body.GetProperty("errorCode").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("message").GetString()));
        return body;
    }
}
