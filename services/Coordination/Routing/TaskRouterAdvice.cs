using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.Coordination.Domain;
using AgenticFlow.ServiceDefaults;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Coordination.Routing;

/// <summary>
/// Asks neural's task-router which agent should take a task (Dapr invocation of its inference API), when the task
/// is submitted to a team using the <c>learned</c> strategy, and keeps the answer for the placement (and any later
/// re-placement) of that task. No answer (neural absent, no model deployed, too slow, an error) leaves no advice:
/// the strategy's fallback decides.
/// </summary>
public sealed partial class TaskRouterAdvice(IOptions<CoordinationOptions> options, IConfiguration configuration, ILogger<TaskRouterAdvice> logger)
    : ITaskRouterAdvice, IDisposable
{
    private const int MaxRemembered = 10_000;
    private readonly HttpClient _http = DaprInvocation.Client(configuration, options.Value.NeuralAppId);
    private readonly ConcurrentDictionary<string, (string AgentId, double Confidence)> _advice = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();

    public void Dispose() => _http.Dispose();

    public bool TryGet(string taskId, out string agentId, out double confidence)
    {
        var found = _advice.TryGetValue(taskId, out var advice);
        (agentId, confidence) = found ? advice : ("", 0);
        return found;
    }

    public async Task PrepareAsync(TaskRecord task, CancellationToken ct)
    {
        if (_advice.ContainsKey(task.Id))
        {
            return;
        }
        if (await AskAsync(task.Description, task.RequiredCapabilities, task.Id, ct) is { } answer)
        {
            Remember(task.Id, answer);
        }
    }

    /// <summary>Neural's prediction for a task's text, or null when there is none (within the timeout).</summary>
    public async Task<(string AgentId, double Confidence)?> AskAsync(string description, IReadOnlyList<string> requiredCapabilities, string what, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Value.LearnedTimeoutMs);
        try
        {
            var text = TaskRouterContract.Text(description, requiredCapabilities);
            using var response = await _http.PostAsJsonAsync("api/v1/models/inference", new
            {
                modelId = TaskRouterContract.ModelId,
                inputs = new[] { new Dictionary<string, string> { [TaskRouterContract.TextColumn] = text } },
            }, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                LogNoAdvice(logger, what, (int)response.StatusCode);
                return null;
            }
            var prediction = (await response.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("predictions")[0];
            if (prediction.TryGetProperty("label", out var label) && label.GetString() is { Length: > 0 } agentId)
            {
                var confidence = prediction.TryGetProperty("score", out var score) && score.ValueKind == JsonValueKind.Number ? score.GetDouble() : 0;
                return (agentId, confidence);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException or KeyNotFoundException or InvalidOperationException && !ct.IsCancellationRequested)
        {
            LogUnavailable(logger, what, ex.GetType().Name);
        }
        return null;
    }

    public void Remember(string taskId, (string, double) advice)
    {
        if (_advice.TryAdd(taskId, advice))
        {
            _order.Enqueue(taskId);
        }
        while (_order.Count > MaxRemembered && _order.TryDequeue(out var oldest))
        {
            _advice.TryRemove(oldest, out _);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "No task-router advice for task {TaskId}: neural answered {Status}")]
    private static partial void LogNoAdvice(ILogger logger, string taskId, int status);

    [LoggerMessage(Level = LogLevel.Debug, Message = "No task-router advice for task {TaskId}: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string taskId, string reason);
}
