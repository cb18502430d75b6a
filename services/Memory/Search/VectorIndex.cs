using Cloud.Unum.USearch;

namespace AgenticFlow.Memory.Search;

/// <summary>
/// The approximate-nearest-neighbour index (USearch HNSW, cosine) over every live memory's embedding. It is derived
/// data: saved to a file now and then, loaded at start when the file is there, and filled from the stored records
/// otherwise (or where the file is behind). USearch cannot list its keys, so the keys are saved beside the index.
/// </summary>
public sealed class VectorIndex : IDisposable
{
    private readonly object _gate = new();
    private readonly int _dimensions;
    private USearchIndex _index;
    private HashSet<ulong> _keys = [];
    private bool _dirty;

    public VectorIndex(int dimensions)
    {
        _dimensions = dimensions;
        _index = Create(dimensions);
    }

    /// <summary>Where the index came from at start: <c>file</c>, or <c>rebuilt</c> from the stored memories.</summary>
    public string Source { get; private set; } = "rebuilt";

    public int LoadedFromFile { get; private set; }

    public int Count
    {
        get { lock (_gate) { return _keys.Count; } }
    }

    public int SavedCount { get; private set; }

    private static USearchIndex Create(int dimensions) =>
        // connectivity 16, expansion 128 while adding and 64 while searching: recall@10 above 0.95 on sentence embeddings.
        new(MetricKind.Cos, ScalarKind.Float32, (ulong)dimensions, 16, 128, 64, false);

    /// <summary>Loads the saved index and its keys; a missing, unreadable or mismatched file leaves the index empty.</summary>
    public bool TryLoad(string path, Microsoft.Extensions.Logging.ILogger logger)
    {
        var keysPath = path + ".keys";
        if (!File.Exists(path) || !File.Exists(keysPath))
        {
            return false;
        }
        try
        {
            var loaded = new USearchIndex(path, false);
            var bytes = File.ReadAllBytes(keysPath);
            var keys = new HashSet<ulong>(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(bytes).ToArray());
            if ((int)loaded.Dimensions() != _dimensions || (int)loaded.Size() != keys.Count || keys.Any(k => !loaded.Contains(k)))
            {
                loaded.Dispose();
                MemoryLog.IndexFileMismatch(logger, path);
                return false;
            }
            lock (_gate)
            {
                _index.Dispose();
                (_index, _keys) = (loaded, keys);
                Source = "file";
                LoadedFromFile = SavedCount = keys.Count;
            }
            return true;
        }
        catch (Exception ex) when (ex is USearchException or IOException or ArgumentException)
        {
            MemoryLog.IndexFileUnreadable(logger, ex, path);
            return false;
        }
    }

    public bool Contains(ulong key)
    {
        lock (_gate) { return _keys.Contains(key); }
    }

    public IReadOnlyCollection<ulong> Keys()
    {
        lock (_gate) { return _keys.ToArray(); }
    }

    public void Add(ulong key, float[] vector)
    {
        lock (_gate)
        {
            if (_keys.Contains(key))
            {
                return;
            }
            _index.Add(key, vector);
            _keys.Add(key);
            _dirty = true;
        }
    }

    public void Remove(ulong key)
    {
        lock (_gate)
        {
            if (_keys.Remove(key))
            {
                _index.Remove(key);
                _dirty = true;
            }
        }
    }

    /// <summary>The <paramref name="k"/> nearest keys with cosine similarity (1 - distance), best first.</summary>
    public IReadOnlyList<(ulong Key, float Similarity)> Search(float[] query, int k)
    {
        lock (_gate)
        {
            if (_keys.Count == 0)
            {
                return [];
            }
            var found = _index.Search(query, Math.Min(k, _keys.Count), out var keys, out var distances);
            var results = new List<(ulong, float)>(found);
            for (var i = 0; i < found; i++)
            {
                results.Add((keys[i], 1 - distances[i]));
            }
            return results;
        }
    }

    /// <summary>The stored vector of a key (for exact scoring of small filtered sets), or null.</summary>
    public float[]? Vector(ulong key)
    {
        lock (_gate)
        {
            if (!_keys.Contains(key))
            {
                return null;
            }
            var vector = new float[_dimensions];
            return _index.Get(key, out vector) > 0 ? vector : null;
        }
    }

    /// <summary>Saves to a temporary file and renames it over the old one, so a crash mid-save never leaves a torn index.</summary>
    public void SaveIfChanged(string path)
    {
        lock (_gate)
        {
            if (!_dirty)
            {
                return;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            var keys = _keys.ToArray();
            _index.Save(path + ".tmp");
            File.WriteAllBytes(path + ".keys.tmp", System.Runtime.InteropServices.MemoryMarshal.AsBytes(keys.AsSpan()).ToArray());
            // Keys first: a crash between the two renames leaves keys that do not match the index, which the loader refuses.
            File.Move(path + ".keys.tmp", path + ".keys", overwrite: true);
            File.Move(path + ".tmp", path, overwrite: true);
            _dirty = false;
            SavedCount = keys.Length;
        }
    }

    public void Dispose()
    {
        lock (_gate) { _index.Dispose(); }
    }
}
