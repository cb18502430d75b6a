namespace AgenticFlow.LocalRuntime.Tests.Infrastructure;

/// <summary>The Redis and PostgreSQL servers that tools/test.sh starts on loopback for the test run.</summary>
public static class TestServers
{
    public static string Redis => Required("AGENTICFLOW_TEST_REDIS");

    public static string Postgres => Required("AGENTICFLOW_TEST_POSTGRES");

    private static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{name} is not set: run the tests with 'bash tools/test.sh', which starts Redis and PostgreSQL.");

    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];
}
