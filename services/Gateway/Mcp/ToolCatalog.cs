namespace AgenticFlow.Gateway.Mcp;

/// <summary>
/// One MCP tool: the REST call it makes. Arguments named in the path template fill it, those in
/// <see cref="Query"/> become the query string, <see cref="Control"/> ones steer the tool itself, and the rest is the
/// JSON body, so the input schema is the REST request's body schema plus the path and query parameters.
/// </summary>
public sealed record RestToolSpec(string Name, string Title, string Description, HttpMethod Method, string Path, string InputSchema,
    string[]? Query = null, string[]? Control = null, bool ReadOnly = false)
{
    public IReadOnlyList<string> PathParameters { get; } =
        System.Text.RegularExpressions.Regex.Matches(Path, @"\{(\w+)\}").Select(m => m.Groups[1].Value).ToList();

    public bool HasBody => Method == HttpMethod.Post || Method == HttpMethod.Put;
}

/// <summary>The platform's capabilities as MCP tools: each is a gateway REST route, called as the MCP caller.</summary>
public static class ToolCatalog
{
    public const string RegisterAgent = "register_agent", FindAgents = "find_agents", SubmitTask = "submit_task", GetTask = "get_task",
        StoreMemory = "store_memory", QueryMemory = "query_memory", SendMessage = "send_message",
        StartWorkflow = "start_workflow", GetWorkflowStatus = "get_workflow_status";

    /// <summary>The REST routes of the workflows service (issue #11): a tool whose route the gateway lacks says
    /// the service is not deployed.</summary>
    public const string WorkflowsService = "workflows";

