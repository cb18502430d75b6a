namespace AgenticFlow.Memory.Search;

/// <summary>
/// BM25 (k1 = 1.2, b = 0.75) over the same records the vector index holds: an inverted index of terms to the
/// documents holding them, with each document's length. Terms are lower-cased words with common English
/// suffixes trimmed, so "deploys", "deployed" and "deploying" meet.
/// </summary>
public sealed class KeywordIndex
{
    private const double K1 = 1.2, B = 0.75;
    private readonly object _gate = new();
    private readonly Dictionary<string, Dictionary<string, int>> _postings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (int Length, string[] Terms)> _documents = new(StringComparer.Ordinal);
    private long _totalLength;

    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "for", "with", "by", "is", "are", "was", "were", "be",
        "been", "it", "its", "this", "that", "as", "from", "but", "not", "do", "did", "does", "what", "which", "who", "how",
        "i", "we", "you", "he", "she", "they", "my", "our", "your", "their", "me", "us", "them", "so", "if", "then", "than",
    };

    public int Count
    {
        get { lock (_gate) { return _documents.Count; } }
    }

    public static IReadOnlyList<string> Terms(string text)
    {
        var terms = new List<string>();
        var word = new System.Text.StringBuilder();
        foreach (var c in text.Append(' '))
        {
            if (char.IsLetterOrDigit(c))
            {
                word.Append(char.ToLowerInvariant(c));
            }
            else if (word.Length > 0)
            {
                var w = word.ToString();
                word.Clear();
                if (!StopWords.Contains(w))
                {
                    terms.Add(Stem(w));
                }
            }
        }
        return terms;
    }

    /// <summary>A light suffix trim (not a full Porter stemmer): enough for plurals and simple verb forms.</summary>
    private static string Stem(string w)
    {
        foreach (var suffix in new[] { "ing", "edly", "ed", "ies", "s", "ly" })
        {
            if (w.Length > suffix.Length + 2 && w.EndsWith(suffix, StringComparison.Ordinal) && !(suffix == "s" && w.EndsWith("ss", StringComparison.Ordinal)))
            {
                var stem = w[..^suffix.Length];
                return suffix == "ies" ? stem + "y" : stem;
            }
        }
        return w;
    }

    public void Add(string id, string text)
    {
        var terms = Terms(text).ToArray();
        lock (_gate)
        {
            if (_documents.ContainsKey(id))
            {
                return;
            }
            _documents[id] = (terms.Length, terms);
            _totalLength += terms.Length;
            foreach (var group in terms.GroupBy(t => t, StringComparer.Ordinal))
            {
                if (!_postings.TryGetValue(group.Key, out var docs))
                {
                    _postings[group.Key] = docs = new Dictionary<string, int>(StringComparer.Ordinal);
                }
                docs[id] = group.Count();
            }
        }
    }

    public void Remove(string id)
    {
        lock (_gate)
        {
            if (!_documents.Remove(id, out var doc))
            {
                return;
            }
            _totalLength -= doc.Length;
            foreach (var term in doc.Terms.Distinct(StringComparer.Ordinal))
            {
                if (_postings.TryGetValue(term, out var docs) && docs.Remove(id) && docs.Count == 0)
                {
                    _postings.Remove(term);
                }
            }
        }
    }

    /// <summary>The best <paramref name="k"/> documents for the query among those <paramref name="allowed"/> admits, by BM25 score.</summary>
    public IReadOnlyList<(string Id, double Score)> Search(string query, int k, Func<string, bool> allowed)
    {
        var terms = Terms(query).Distinct(StringComparer.Ordinal).ToList();
        var scores = new Dictionary<string, double>(StringComparer.Ordinal);
        lock (_gate)
        {
            var n = _documents.Count;
            if (n == 0)
            {
                return [];
            }
            var averageLength = Math.Max(1.0, (double)_totalLength / n);
            foreach (var term in terms)
            {
                if (!_postings.TryGetValue(term, out var docs))
                {
                    continue;
                }
                var idf = Math.Log(1 + (n - docs.Count + 0.5) / (docs.Count + 0.5));
                foreach (var (id, tf) in docs)
                {
                    if (!allowed(id))
                    {
                        continue;
                    }
                    var length = _documents[id].Length;
                    var score = idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / averageLength));
                    scores[id] = scores.GetValueOrDefault(id) + score;
                }
            }
        }
        return scores.OrderByDescending(s => s.Value).ThenBy(s => s.Key, StringComparer.Ordinal).Take(k).Select(s => (s.Key, s.Value)).ToList();
    }
}

/// <summary>Reciprocal rank fusion: each list adds 1 / (k + rank) for every id it ranks (k = 60, as in Cormack et al.).</summary>
public static class RankFusion
{
    public const int K = 60;

    public static IReadOnlyList<(string Id, double Score)> Fuse(params IReadOnlyList<string>[] rankings)
    {
        var scores = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var ranking in rankings)
        {
            for (var rank = 0; rank < ranking.Count; rank++)
            {
                scores[ranking[rank]] = scores.GetValueOrDefault(ranking[rank]) + 1.0 / (K + rank + 1);
            }
        }
        return scores.OrderByDescending(s => s.Value).ThenBy(s => s.Key, StringComparer.Ordinal).Select(s => (s.Key, s.Value)).ToList();
    }
}
