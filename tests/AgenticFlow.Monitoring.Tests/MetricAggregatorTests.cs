using AgenticFlow.Monitoring.Domain;

namespace AgenticFlow.Monitoring.Tests;

public sealed class MetricAggregatorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static MetricPoint Gauge(double seconds, double value, string service = "a") =>
        new("g", service, new Dictionary<string, string>(), T0.AddSeconds(seconds), MetricKind.Gauge, value);

    private static MetricPoint Counter(double seconds, double value, string series = "x") =>
        new("c", "a", new Dictionary<string, string> { ["s"] = series }, T0.AddSeconds(seconds), MetricKind.Counter, value);

    private static MetricPoint Histogram(double seconds, long[] buckets, double sum) =>
        new("h", "a", new Dictionary<string, string>(), T0.AddSeconds(seconds), MetricKind.Histogram, buckets.Sum(), sum, [0.01, 0.1, 1], buckets);

    [Theory]
    [InlineData("avg", 5)]
    [InlineData("sum", 15)]
    [InlineData("min", 1)]
    [InlineData("max", 10)]
    [InlineData("count", 3)]
    [InlineData("p50", 4)]
    public void Gauges_AggregateTheSamplesInsideEachStep(string agg, double expected)
    {
        var series = MetricAggregator.Aggregate([Gauge(1, 4), Gauge(2, 10), Gauge(3, 1), Gauge(12, 100)], T0, T0.AddSeconds(20), TimeSpan.FromSeconds(10), agg);
        var values = Assert.Single(series).Points;
        Assert.Equal(expected, values[0].Value, 6);
        Assert.Equal(T0, values[0].Time);
        Assert.Equal(T0.AddSeconds(10), values[1].Time);
    }

    [Fact]
    public void Counters_AreTheIncreaseOverTheStep_FromTheSampleBeforeIt_AndSurviveARestart()
    {
        // Two series: x goes 100 → 130 → (restart) 5; y goes 50 → 60.
        var points = new[] { Counter(-1, 100), Counter(4, 130), Counter(8, 5), Counter(-1, 50, "y"), Counter(9, 60, "y") };
        var sum = MetricAggregator.Aggregate(points, T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "sum");
        // x: 30 before the restart, then 5 counted again from zero (the last sample after a drop); y: 10.
        Assert.Equal(5 + 10, Assert.Single(Assert.Single(sum).Points).Value, 6);
        var increase = MetricAggregator.Increase([Counter(-1, 100), Counter(4, 130)], T0, T0.AddSeconds(10));
        Assert.Equal(30, increase);
        var rate = MetricAggregator.Aggregate([Counter(-1, 0), Counter(9, 50)], T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "rate");
        Assert.Equal(5, Assert.Single(Assert.Single(rate).Points).Value, 6);
    }

    [Fact]
    public void AStepWithoutSamples_HasNoValue()
    {
        var series = MetricAggregator.Aggregate([Gauge(1, 1)], T0, T0.AddSeconds(30), TimeSpan.FromSeconds(10), "avg");
        Assert.Single(Assert.Single(series).Points);
    }

    [Fact]
    public void Histograms_UseTheBucketIncreases_ForQuantilesCountAndAverage()
    {
        // Before the window: 10 fast observations. In it: 90 more between 10 and 100 ms, 10 between 100 ms and 1 s.
        var before = Histogram(-1, [10, 0, 0, 0], 0.05);
        var last = Histogram(9, [10, 90, 10, 0], 0.05 + 4.5 + 3);
        IReadOnlyList<MetricPoint> points = [before, last];
        double Value(string agg) => Assert.Single(Assert.Single(MetricAggregator.Aggregate(points, T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), agg)).Points).Value;
        Assert.Equal(100, Value("count"), 6);
        Assert.Equal(10, Value("rate"), 6);
        Assert.Equal(0.075, Value("avg"), 6);
        // Rank 50 of 100 falls in the (0.01, 0.1] bucket, 50/90 of the way: 0.01 + 0.09 * 50/90.
        Assert.Equal(0.01 + 0.09 * 50 / 90, Value("p50"), 6);
        // Rank 99 falls in (0.1, 1], 9/10 of the way.
        Assert.Equal(0.1 + 0.9 * 0.9, Value("p99"), 6);
        Assert.Equal(0.01, Value("min"), 6);
        Assert.Equal(1, Value("max"), 6);
    }

    [Fact]
    public void AHistogramWithoutAnEarlierSample_CountsNoIncrease_AsACounterDoes()
    {
        // One sample in the window and none before (monitoring restarted): its lifetime total is not this window's.
        var alone = MetricAggregator.Aggregate([Histogram(5, [10, 90, 10, 0], 7.5)], T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "count");
        Assert.Equal(0, Assert.Single(Assert.Single(alone).Points).Value);
        var counter = MetricAggregator.Aggregate([Counter(5, 1000)], T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "sum");
        Assert.Equal(0, Assert.Single(Assert.Single(counter).Points).Value);
    }

    [Fact]
    public void ASeriesThatBeganInsideTheWindow_CountsFromZero()
    {
        var began = Histogram(5, [2, 3, 0, 0], 0.2) with { Start = T0.AddSeconds(1) };
        var count = MetricAggregator.Aggregate([began], T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "count");
        Assert.Equal(5, Assert.Single(Assert.Single(count).Points).Value);
        var counter = MetricAggregator.Aggregate([Counter(5, 7) with { Start = T0.AddSeconds(2) }], T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "sum");
        Assert.Equal(7, Assert.Single(Assert.Single(counter).Points).Value);
    }

    [Fact]
    public void BucketQuantile_InTheOpenLastBucket_IsTheLastBound()
    {
        Assert.Equal(1, MetricAggregator.BucketQuantile([0.01, 0.1, 1], [0, 0, 0, 5], 0.99));
    }

    [Fact]
    public void Services_AreSeparateSeries()
    {
        var series = MetricAggregator.Aggregate([Gauge(1, 1, "a"), Gauge(1, 3, "b")], T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "avg");
        Assert.Equal(["a", "b"], series.Select(s => s.Service).ToList());
        Assert.Equal([1.0, 3.0], series.Select(s => s.Points[0].Value).ToList());
    }

    private static MetricPoint Tokens(string service, string agent, string model, string type, double seconds, long count, double sum) =>
        new("gen_ai.client.token.usage", service, new Dictionary<string, string> { ["agenticflow.agent.id"] = agent, ["gen_ai.request.model"] = model, ["gen_ai.token.type"] = type },
            T0.AddSeconds(seconds), MetricKind.Histogram, count, sum, [16, 1024], [0, count, 0], Start: T0.AddSeconds(-100));

    [Fact]
    public void GroupedBy_Attributes_EachGroupAggregatesOnlyItsOwnSeries_AndAMissingAttributeIsEmpty()
    {
        // Cumulative token histograms: a1/m1 input 100 → 400 (+300 in the step), a1/m1 output 50 → 80 (+30),
        // a2/m1 input 10 → 30 (+20) on two services (+5 more on the second), and a point without the agent attribute.
        MetricPoint[] points =
        [
            Tokens("providers", "a1", "m1", "input", -1, 1, 100), Tokens("providers", "a1", "m1", "input", 5, 3, 400),
            Tokens("providers", "a1", "m1", "output", -1, 1, 50), Tokens("providers", "a1", "m1", "output", 5, 3, 80),
            Tokens("providers", "a2", "m1", "input", -1, 1, 10), Tokens("providers", "a2", "m1", "input", 5, 2, 30),
            Tokens("agents", "a2", "m1", "input", -1, 1, 10), Tokens("agents", "a2", "m1", "input", 5, 2, 15),
            new("gen_ai.client.token.usage", "providers", new Dictionary<string, string> { ["gen_ai.request.model"] = "m2" }, T0.AddSeconds(5), MetricKind.Histogram, 1, 7, [16, 1024], [1, 0, 0], Start: T0.AddSeconds(1)),
        ];
        var byAgent = MetricAggregator.AggregateBy(points, ["agenticflow.agent.id"], T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "sum");
        Assert.Equal([("", 7.0), ("a1", 330.0), ("a2", 25.0)], byAgent.Select(g => (g.Labels["agenticflow.agent.id"], g.Points.Single().Value)));

        var byAgentModelType = MetricAggregator.AggregateBy(points, ["service", "agenticflow.agent.id", "gen_ai.token.type"], T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "sum");
        Assert.Equal(["agents/a2/input=5", "providers//=7", "providers/a1/input=300", "providers/a1/output=30", "providers/a2/input=20"],
            byAgentModelType.Select(g => $"{g.Labels["service"]}/{g.Labels["agenticflow.agent.id"]}/{g.Labels["gen_ai.token.type"]}={g.Points.Single().Value}"));

        // Counts of observations per model: 2 + 2 + 1 + 1 calls on m1, one on m2.
        var calls = MetricAggregator.AggregateBy(points, ["gen_ai.request.model"], T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "count");
        Assert.Equal([("m1", 6.0), ("m2", 1.0)], calls.Select(g => (g.Labels["gen_ai.request.model"], g.Points.Single().Value)));
        // Without grouping the same points are one series per service, as before.
        Assert.Equal(["agents", "providers"], MetricAggregator.Aggregate(points, T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "sum").Select(s => s.Service));
    }

    [Fact]
    public void TagsThatReadAlikeWhenJoined_AreStillTwoSeries_AndTwoGroups()
    {
        MetricPoint Point(Dictionary<string, string> tags, double seconds, double value) => new("c", "a", tags, T0.AddSeconds(seconds), MetricKind.Counter, value, Start: T0.AddSeconds(-100));
        var joined = new Dictionary<string, string> { ["a"] = "1,b=2" };
        var split = new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" };
        Assert.NotEqual(Point(joined, 0, 0).SeriesKey, Point(split, 0, 0).SeriesKey);
        // Interleaved, as one series they would look like resets; as two each rises by 10.
        MetricPoint[] points = [Point(joined, -1, 100), Point(split, -1, 5), Point(joined, 2, 105), Point(split, 3, 10), Point(joined, 4, 110), Point(split, 5, 15)];
        var groups = MetricAggregator.AggregateBy(points, ["a"], T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "sum");
        Assert.Equal([("1", 10.0), ("1,b=2", 10.0)], groups.Select(g => (g.Labels["a"], g.Points.Single().Value)));
    }

    [Fact]
    public void ASeriesBornLateInItsProcess_CountsItsFirstSample_WhenASiblingWasExportedBeforeIt()
    {
        // One process (start time an hour ago): a1's series exported all along; a2's first appears inside the window
        // with one call in it. a2 did not exist at the earlier export, so its first sample is all new.
        var began = T0.AddHours(-1);
        MetricPoint[] points =
        [
            Tokens("providers", "a1", "m1", "input", -5, 1, 100) with { Start = began }, Tokens("providers", "a1", "m1", "input", 5, 1, 100) with { Start = began },
            Tokens("providers", "a2", "m1", "input", 5, 1, 40) with { Start = began },
        ];
        var sums = MetricAggregator.AggregateBy(points, ["agenticflow.agent.id"], T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "sum");
        Assert.Equal([("a1", 0.0), ("a2", 40.0)], sums.Select(g => (g.Labels["agenticflow.agent.id"], g.Points.Single().Value)));
        var calls = MetricAggregator.AggregateBy(points, ["agenticflow.agent.id"], T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "count");
        Assert.Equal(1.0, calls.Single(g => g.Labels["agenticflow.agent.id"] == "a2").Points.Single().Value);

        // Without that evidence (both first seen at the same export, as after the store began receiving), nothing is assumed.
        MetricPoint[] fresh = [Tokens("providers", "a1", "m1", "input", 5, 1, 100) with { Start = began }, Tokens("providers", "a2", "m1", "input", 5, 1, 40) with { Start = began }];
        var unknown = MetricAggregator.AggregateBy(fresh, ["agenticflow.agent.id"], T0, T0.AddSeconds(10), TimeSpan.FromSeconds(10), "sum");
        Assert.All(unknown, g => Assert.Equal(0.0, g.Points.Single().Value));
    }
}