    public static readonly IReadOnlyList<RestToolSpec> Tools =
    [
        new(RegisterAgent, "Register an agent", "Registers an agent (POST /api/v1/agents): an llm agent runs its tasks on a model through the providers service, an external agent pulls them from its messaging queue. Admins and operators only.",
            HttpMethod.Post, "/api/v1/agents", """
            {"type":"object","properties":{
              "id":{"type":"string","description":"Agent id; generated when absent."},
              "name":{"type":"string"},
              "kind":{"type":"string","enum":["llm","external","a2a"]},
              "capabilities":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"version":{"type":"string"},"proficiency":{"type":"number","minimum":0,"maximum":1}},"required":["name"]}},
              "maxConcurrentTasks":{"type":"integer","minimum":1},
              "labels":{"type":"object","additionalProperties":{"type":"string"}},
              "llm":{"type":"object","properties":{"model":{"type":"string"},"modelClass":{"type":"string"},"systemPrompt":{"type":"string"},
                "tools":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"description":{"type":"string"},"parameters":{"type":"object"}},"required":["name"]}},
                "mcpServers":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"url":{"type":"string"},"tokenSecret":{"type":"string"},"requiresApproval":{"type":"array","items":{"type":"string"}}},"required":["name","url"]}}}},
              "a2a":{"type":"object","properties":{"cardUrl":{"type":"string"}},"required":["cardUrl"]}},
             "required":["name","kind","capabilities"]}
            """),
        new(FindAgents, "Find agents", "Lists agents (GET /api/v1/agents), filtered by capability, status or label, with their health, load and availability.",
            HttpMethod.Get, "/api/v1/agents", """
            {"type":"object","properties":{
              "capability":{"type":"string"},"status":{"type":"string","enum":["idle","busy","offline"]},
              "label":{"type":"string","description":"key=value"},"cursor":{"type":"string"},"limit":{"type":"integer","minimum":1,"maximum":500}}}
            """, Query: ["capability", "status", "label", "cursor", "limit"], ReadOnly: true),
        new(SubmitTask, "Submit a task to a team and await its result", "Submits a task to a team (POST /api/v1/teams/{teamId}/tasks), then waits up to waitSeconds (30; 0 returns at once) for it to complete or fail and answers the task with its output.",
            HttpMethod.Post, "/api/v1/teams/{teamId}/tasks", """
            {"type":"object","properties":{
              "teamId":{"type":"string"},"description":{"type":"string"},"input":{},
              "requiredCapabilities":{"type":"array","items":{"type":"string"}},
              "priority":{"type":"string","enum":["critical","high","normal","low"]},
              "deadline":{"type":"string","format":"date-time"},"affinityKey":{"type":"string"},
              "waitSeconds":{"type":"integer","minimum":0,"maximum":300,"description":"How long to wait for the result (not sent to the REST call)."}},
             "required":["teamId","description"]}
            """, Control: ["waitSeconds"]),
        new(GetTask, "Read a task", "A team's task (GET /api/v1/teams/{teamId}/tasks/{taskId}): state, agent, attempts, output, error, history.",
            HttpMethod.Get, "/api/v1/teams/{teamId}/tasks/{taskId}", """
            {"type":"object","properties":{"teamId":{"type":"string"},"taskId":{"type":"string"}},"required":["teamId","taskId"]}
            """, ReadOnly: true),
        new(StoreMemory, "Store a memory", "Stores a memory of an agent (POST /api/v1/memory/{agentId}): an experience, fact or note with tags, outcome, TTL, entities and relations. An agent stores only its own.",
            HttpMethod.Post, "/api/v1/memory/{agentId}", """
            {"type":"object","properties":{
              "agentId":{"type":"string"},"kind":{"type":"string","enum":["experience","fact","note"]},"content":{"type":"string"},
              "task":{"type":"string"},"action":{"type":"string"},"outcome":{"type":"string"},"score":{"type":"number"},"importance":{"type":"number"},
              "tags":{"type":"array","items":{"type":"string"}},"ttlSeconds":{"type":"integer","minimum":1},
              "entities":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"type":{"type":"string"}}}},
              "relations":{"type":"array","items":{"type":"object","properties":{"subject":{"type":"string"},"predicate":{"type":"string"},"object":{"type":"string"},"validFrom":{"type":"string","format":"date-time"},"singleValued":{"type":"boolean"}}}},
              "teamId":{"type":"string"},"extract":{"type":"boolean"}},
             "required":["agentId","kind","content"]}
            """),
        new(QueryMemory, "Query memory", "Searches memories by meaning, keywords or both (POST /api/v1/memory/query).",
            HttpMethod.Post, "/api/v1/memory/query", """
            {"type":"object","properties":{
              "text":{"type":"string"},"agentId":{"type":"string"},"teamId":{"type":"string"},"scope":{"type":"string"},
              "topK":{"type":"integer","minimum":1,"maximum":100},"mode":{"type":"string","enum":["semantic","keyword","hybrid"]},
              "filters":{"type":"object","properties":{"kinds":{"type":"array","items":{"type":"string"}},"kind":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}},"from":{"type":"string","format":"date-time"},"to":{"type":"string","format":"date-time"},"outcome":{"type":"string"}}},
              "graphDepth":{"type":"integer","minimum":0}},
             "required":["text"]}
            """, ReadOnly: true),
        new(SendMessage, "Send a message", "Sends a message to an agent, a topic or a whole team (POST /api/v1/messages), queued by priority.",
            HttpMethod.Post, "/api/v1/messages", """
            {"type":"object","properties":{
              "recipient":{"type":"object","properties":{"kind":{"type":"string","enum":["agent","topic","team"]},"id":{"type":"string"}},"required":["kind","id"]},
              "priority":{"type":"string","enum":["critical","high","normal","low"]},"body":{},
              "ttlSeconds":{"type":"integer","minimum":1},"correlationId":{"type":"string"},"idempotencyKey":{"type":"string"},
              "from":{"type":"string"},"attributes":{"type":"object","additionalProperties":{"type":"string"}}},
             "required":["recipient","body"]}
            """),
        new(StartWorkflow, "Start a workflow run", "Starts a run of a workflow definition (POST /api/v1/workflows/{id}/execute) and answers its run id.",
            HttpMethod.Post, "/api/v1/workflows/{id}/execute", """
            {"type":"object","properties":{"id":{"type":"string","description":"Workflow definition id."},"input":{},"version":{"type":"integer","minimum":1}},"required":["id"]}
            """),
        new(GetWorkflowStatus, "Read a workflow run", "A workflow run's status (GET /api/v1/workflows/{runId}/status).",
            HttpMethod.Get, "/api/v1/workflows/{runId}/status", """
            {"type":"object","properties":{"runId":{"type":"string"}},"required":["runId"]}
            """, ReadOnly: true),
    ];
}
