namespace AgenticFlow.Benchmarks;

/// <summary>The Redis-profile components every benchmark runs on, written into a temporary resources folder.</summary>
public static class BenchComponents
{
    public static string Write(string redisAddress, bool pubsub, string? secretsJson)
    {
        var folder = Directory.CreateTempSubdirectory("agenticflow-bench-").FullName;
        // Marked as the actor state store too, so actor and workflow benchmarks can run on the same profile.
        var yaml = new List<string>
        {
            EmbeddedProfile
                ? Component("statestore", "state.sqlite", ("connectionString", Path.Combine(folder, "state.db")), ("actorStateStore", "true"))
                : Component("statestore", "state.redis", ("redisHost", redisAddress), ("actorStateStore", "true")),
        };
        if (pubsub)
        {
            yaml.Add(EmbeddedProfile
                ? Component("pubsub", "pubsub.in-memory")
                : Component("pubsub", "pubsub.redis", ("redisHost", redisAddress), ("concurrency", "32")));
        }
        if (secretsJson is not null)
        {
            var file = Path.Combine(folder, "secrets.json");
            File.WriteAllText(file, secretsJson);
            yaml.Add(Component("secretstore", "secretstores.local.file", ("secretsFile", file)));
        }
        File.WriteAllText(Path.Combine(folder, "components.yaml"), string.Join("---\n", yaml));
        return folder;
    }

    /// <summary>
    /// BENCH_PROFILE=embedded runs on what <c>bash tools/run.sh</c> gives a new user (SQLite state, in-memory pub/sub)
    /// instead of the Redis profile.
    /// </summary>
    public static bool EmbeddedProfile => Environment.GetEnvironmentVariable("BENCH_PROFILE") == "embedded";

    public static string ProfileName => EmbeddedProfile ? "embedded profile (SQLite state, in-memory pub/sub)" : "Redis profile";

    /// <summary>The Redis the benchmark runs on (started by tools/bench.sh), and how long each scenario runs (BENCH_SECONDS, default 5).</summary>
    public static (string RedisAddress, double Seconds) Settings(string command) => (
        Environment.GetEnvironmentVariable("AGENTICFLOW_TEST_REDIS") ?? throw new InvalidOperationException($"AGENTICFLOW_TEST_REDIS is not set: run tools/bench.sh {command}"),
        double.TryParse(Environment.GetEnvironmentVariable("BENCH_SECONDS"), out var seconds) ? seconds : 5);

    /// <summary>The repository the benchmark was built in, where the services' builds are.</summary>
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AgenticFlow.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("run the benchmark from a build inside the repository");
    }

    /// <summary>
    /// Polls until <paramref name="answers"/> says the services on a path serve (a refused connection counts as not
    /// yet), every 200 ms for at most <paramref name="within"/> (default one minute); then gives up.
    /// </summary>
    public static async Task WaitUntilServing(string what, Func<Task<bool>> answers, TimeSpan? within = null)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        var limit = within ?? TimeSpan.FromMinutes(1);
        while (true)
        {
            try
            {
                if (await answers())
                {
                    return;
                }
            }
            catch (HttpRequestException) when (deadline.Elapsed < limit)
            {
            }
            if (deadline.Elapsed >= limit)
            {
                throw new TimeoutException($"{what} did not come up within {limit.TotalSeconds:F0} s");
            }
            await Task.Delay(200);
        }
    }

    /// <summary>True when a GET of <paramref name="path"/> answers 2xx.</summary>
    public static async Task<bool> Answers(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        return response.IsSuccessStatusCode;
    }

    private static string Component(string name, string type, params (string Name, string Value)[] metadata) =>
        $"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: {type}\n  version: v1\n  metadata:\n"
        + string.Concat(metadata.Select(m => $"  - name: {m.Name}\n    value: \"{m.Value}\"\n"));
}
