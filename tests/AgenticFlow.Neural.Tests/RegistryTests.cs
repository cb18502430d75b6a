using AgenticFlow.Neural.Domain;
using AgenticFlow.Neural.Storage;

namespace AgenticFlow.Neural.Tests;

public class DeploymentTests
{
    private static ModelRecord Model(int versions) => new()
    {
        Id = "m",
        Task = ModelTasks.Binary,
        Versions = Enumerable.Range(1, versions).Select(v => new ModelVersion { Version = v }).ToList(),
    };

    private static readonly DateTimeOffset Now = DateTimeOffset.UnixEpoch;

    [Fact]
    public void Deploy_Canary_Promote_Rollback_MoveTheActiveVersion()
    {
        var model = Model(3);
        Assert.Null(new DeployChange(1, null, false, false).Apply(model, Now));
        Assert.Equal(1, model.Deployment.Active);
        Assert.Null(new DeployChange(2, 20, false, false).Apply(model, Now));
        Assert.Equal((1, 2, 20), (model.Deployment.Active!.Value, model.Deployment.Canary!.Value, model.Deployment.CanaryPercent));
        Assert.Equal("canary", model.Deployment.StageOf(2));
        Assert.Null(new DeployChange(null, null, false, true).Apply(model, Now));
        Assert.Equal((2, (int?)null), (model.Deployment.Active!.Value, model.Deployment.Canary));
        Assert.Equal("archived", model.Deployment.StageOf(1));
        Assert.Null(new DeployChange(null, null, true, false).Apply(model, Now));
        Assert.Equal(1, model.Deployment.Active);
        Assert.Equal(4, model.Deployment.Revision);
        Assert.NotNull(new DeployChange(null, null, true, false).Apply(model, Now));
    }

    [Fact]
    public void Rollback_OfACanary_LeavesTheActiveVersion()
    {
        var model = Model(2);
        new DeployChange(1, null, false, false).Apply(model, Now);
        new DeployChange(2, 50, false, false).Apply(model, Now);
        Assert.Null(new DeployChange(null, null, true, false).Apply(model, Now));
        Assert.Equal((1, (int?)null, 0), (model.Deployment.Active!.Value, model.Deployment.Canary, model.Deployment.CanaryPercent));
    }

    [Theory]
    [InlineData(9, null, "no version 9")]
    [InlineData(1, 20, "another version already active")]
    public void ImpossibleChanges_AreRefused(int version, int? percent, string reason)
    {
        var model = Model(2);
        new DeployChange(1, null, false, false).Apply(model, Now);
        Assert.Contains(reason, new DeployChange(version, percent, false, false).Apply(model, Now));
    }

    [Fact]
    public void Choose_SendsTheCanaryItsShare()
    {
        var deployment = new Deployment { Active = 1, Canary = 2, CanaryPercent = 20 };
        var canary = Enumerable.Range(0, 100).Count(roll => deployment.Choose(roll) == 2);
        Assert.Equal(20, canary);
    }
}

public class ArtifactStoreTests
{
    [Fact]
    public async Task Folder_RoundTripsBytes_AndRefusesKeysOutsideIt()
    {
        var root = Path.Combine(Path.GetTempPath(), "neural-artifacts-" + Guid.NewGuid().ToString("N"));
        try
        {
            var store = new FolderArtifactStore(root);
            var bytes = new byte[100_000];
            new Random(1).NextBytes(bytes);
            await store.PutAsync("models/m/versions/j.zip", bytes, CancellationToken.None);
            Assert.Equal(bytes, await store.GetAsync("models/m/versions/j.zip", CancellationToken.None));
            Assert.Null(await store.GetAsync("models/m/none.zip", CancellationToken.None));
            await Assert.ThrowsAsync<ArgumentException>(() => store.PutAsync("../escape.txt", bytes, CancellationToken.None));
            await store.DeleteAsync("models/m/versions/j.zip", CancellationToken.None);
            Assert.Null(await store.GetAsync("models/m/versions/j.zip", CancellationToken.None));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}

public class TabularTests
{
    [Fact]
    public void Csv_WithQuotesCommasAndNewlines_Parses()
    {
        var errors = new List<string>();
        var data = Tabular.FromCsv("text,label\n\"hello, \"\"world\"\"\",a\r\n\"two\nlines\",b\n", 100, errors);
        Assert.Empty(errors);
        Assert.Equal(["text", "label"], data.Columns);
        Assert.Equal("hello, \"world\"", data.Rows[0][0]);
        Assert.Equal("two\nlines", data.Rows[1][0]);
        // And back: the staged CSV reads as the same table.
        var again = Tabular.FromCsv(System.Text.Encoding.UTF8.GetString(data.ToCsv()), 100, errors);
        Assert.Equal(data.Rows, again.Rows);
    }

    [Theory]
    [InlineData("a,b\n1,2,3\n", "3 fields")]
    [InlineData("a,b\n\"1,2\n", "quoted field")]
    [InlineData("a,a\n1,2\n", "distinct")]
    [InlineData("a,b\n", "at least one data row")]
    [InlineData("a,b\n1,x\"y\n", "quote inside")]
    public void BadCsv_IsRefusedWithAReason(string csv, string reason)
    {
        var errors = new List<string>();
        Tabular.FromCsv(csv, 100, errors);
        Assert.Contains(errors, e => e.Contains(reason));
    }
}

public class TaskRouterDataTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.UnixEpoch;

    [Fact]
    public void Rows_PairTaskTextAndCapabilitiesWithTheAgent()
    {
        var rows = TaskRouterData.Rows([new CompletedTask("t1", "review the pull request", ["review"], "a1", null, null)]);
        var row = Assert.Single(rows);
        Assert.Equal("review the pull request cap:review", row["text"]);
        Assert.Equal("a1", row["agent"]);
    }

    [Fact]
    public void WhereSeveralAgentsDidTheSameTask_TheFasterCompletionsAreKept()
    {
        CompletedTask Done(string id, string agent, int seconds) => new(id, "summarise", [], agent, T0, T0.AddSeconds(seconds));
        var rows = TaskRouterData.Rows([Done("1", "slow", 60), Done("2", "fast", 5), Done("3", "fast", 6), Done("4", "slow", 50)]);
        Assert.All(rows, r => Assert.Equal("fast", r["agent"]));
        Assert.NotEmpty(rows);
    }
}
