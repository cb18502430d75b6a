using System.Net.Http.Json;
using System.Text.Json;
using AgenticFlow.Memory.Domain;
using AgenticFlow.Memory.Search;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Memory.Graph;

/// <summary>
/// Reads entities and relations from a stored memory's text by asking an LLM through the providers service (Dapr
/// service invocation), and adds them to the graph as <c>extracted</c>, with the memory as provenance. Runs from the
/// <c>memory.stored</c> event, never in the write path; once per memory (a repeated event finds its extraction done).
/// A provider failure throws, so the event is delivered again; an answer that is not the JSON asked for extracts nothing.
/// </summary>
public sealed partial class GraphExtractor(DaprClient dapr, MemoryIndex index, GraphStore graph, IOptions<MemoryOptions> options, TimeProvider time, ILogger<GraphExtractor> logger)
{
    public const string Instructions =
        "Extract the named entities and the relations between them from the user's text. Answer with JSON only, in the form " +
        "{\"entities\":[{\"name\":\"...\",\"type\":\"person|organisation|place|system|concept|other\"}]," +
        "\"relations\":[{\"subject\":\"...\",\"predicate\":\"snake_case_verb\",\"object\":\"...\"}]}. " +
        "Use names exactly as written in the text. No relation without both entities.";

    private sealed record Extracted(List<ExtractedEntity>? Entities, List<ExtractedRelation>? Relations);
    private sealed record ExtractedEntity(string? Name, string? Type);
    private sealed record ExtractedRelation(string? Subject, string? Predicate, string? Object);

    /// <summary>Extracts from one memory; answers how many entities and relations were added (0 when none, or when done before).</summary>
    public async Task<int> ExtractAsync(string memoryId, CancellationToken ct)
    {
        if (index.Get(memoryId) is not { } memory)
        {
            return 0;
        }
        if (graph.Read(g => g.Relations.SelectMany(r => r.Provenance).Concat(g.Entities.SelectMany(e => e.Provenance))
            .Any(p => p.MemoryId == memoryId && p.Source == Provenance.Extracted)))
        {
            return 0;
        }
        var request = new
        {
            messages = new[] { new { role = "system", content = Instructions }, new { role = "user", content = memory.SearchText } },
            model = options.Value.Extraction.Model,
            options = new { responseFormat = "json", temperature = 0.0 },
            caller = memory.AgentId,
        };
        using var http = dapr.CreateInvokableHttpClient(options.Value.Extraction.ProvidersAppId);
        using var response = await http.PostAsJsonAsync("/api/v1/providers/complete", request, ct);
        response.EnsureSuccessStatusCode();
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
        var text = answer.TryGetProperty("text", out var t) ? t.GetString() ?? "" : "";
        if (Parse(text) is not { } found)
        {
            LogUnreadable(memoryId);
            return 0;
        }
        var entities = (found.Entities ?? []).Where(e => Apis.Validation.IsEntityName(e.Name) && e.Type is null or { Length: <= 100 }).Take(64).ToList();
        var relations = (found.Relations ?? []).Where(r => Apis.Validation.CheckRelation(r.Subject, r.Predicate, r.Object, "x", [])).Take(64).ToList();
        if (entities.Count + relations.Count == 0 || index.Get(memoryId) is null)
        {
            return 0;
        }
        var provenance = new Provenance(memory.AgentId, null, memoryId, time.GetUtcNow(), Provenance.Extracted);
        await graph.ChangeAsync((g, change) =>
        {
            foreach (var e in entities)
            {
                g.MergeEntity(e.Name!, e.Type, null, provenance, change);
            }
            foreach (var r in relations)
            {
                g.AddRelation(r.Subject!, r.Predicate!, r.Object!, null, null, provenance, change);
            }
            return 0;
        }, ct);
        return entities.Count + relations.Count;
    }

    /// <summary>The JSON object in a model's answer (models wrap it in prose or code fences now and then), or null.</summary>
    private static Extracted? Parse(string text)
    {
        var start = text.IndexOf('{');
        var end = text.LastIndexOf('}');
        if (start < 0 || end <= start)
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize<Extracted>(text[start..(end + 1)], Storage.Json.Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The model's answer for memory {MemoryId} held no readable entities or relations; nothing extracted")]
    private partial void LogUnreadable(string memoryId);
}
