using System.Text.Json;

namespace AgenticFlow.Gateway.Mcp;

/// <summary>Waits for a submitted task to finish by reading it through the gateway (as the caller), with a growing
/// interval between reads, until it completes or fails or the wait is over.</summary>
public static class TaskAwaiter
{
    public static async Task<ModelContextProtocol.Protocol.CallToolResult> AwaitAsync(GatewaySelf self, HttpContext caller, TimeProvider time, string teamId,
        string submitted, TimeSpan wait, CancellationToken ct)
    {
        using var accepted = JsonDocument.Parse(submitted);
        if (wait <= TimeSpan.Zero || !accepted.RootElement.TryGetProperty("taskId", out var id) || id.GetString() is not { } taskId)
        {
            return RestTool.Success(submitted);
        }
        var path = $"/api/v1/teams/{Uri.EscapeDataString(teamId)}/tasks/{Uri.EscapeDataString(taskId)}";
        var deadline = time.GetUtcNow() + wait;
        var interval = TimeSpan.FromMilliseconds(50);
        string last = submitted;
        while (true)
        {
            using (var response = await self.SendAsync(caller, HttpMethod.Get, path, null, ct))
            {
                var text = await response.Content.ReadAsStringAsync(ct);
                if (response.IsSuccessStatusCode)
                {
                    last = text;
                    using var task = JsonDocument.Parse(text);
                    if (task.RootElement.TryGetProperty("state", out var state) && state.GetString() is "completed" or "failed")
                    {
                        return RestTool.Success(text);
                    }
                }
                else
                {
                    return RestTool.Error($"Reading task {taskId} answered {(int)response.StatusCode}.", text);
                }
            }
            var left = deadline - time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                // Still running: the task as last read, so the caller can follow it with get_task.
                return RestTool.Success(last);
            }
            await Task.Delay(interval < left ? interval : left, time, ct);
            interval = TimeSpan.FromMilliseconds(Math.Min(interval.TotalMilliseconds * 2, 1000));
        }
    }
}
