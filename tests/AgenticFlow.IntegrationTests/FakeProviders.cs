using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.IntegrationTests;

/// <summary>
/// A scripted stand-in for an LLM provider on loopback, speaking the OpenAI chat completions API and the
/// Anthropic messages API. Each request takes the next scripted reply ("ok", "500", "429:secs", "slow:ms",
/// "tool:NAME:{json arguments}" for an OpenAI tool call), or "ok" when the script is empty.
/// </summary>
public sealed class FakeProvider : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeProvider(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }
    public ConcurrentQueue<string> Script { get; } = new();
    public ConcurrentQueue<(DateTime At, string Path, string Auth, string Body)> Requests { get; } = new();
    public string Reply { get; set; } = "Hello from the fake";

    public static async Task<FakeProvider> StartAsync()
    {
        var port = TestSidecar.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var fake = new FakeProvider(app, port);
        app.MapPost("/v1/chat/completions", (Delegate)fake.OpenAi);
        app.MapPost("/v1/messages", (Delegate)fake.Anthropic);
        await app.StartAsync();
        return fake;
    }

    private async Task<(JsonElement Body, IResult? Refusal, string Step)> Take(HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body);
        var text = await reader.ReadToEndAsync();
        var auth = http.Request.Headers.Authorization.ToString() + http.Request.Headers["x-api-key"] + http.Request.Headers["api-key"];
        Requests.Enqueue((DateTime.UtcNow, http.Request.Path, auth, text));
        var step = Script.TryDequeue(out var s) ? s : "ok";
        if (step == "500")
        {
            return (default, Results.Json(new { error = new { message = "upstream exploded" } }, statusCode: 500), step);
        }
        if (step == "400")
        {
            return (default, Results.Json(new { error = new { message = "this request is not acceptable" } }, statusCode: 400), step);
        }
        if (step.StartsWith("429:", StringComparison.Ordinal))
        {
            http.Response.Headers.RetryAfter = step[4..];
            return (default, Results.Json(new { error = new { message = "slow down" } }, statusCode: 429), step);
        }
        if (step.StartsWith("slow:", StringComparison.Ordinal))
        {
            await Task.Delay(int.Parse(step[5..]));
        }
        return (JsonDocument.Parse(text).RootElement.Clone(), null, step);
    }

    private async Task<IResult> OpenAi(HttpContext http)
    {
        var (body, refusal, step) = await Take(http);
        if (refusal is not null)
        {
            return refusal;
        }
        var model = body.GetProperty("model").GetString();
        if (step.StartsWith("tool:", StringComparison.Ordinal))
        {
            // A scripted tool call: "tool:NAME:{json arguments}".
            var name = step[5..step.IndexOf(':', 5)];
            var arguments = step[(step.IndexOf(':', 5) + 1)..];
            return Results.Json(new
            {
                id = "chatcmpl-fake-tool",
                @object = "chat.completion",
                created = 1,
                model,
                choices = new[] { new { index = 0, message = new { role = "assistant", content = (string?)null, tool_calls = new[] { new { id = "call_" + Guid.NewGuid().ToString("N")[..8], type = "function", function = new { name, arguments } } } }, finish_reason = "tool_calls" } },
                usage = new { prompt_tokens = 100, completion_tokens = 20, total_tokens = 120 },
            });
        }
        if (body.TryGetProperty("stream", out var stream) && stream.GetBoolean())
        {
            http.Response.ContentType = "text/event-stream";
            foreach (var word in Reply.Split(' '))
            {
                var chunk = new { id = "c1", @object = "chat.completion.chunk", created = 1, model, choices = new[] { new { index = 0, delta = new { content = word + " " }, finish_reason = (string?)null } } };
                await http.Response.WriteAsync($"data: {JsonSerializer.Serialize(chunk)}\n\n");
                await http.Response.Body.FlushAsync();
                await Task.Delay(5);
            }
            var end = new { id = "c1", @object = "chat.completion.chunk", created = 1, model, choices = new[] { new { index = 0, delta = new { }, finish_reason = "stop" } }, usage = new { prompt_tokens = 11, completion_tokens = 7, total_tokens = 18 } };
            await http.Response.WriteAsync($"data: {JsonSerializer.Serialize(end)}\n\ndata: [DONE]\n\n");
            return Results.Empty;
        }
        return Results.Json(new
        {
            id = "chatcmpl-fake",
            @object = "chat.completion",
            created = 1,
            model,
            choices = new[] { new { index = 0, message = new { role = "assistant", content = Reply }, finish_reason = "stop" } },
            usage = new { prompt_tokens = 1000, completion_tokens = 500, total_tokens = 1500 },
        });
    }

    private async Task<IResult> Anthropic(HttpContext http)
    {
        var (body, refusal, _) = await Take(http);
        if (refusal is not null)
        {
            return refusal;
        }
        return Results.Json(new
        {
            id = "msg_fake",
            type = "message",
            role = "assistant",
            model = body.GetProperty("model").GetString(),
            content = new[] { new { type = "text", text = Reply } },
            stop_reason = "end_turn",
            stop_sequence = (string?)null,
            usage = new { input_tokens = 200, output_tokens = 100 },
        });
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
