using System.Text.Json;
using System.Text.RegularExpressions;
using AgenticFlow.Agents.Actors;
using AgenticFlow.Agents.Domain;
using AgenticFlow.ServiceDefaults;

namespace AgenticFlow.Agents.Apis;

/// <summary>Turns requests into domain values, naming every field that is wrong. Nothing is stored unless this says so.</summary>
public static partial class RequestRules
{
    public const int MaxCapabilities = 50, MaxLabels = 32, MaxTools = 32, MaxPromptChars = 20_000, MaxJsonBytes = 256 * 1024;

    /// <summary>Agent, task and round ids: path-safe, no dots first, at most 64 characters.</summary>
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
    public static partial Regex IdPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ToolNamePattern();

    public static bool IsId(string? id) => id is not null && IdPattern().IsMatch(id);

    public static Dictionary<string, string[]> Register(RegisterAgentRequest? r, out AgentRecord? agent)
    {
        var errors = new Dictionary<string, string[]>();
        agent = null;
        if (r is null)
        {
            errors["body"] = ["a JSON object is required"];
            return errors;
        }
        if (r.Id is not null && !IsId(r.Id)) { errors["id"] = ["id is 1-64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit"]; }
        else if (r.Id is not null && ReservedNames.IsReservedAgentId(r.Id)) { errors["id"] = [$"id {r.Id} is reserved by the platform (a service's app id or a word of its routes)"]; }
        if (string.IsNullOrWhiteSpace(r.Name) || r.Name.Length > 200) { errors["name"] = ["name is required, at most 200 characters"]; }
        if (r.Kind is not (AgentKinds.Llm or AgentKinds.External or AgentKinds.A2a)) { errors["kind"] = ["kind must be llm, external or a2a"]; }
        var capabilities = new List<Capability>();
        if (r.Capabilities is not { Count: > 0 } || r.Capabilities.Count > MaxCapabilities)
        {
            errors["capabilities"] = [$"between 1 and {MaxCapabilities} capabilities are required"];
        }
        else
        {
            for (var i = 0; i < r.Capabilities.Count; i++)
            {
                var c = r.Capabilities[i];
                if (c?.Name is null || !NamePattern().IsMatch(c.Name)) { errors[$"capabilities[{i}].name"] = ["a capability name is 1-64 letters, digits, '_', '.', ':', '/' or '-'"]; continue; }
                if (c.Proficiency is not { } p || double.IsNaN(p) || p < 0 || p > 1) { errors[$"capabilities[{i}].proficiency"] = ["proficiency is required, between 0 and 1"]; continue; }
                if (c.Version is { Length: 0 or > 32 }) { errors[$"capabilities[{i}].version"] = ["version is 1-32 characters"]; continue; }
                if (capabilities.Any(k => k.Name == c.Name)) { errors[$"capabilities[{i}].name"] = [$"capability {c.Name} is listed twice"]; continue; }
                capabilities.Add(new Capability(c.Name, c.Version, p));
            }
        }
        var max = r.MaxConcurrentTasks ?? 1;
        if (max is < 1 or > 1000) { errors["maxConcurrentTasks"] = ["maxConcurrentTasks is between 1 and 1000"]; }
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (r.Labels is { Count: > MaxLabels }) { errors["labels"] = [$"at most {MaxLabels} labels"]; }
        foreach (var (key, value) in r.Labels ?? [])
        {
            if (!NamePattern().IsMatch(key) || value is null || value.Length > 256) { errors[$"labels.{key}"] = ["a label key is 1-64 letters, digits, '_', '.', ':', '/' or '-'; its value a string of at most 256 characters"]; continue; }
            labels[key] = value;
        }
        LlmSettings? llm = null;
        var id = r.Id ?? Guid.NewGuid().ToString("N");
        if (r.Kind == AgentKinds.Llm)
        {
            llm = Llm(r.Llm, id, errors);
        }
        else if (r.Llm is not null)
        {
            errors["llm"] = ["llm settings are for llm agents only"];
        }
        A2aSettings? a2a = null;
        if (r.Kind == AgentKinds.A2a)
        {
            if (r.A2a?.CardUrl is not { Length: <= 2000 } card || !Uri.TryCreate(card, UriKind.Absolute, out var cardUrl) || cardUrl.Scheme is not ("http" or "https"))
            {
                errors["a2a.cardUrl"] = ["an a2a agent needs a2a.cardUrl, the absolute http(s) URL of its agent card"];
            }
            else
            {
                a2a = new A2aSettings(card);
            }
        }
        else if (r.A2a is not null)
        {
            errors["a2a"] = ["a2a settings are for a2a agents only"];
        }
        if (errors.Count > 0)
        {
            return errors;
        }
        agent = new AgentRecord
        {
            Id = id,
            Name = r.Name!.Trim(),
            Kind = r.Kind!,
            Capabilities = capabilities,
            MaxConcurrentTasks = max,
            Labels = labels,
            Llm = llm,
            A2a = a2a,
        };
        return errors;
    }

