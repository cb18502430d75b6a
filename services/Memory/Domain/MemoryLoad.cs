using System.Diagnostics;
using AgenticFlow.Memory.Graph;
using AgenticFlow.Memory.Search;
using AgenticFlow.Memory.Storage;
using Dapr.Client;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Memory.Domain;

/// <summary>
/// Brings the indexes up at start, in the background: loads the saved HNSW index if its file is there and sound,
/// reads every stored memory and the graph, adds to the index what the file lacks (embedding only records stored
/// without a usable embedding), drops what the file has that the store no longer does, and links into the graph any
/// memory whose edges a crash kept from being written. Requests wait for <see cref="Ready"/>. Then it saves the
/// index whenever it changed and sweeps expired memories, every few seconds.
/// </summary>
public sealed class MemoryLoad(
    IServiceProvider services, MemoryStore store, MemoryIndex index, GraphStore graph, IEmbeddingGenerator<string, Embedding<float>> embeddings,
    DaprClient dapr, IOptions<MemoryOptions> options, TimeProvider time, ILogger<MemoryLoad> logger) : BackgroundService
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Ready => _ready.Task;

    public bool IsReady => _ready.Task.IsCompletedSuccessfully;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.Embeddings.WarmUp && embeddings is MiniLmEmbeddingGenerator miniLm)
        {
            _ = miniLm.WarmUp();
        }
        await dapr.WaitForSidecarAsync(stoppingToken);
        while (!IsReady)
        {
            try
            {
                await LoadAsync(stoppingToken);
                _ready.TrySetResult();
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                MemoryLog.LoadFailed(logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(2), time, stoppingToken);
            }
        }
        var memory = services.GetRequiredService<MemoryService>();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Min(options.Value.IndexSaveSeconds, options.Value.SweepSeconds)), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await memory.SweepExpiredAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    MemoryLog.SweepFailed(logger, ex);
                }
                SaveIndex();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        SaveIndex();
    }

    private async Task LoadAsync(CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var path = options.Value.IndexPath;
        index.Vectors.TryLoad(path, logger);
        await graph.LoadAsync(ct);
        var linked = graph.Read(g => g.Relations.SelectMany(r => r.Provenance).Concat(g.Entities.SelectMany(e => e.Provenance))
            .Select(p => p.MemoryId).OfType<string>().ToHashSet(StringComparer.Ordinal));
        var modelId = embeddings.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId;
        var now = time.GetUtcNow();
        var pending = new List<MemoryRecord>();
        int embedded = 0, total = 0;
        await foreach (var record in store.ReadAllAsync(ct))
        {
            if (!record.IsLive(now))
            {
                continue;
            }
            total++;
            if ((record.Entities.Count > 0 || record.Relations.Count > 0) && !linked.Contains(record.Id))
            {
                await graph.ChangeAsync((g, change) => { MemoryService.Link(g, record, null, change); return 0; }, ct);
            }
            if (index.Vectors.Contains(record.VectorKey))
            {
                index.Add(record, null);
            }
            else if (record.Embedding is { } stored && record.EmbeddingModel == modelId)
            {
                index.Add(record, VectorKeys.Decode(stored));
            }
            else
            {
                pending.Add(record);
            }
        }
        // Records without a usable embedding (another model was configured when they were stored) are embedded again, in batches.
        foreach (var batch in pending.Chunk(32))
        {
            var vectors = await embeddings.GenerateAsync(batch.Select(r => r.SearchText), cancellationToken: ct);
            for (var i = 0; i < batch.Length; i++)
            {
                index.Add(batch[i], vectors[i].Vector.ToArray());
            }
            embedded += batch.Length;
        }
        var orphans = index.OrphanVectorKeys();
        foreach (var key in orphans)
        {
            index.Vectors.Remove(key);
        }
        MemoryLog.Loaded(logger, total, embedded, index.Vectors.LoadedFromFile, orphans.Count,
            graph.Read(g => g.EntityCount), graph.Read(g => g.RelationCount), clock.ElapsedMilliseconds);
        SaveIndex();
    }

    /// <summary>Saves the index if it changed; a failure is logged, never fatal (the index is derived data).</summary>
    public void SaveIndex()
    {
        try
        {
            index.Vectors.SaveIfChanged(options.Value.IndexPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Cloud.Unum.USearch.USearchException)
        {
            MemoryLog.IndexSaveFailed(logger, ex, options.Value.IndexPath);
        }
    }
}
