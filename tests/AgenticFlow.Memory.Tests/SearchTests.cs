using AgenticFlow.Memory.Search;

namespace AgenticFlow.Memory.Tests;

public sealed class SearchTests
{
    [Fact]
    public void Bm25_RanksTheRarerTermHigher_AndMatchesWordForms()
    {
        var index = new KeywordIndex();
        index.Add("common", "the deploy went fine and the deploy was quick");
        index.Add("rare", "the kubelet crashed during the deploy");
        index.Add("other", "lunch is at noon");

        var results = index.Search("kubelet deploys", 10, _ => true);

        Assert.Equal("rare", results[0].Id);
        Assert.Equal(2, results.Count);
        Assert.DoesNotContain(results, r => r.Id == "other");
        Assert.Empty(index.Search("kubelet", 10, id => id != "rare"));
    }

    [Fact]
    public void Bm25_ForgetsRemovedDocuments()
    {
        var index = new KeywordIndex();
        index.Add("x", "postgres vacuum settings");
        index.Remove("x");

        Assert.Empty(index.Search("postgres", 10, _ => true));
        Assert.Equal(0, index.Count);
    }

    [Fact]
    public void RankFusion_FavoursWhatBothRankingsAgreeOn()
    {
        var fused = RankFusion.Fuse(["a", "b", "c"], ["d", "b", "e"]);

        Assert.Equal("b", fused[0].Id);
        Assert.Equal(1.0 / 62 + 1.0 / 62, fused[0].Score, 10);
        Assert.Equal(["b", "a", "d", "c", "e"], fused.Select(f => f.Id));
    }

    [Fact]
    public void VectorIndex_SavesAndLoadsWithItsKeys_AndRefusesAFileWhoseKeysDoNotMatch()
    {
        var folder = Directory.CreateTempSubdirectory("memory-index-test-").FullName;
        try
        {
            var path = Path.Combine(folder, "index.usearch");
            using (var index = new VectorIndex(3))
            {
                index.Add(1, [1, 0, 0]);
                index.Add(2, [0, 1, 0]);
                index.SaveIfChanged(path);
            }
            using var loaded = new VectorIndex(3);
            Assert.True(loaded.TryLoad(path, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance));
            Assert.Equal("file", loaded.Source);
            Assert.Equal(1UL, loaded.Search([0.9f, 0.1f, 0], 1)[0].Key);

            File.WriteAllBytes(path + ".keys", BitConverter.GetBytes(7UL));
            using var refused = new VectorIndex(3);
            Assert.False(refused.TryLoad(path, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance));
            Assert.Equal(0, refused.Count);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
