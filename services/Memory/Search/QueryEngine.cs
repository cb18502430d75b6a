using AgenticFlow.Memory.Domain;
using AgenticFlow.Memory.Graph;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Memory.Search;

public enum QueryMode { Semantic, Keyword, Hybrid }

public sealed record MemoryQuery(string Text, MemoryScope Scope, MemoryFilter Filter, int TopK, QueryMode Mode, int GraphDepth);

public sealed record ScoredMemory(MemoryRecord Memory, double Score, double? SemanticScore, double? KeywordScore);

public sealed record QueryResult(IReadOnlyList<ScoredMemory> Results, GraphView? Graph);

/// <summary>
/// Ranks memories for a question. Semantic: the question is embedded on the query path and compared by cosine
/// similarity, through the HNSW index (widening the search until enough results pass the filters), or exactly when
/// the filtered set is small. Keyword: BM25. Hybrid: reciprocal rank fusion of both rankings.
/// </summary>
public sealed class QueryEngine(MemoryService memories, MemoryIndex index, GraphStore graph, MemoryLoad load, IOptions<MemoryOptions> options, TimeProvider time)
{
    public async Task<QueryResult> QueryAsync(MemoryQuery query, Func<Relation, bool> visible, CancellationToken ct)
    {
        await load.Ready.WaitAsync(ct);
        var now = time.GetUtcNow();
        bool Allowed(MemoryRecord m) => m.IsLive(now) && query.Scope.Contains(m) && query.Filter.Matches(m);
        var depth = query.Mode == QueryMode.Hybrid ? Math.Max(query.TopK * 3, 30) : query.TopK;
        IReadOnlyList<(string Id, double Score)> semantic = [], keyword = [];
        if (query.Mode != QueryMode.Keyword)
        {
            semantic = await SemanticAsync(query, Allowed, depth, ct);
        }
        if (query.Mode != QueryMode.Semantic)
        {
            keyword = index.Keywords.Search(query.Text, depth, id => index.Get(id) is { } m && Allowed(m));
        }
        var semanticScores = semantic.ToDictionary(s => s.Id, s => s.Score, StringComparer.Ordinal);
        var keywordScores = keyword.ToDictionary(s => s.Id, s => s.Score, StringComparer.Ordinal);
        var ranked = query.Mode switch
        {
            QueryMode.Semantic => semantic,
            QueryMode.Keyword => keyword,
            _ => RankFusion.Fuse(semantic.Select(s => s.Id).ToList(), keyword.Select(s => s.Id).ToList()),
        };
        var results = ranked.Take(query.TopK)
            .Select(r => index.Get(r.Id) is { } m
                ? new ScoredMemory(m, r.Score, semanticScores.TryGetValue(r.Id, out var s) ? s : null, keywordScores.TryGetValue(r.Id, out var k) ? k : null)
                : null)
            .OfType<ScoredMemory>().ToList();
        GraphView? view = null;
        if (query.GraphDepth > 0)
        {
            var start = results.SelectMany(r => r.Memory.Entities.Select(e => e.Name)
                .Concat(r.Memory.Relations.SelectMany(x => new[] { x.Subject, x.Object }))).Select(GraphNames.EntityKey).Distinct().ToList();
            view = graph.Read(g => g.Neighbourhood(start, query.GraphDepth, now, false, visible));
        }
        return new QueryResult(results, view);
    }

    private async Task<IReadOnlyList<(string Id, double Score)>> SemanticAsync(MemoryQuery query, Func<MemoryRecord, bool> allowed, int k, CancellationToken ct)
    {
        var vector = await memories.EmbedAsync(query.Text, ct);
        var candidates = index.In(query.Scope).Where(allowed).Take(options.Value.ExactSearchBelow + 1).ToList();
        if (candidates.Count <= options.Value.ExactSearchBelow)
        {
            // A small filtered set (one agent's memories, say) is scored exactly: no approximation, nothing filtered away.
            return candidates
                .Select(m => (m.Id, Score: index.Vectors.Vector(m.VectorKey) is { } v ? Cosine(vector, v) : double.MinValue))
                .Where(s => s.Score > double.MinValue)
                .OrderByDescending(s => s.Score).ThenBy(s => s.Id, StringComparer.Ordinal).Take(k).ToList();
        }
        var results = new List<(string, double)>();
        for (var wanted = Math.Max(k * 4, 64); ; wanted *= 4)
        {
            var found = index.Vectors.Search(vector, wanted);
            results = found.Select(f => (Id: index.IdOf(f.Key), f.Similarity))
                .Where(f => f.Id is not null && index.Get(f.Id) is { } m && allowed(m))
                .Select(f => (f.Id!, (double)f.Similarity)).Take(k).ToList();
            if (results.Count >= k || found.Count < wanted || wanted >= index.Vectors.Count)
            {
                return results;
            }
        }
    }

    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = System.Numerics.Tensors.TensorPrimitives.Dot(a, b);
        double norms = System.Numerics.Tensors.TensorPrimitives.Norm(a) * System.Numerics.Tensors.TensorPrimitives.Norm(b);
        return norms == 0 ? 0 : dot / norms;
    }
}