    private static LlmSettings? Llm(LlmDto? l, string agentId, Dictionary<string, string[]> errors)
    {
        if (l is null) { errors["llm"] = ["an llm agent needs llm settings with a systemPrompt"]; return null; }
        if (string.IsNullOrWhiteSpace(l.SystemPrompt) || l.SystemPrompt.Length > MaxPromptChars) { errors["llm.systemPrompt"] = [$"systemPrompt is required, at most {MaxPromptChars} characters"]; }
        if (l.Model is { Length: 0 or > 200 }) { errors["llm.model"] = ["model is 1-200 characters"]; }
        if (l.ModelClass is { Length: 0 or > 50 }) { errors["llm.modelClass"] = ["modelClass is 1-50 characters"]; }
        var tools = new List<ToolSpec>();
        if (l.Tools is { Count: > MaxTools }) { errors["llm.tools"] = [$"at most {MaxTools} tools"]; }
        for (var i = 0; i < (l.Tools?.Count ?? 0); i++)
        {
            var t = l.Tools![i];
            if (t?.Name is null || !ToolNamePattern().IsMatch(t.Name)) { errors[$"llm.tools[{i}].name"] = ["a tool name is 1-64 letters, digits, '_' or '-'"]; continue; }
            if (t.Parameters is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null) }) { errors[$"llm.tools[{i}].parameters"] = ["parameters is a JSON schema object"]; continue; }
            if (t.Description is { Length: > 2000 }) { errors[$"llm.tools[{i}].description"] = ["description is at most 2000 characters"]; continue; }
            if (tools.Any(x => x.Name == t.Name)) { errors[$"llm.tools[{i}].name"] = [$"tool {t.Name} is listed twice"]; continue; }
            tools.Add(new ToolSpec(t.Name, t.Description, t.Parameters is { ValueKind: JsonValueKind.Object } p ? p.Clone() : null));
        }
        var servers = McpServers(l.McpServers, agentId, errors);
        return errors.Keys.Any(k => k.StartsWith("llm", StringComparison.Ordinal)) ? null : new LlmSettings(l.Model, l.ModelClass, l.SystemPrompt!, tools) { McpServers = servers };
    }

    public const int MaxMcpServers = 8;

    /// <summary>An MCP token is read only from secrets named for the agent (<c>mcp-{agentId}</c> or
    /// <c>mcp-{agentId}-…</c>), so an agent definition can name neither the platform's own secrets nor another agent's
    /// tokens (the agents service's secret scope also denies the platform's secrets by name).</summary>
    public const string McpTokenSecretPrefix = "mcp-";

    public static bool IsAgentsTokenSecret(string secret, string agentId) =>
        secret == McpTokenSecretPrefix + agentId || secret.StartsWith(McpTokenSecretPrefix + agentId + "-", StringComparison.Ordinal);

    private static List<McpServerSpec> McpServers(List<McpServerDto?>? list, string agentId, Dictionary<string, string[]> errors)
    {
        var servers = new List<McpServerSpec>();
        if (list is { Count: > MaxMcpServers }) { errors["llm.mcpServers"] = [$"at most {MaxMcpServers} MCP servers"]; return servers; }
        for (var i = 0; i < (list?.Count ?? 0); i++)
        {
            var m = list![i];
            var at = $"llm.mcpServers[{i}]";
            if (m?.Name is null || !ToolNamePattern().IsMatch(m.Name)) { errors[at + ".name"] = ["a server name is 1-64 letters, digits, '_' or '-'"]; continue; }
            if (m.Url is null || m.Url.Length > 2000 || !Uri.TryCreate(m.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            {
                errors[at + ".url"] = ["url is the MCP server's absolute http(s) endpoint"];
                continue;
            }
            if (m.TokenSecret is not null && (!IsAgentsTokenSecret(m.TokenSecret, agentId) || !NamePattern().IsMatch(m.TokenSecret)))
            {
                errors[at + ".tokenSecret"] = [$"tokenSecret names the agent's own secret: '{McpTokenSecretPrefix}{agentId}' or '{McpTokenSecretPrefix}{agentId}-…'"];
                continue;
            }
            var approval = m.RequiresApproval ?? [];
            if (approval.Count > MaxTools || approval.Any(t => t is null || (t != "*" && !ToolNamePattern().IsMatch(t))))
            {
                errors[at + ".requiresApproval"] = ["requiresApproval lists tool names (or \"*\" for all), at most 32"];
                continue;
            }
            if (servers.Any(x => x.Name == m.Name)) { errors[at + ".name"] = [$"server {m.Name} is listed twice"]; continue; }
            servers.Add(new McpServerSpec(m.Name, m.Url, m.TokenSecret, approval.Select(t => t!).ToList()));
        }
        return servers;
    }

    public static Dictionary<string, string[]> Approval(ApprovalRequest? r)
    {
        var errors = new Dictionary<string, string[]>();
        if (r is null) { errors["body"] = ["a JSON object is required"]; return errors; }
        if (r.Approved is null) { errors["approved"] = ["approved (true or false) is required"]; }
        if (r.ApprovalId is { Length: 0 or > 200 }) { errors["approvalId"] = ["approvalId is 1-200 characters"]; }
        if (r.Reason is { Length: > 2000 }) { errors["reason"] = ["reason is at most 2000 characters"]; }
        return errors;
    }

    public static Dictionary<string, string[]> State(UpdateStateRequest? r, string? ifMatch, out StateChange? change)
    {
        var errors = new Dictionary<string, string[]>();
        change = null;
        if (r is null)
        {
            errors["body"] = ["a JSON object is required"];
            return errors;
        }
        if (r.Status is null && r.Load is null && r.Custom is null) { errors["body"] = ["give at least one of status, load, custom"]; }
        if (r.Status is not null && !AgentStatuses.Settable.Contains(r.Status)) { errors["status"] = [$"status is one of {string.Join(", ", AgentStatuses.Settable)}"]; }
        if (r.Load is { } load && (double.IsNaN(load) || load < 0 || load > 1)) { errors["load"] = ["load is a fraction of capacity, between 0 and 1"]; }
        if (r.Custom is { Count: > AgentLimits.MaxCustomFields }) { errors["custom"] = [$"at most {AgentLimits.MaxCustomFields} custom fields"]; }
        foreach (var key in r.Custom?.Keys.ToList() ?? [])
        {
            if (!NamePattern().IsMatch(key)) { errors[$"custom.{key}"] = ["a custom field name is 1-64 letters, digits, '_', '.', ':', '/' or '-'"]; }
        }
        if (r.Custom is not null && JsonSerializer.SerializeToUtf8Bytes(r.Custom).Length > 16 * 1024) { errors["custom"] = ["custom fields take at most 16 KiB"]; }
        if (ifMatch is not null && !(ifMatch == "*" || (ifMatch.Length > 2 && ifMatch.StartsWith('"') && ifMatch.EndsWith('"'))))
        {
            errors["If-Match"] = ["If-Match is an ETag in quotes, as GET answered it, or *"];
        }
        if (errors.Count == 0)
        {
            change = new StateChange(r.Status, r.Load, r.Custom, ifMatch);
        }
        return errors;
    }

    public static Dictionary<string, string[]> Result(TaskResultRequest? r, out WorkResult? result)
    {
        var errors = new Dictionary<string, string[]>();
        result = null;
        if (r is null) { errors["body"] = ["a JSON object is required"]; return errors; }
        if (r.Status is not (WorkStatuses.Completed or WorkStatuses.Failed)) { errors["status"] = ["status is completed or failed"]; }
        if (r.Status == WorkStatuses.Failed && string.IsNullOrWhiteSpace(r.Error)) { errors["error"] = ["a failed task says why in error"]; }
        if (r.Error is { Length: > 4000 }) { errors["error"] = ["error is at most 4000 characters"]; }
        if (r.Output is { } output && output.GetRawText().Length > MaxJsonBytes) { errors["output"] = [$"output is at most {MaxJsonBytes} bytes"]; }
        if (errors.Count == 0)
        {
            result = new WorkResult(r.Status!, r.Output is { ValueKind: not JsonValueKind.Null } o ? o.Clone() : null, r.Error);
        }
        return errors;
    }

    public static Dictionary<string, string[]> Task(AssignTaskRequest? r, out WorkItem? work)
    {
        var errors = new Dictionary<string, string[]>();
        work = null;
        if (r is null) { errors["body"] = ["a JSON object is required"]; return errors; }
        if (!IsId(r.TaskId)) { errors["taskId"] = ["taskId is 1-64 letters, digits, '_', '.', ':' or '-'"]; }
        if (r.TeamId is { Length: 0 or > 200 }) { errors["teamId"] = ["teamId is 1-200 characters"]; }
        if (string.IsNullOrWhiteSpace(r.Description) || r.Description.Length > MaxPromptChars) { errors["description"] = [$"description is required, at most {MaxPromptChars} characters"]; }
        if (r.Input is { } input && input.GetRawText().Length > MaxJsonBytes) { errors["input"] = [$"input is at most {MaxJsonBytes} bytes"]; }
        if (r.RequiredCapabilities?.Any(c => c is null || !NamePattern().IsMatch(c)) == true) { errors["requiredCapabilities"] = ["capability names only"]; }
        if (r.Attempt is < 0) { errors["attempt"] = ["attempt is a positive number"]; }
        if (errors.Count == 0)
        {
            work = new WorkItem
            {
                Id = r.TaskId!, Kind = WorkKinds.Task, TaskAttempt = r.Attempt ?? 0, TeamId = r.TeamId, Description = r.Description, Input = r.Input?.Clone(),
                RequiredCapabilities = r.RequiredCapabilities?.Select(c => c!).ToList() ?? [], Deadline = r.Deadline,
            };
        }
        return errors;
    }

    public static Dictionary<string, string[]> Vote(VoteRequest? r, out WorkItem? work)
    {
        var errors = new Dictionary<string, string[]>();
        work = null;
        if (r is null) { errors["body"] = ["a JSON object is required"]; return errors; }
        if (!IsId(r.RoundId)) { errors["roundId"] = ["roundId is 1-64 letters, digits, '_', '.', ':' or '-'"]; }
        if (string.IsNullOrWhiteSpace(r.Proposal) || r.Proposal.Length > MaxPromptChars) { errors["proposal"] = [$"proposal is required, at most {MaxPromptChars} characters"]; }
        if (r.Options is not { Count: >= 2 and <= 50 } || r.Options.Any(o => string.IsNullOrWhiteSpace(o) || o.Length > 200) || r.Options.Distinct().Count() != r.Options.Count)
        {
            errors["options"] = ["between 2 and 50 distinct non-empty options of at most 200 characters"];
        }
        if (errors.Count == 0)
        {
            work = new WorkItem
            {
                Id = "vote:" + r.RoundId, Kind = WorkKinds.Vote, RoundId = r.RoundId, TeamId = r.TeamId, Proposal = r.Proposal,
                Options = r.Options!.Select(o => o!).ToList(), Deadline = r.Deadline,
            };
        }
        return errors;
    }
}
